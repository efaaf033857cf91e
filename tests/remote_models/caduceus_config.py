"""Caduceus pattern, its config: a module of its own that imports nothing unusual (as the real one)."""

from transformers import PretrainedConfig


class CaduceusLikeConfig(PretrainedConfig):
    model_type = "caduceus"
