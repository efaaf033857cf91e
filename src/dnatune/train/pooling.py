"""How a sequence classifier summarises its token states, per model family.

`finetune.pooling` asks for "mean" (the masked mean of the final token states)
or "first" (the stock [CLS]/<cls> token). Masked-LM pre-training never trains
the [CLS] state, so a small pre-trained model's first token carries less than a
random model's (measured on the demo); the mean of the token states is what
MLM does train. How "mean" is had depends on the family (families.Family
.mean_pooling): a hook on the backbone for heads that read token 0 (BERT, ESM,
DNABERT-2, GENA-LM, NT v2), the family's own switch (ModernBERT's
classifier_pooling), or nothing to do (Caduceus always averages; decoders read
their last token).
"""

from __future__ import annotations

import inspect
import logging

from dnatune.train.families import Family, family_of

logger = logging.getLogger(__name__)

POOLINGS = ("mean", "first")
POOLING_KEY = "dnatune_pooling"  # recorded in the fine-tuned model's config.json


def requested_pooling(config, pooling: str | None) -> str:
    """`pooling`, else what a fine-tuned model recorded, else the family's own switch, else first."""
    if pooling:
        return pooling
    if getattr(config, POOLING_KEY, None):
        return getattr(config, POOLING_KEY)
    family = family_of(config)
    if family and family.pooling_config:
        key, mean, _ = family.pooling_config
        return "mean" if getattr(config, key, None) == mean else "first"
    return "first"


def configure_pooling(config, pooling: str) -> None:
    """Before the model is built: switch a family's own pooling (ModernBERT) in its config."""
    family = family_of(config)
    if family and family.pooling_config:
        key, mean, first = family.pooling_config
        setattr(config, key, mean if pooling == "mean" else first)


def apply_pooling(model, pooling: str, decoder: bool) -> str:
    """Give a built classifier the requested pooling; return the one it has: mean, first or last.

    A model whose family the table does not know keeps its stock head (last token for a
    decoder, else the first token), with a warning when mean pooling was asked for.
    """
    family = family_of(model.config)
    mode = family.mean_pooling if family else ("none" if decoder else "unknown")
    if mode == "none":
        return "last"
    if mode == "config":
        return pooling
    if mode == "native":
        if pooling == "first":
            logger.warning(
                "%s: its head averages every position; pooling 'first' is ignored", _name(family)
            )
        return "mean"
    if pooling == "mean" and mode == "hook" and _has_encoder(model):
        mean_pool_first_token(model)
        return "mean"
    if pooling == "mean":
        logger.warning(
            "%s (%s): mean pooling is not known for this model; its head reads the first token",
            type(model).__name__,
            _name(family),
        )
    return "first"


def _name(family: Family | None) -> str:
    return family.name if family else "unknown family"


def _has_encoder(model) -> bool:
    return getattr(model.base_model, "encoder", None) is not None


def mean_pool_first_token(model) -> None:
    """Make an encoder classifier's head read the mean of the non-pad token states.

    The heads of these families (BERT's pooler, ESM's classification head,
    DNABERT-2's and GENA-LM's poolers) read the first token of the encoder's
    output; two hooks on the backbone put the masked mean of all token states
    there instead, so the head's weights, their names (LoRA's modules_to_save,
    probe) and saving stay as the family has them. The mask is the backbone's
    `attention_mask` argument, however its forward orders its parameters.
    """
    import torch

    backbone = model.base_model
    parameters = inspect.signature(backbone.forward).parameters
    state = {}

    def keep_mask(module, args, kwargs):
        if "attention_mask" in kwargs:
            state["mask"] = kwargs["attention_mask"]
            return
        names = [n for n in parameters if parameters[n].kind is not inspect.Parameter.VAR_KEYWORD]
        given = dict(zip(names, args, strict=False))
        state["mask"] = given.get("attention_mask")

    def pool(module, args, output):
        # transformers returns a ModelOutput (or a tuple without return_dict); DNABERT-2's
        # encoder returns a list of layer outputs, the last one read by its pooler
        if isinstance(output, torch.Tensor):
            return masked_mean_first(output, state.get("mask"))
        if isinstance(output, list):
            index = len(output) - 1
        elif isinstance(output, tuple):
            index = 0
        else:
            index = "last_hidden_state"
        pooled = masked_mean_first(output[index], state.get("mask"))
        if isinstance(output, tuple):
            return (pooled, *output[1:])
        output[index] = pooled
        return output

    backbone.register_forward_pre_hook(keep_mask, with_kwargs=True)
    backbone.encoder.register_forward_hook(pool)


def masked_mean_first(hidden, mask):
    """`hidden` (batch, length, dim) with position 0 replaced by the mean over the mask's tokens."""
    import torch

    if mask is None or mask.dim() != 2:
        weights = hidden.new_ones(hidden.shape[:2])
    else:
        weights = mask.to(hidden.dtype)
    weights = weights.unsqueeze(-1)
    mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    return torch.cat([mean.unsqueeze(1), hidden[:, 1:]], dim=1)
