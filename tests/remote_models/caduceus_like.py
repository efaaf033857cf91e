"""Caduceus pattern: remote code that imports mamba_ssm, which a CPU machine does not have.

Caduceus's modelling code imports `mamba_ssm` (CUDA kernels) at module level, so
transformers refuses to load it where that package is missing; fetching such a
model must stop with an error naming the package. Its config (caduceus_config.py)
and tokenizer load without it, as the real ones do. The classes below are never
reached without mamba_ssm; they only make the auto_map entries real.
"""

from __future__ import annotations

from mamba_ssm.modules.mamba_simple import Mamba  # noqa: F401  (the point of this fixture)
from transformers import PreTrainedModel

from .caduceus_config import CaduceusLikeConfig


class CaduceusLikeForMaskedLM(PreTrainedModel):
    config_class = CaduceusLikeConfig


class CaduceusLikeForSequenceClassification(PreTrainedModel):
    config_class = CaduceusLikeConfig
