"""Packing for pre-training: a batch's windows laid end to end in one row, without padding.

Like transformers' DataCollatorWithFlattening, but after dnatune's own collator, so that
the MLM masks (seeded per window, k-mer spans) stay what they are unpacked: the padded
batch is flattened along its attention mask, position ids restart at 0 for each window,
and no attention mask is passed. The model must then keep the windows apart by itself,
which is exact only where transformers builds the attention from the position ids
(read in transformers 5's source, masking_utils and the modelling files):

- causal models whose mask comes from `create_causal_mask` (Llama, GPT-2): with no
  attention mask and no KV cache it finds the sequence starts in the position ids and
  masks across them, under every attention implementation (eager, SDPA, flash-attention 2);
- encoders (BERT) only under flash-attention 2, whose varlen kernel reads the sequence
  starts from the position ids passed down to it; their eager and SDPA masks
  (`create_bidirectional_mask`) take no position ids, so windows would attend to each
  other there;
- nothing else: remote code, absolute positions that start past 0 (RoBERTa, ESM; the
  flattening collator's warning), rotary ESM, models without an attention mask.

Fine-tuning never packs: a sequence classification head reads one state per row (the
first, last or mean token), so a packed row would be scored as one sequence. It keeps
length-grouped dynamic padding (finetune.py).
"""

from __future__ import annotations

import logging

import torch

from dnatune.train.families import family_of

logger = logging.getLogger(__name__)

# model types whose causal mask builder reads packed sequences from the position ids
PACKED_BY_MASK = ("llama", "gpt2")
# model types that keep packed sequences apart under flash-attention 2 only
PACKED_BY_FLASH_ATTENTION = ("bert",)
CHOICES = ("auto", True, False)
FLASH_ATTENTION = "flash_attention_2"


def packing_support(model) -> tuple[bool, str]:
    """(whether a packed batch gives this model exactly the unpacked losses, why)."""
    config = model.config
    attention = getattr(config, "_attn_implementation", None) or "eager"
    family = family_of(config)
    if family is not None and family.remote:
        return False, f"{family.name} is remote code, whose attention dnatune cannot vouch for"
    if config.model_type in PACKED_BY_MASK:
        return True, f"{config.model_type}'s causal mask keeps packed windows apart"
    if config.model_type in PACKED_BY_FLASH_ATTENTION:
        if attention == FLASH_ATTENTION:
            return True, "flash-attention 2 keeps packed windows apart"
        return False, f"{config.model_type} under {attention} attention would attend across windows"
    return False, f"model type {config.model_type} is not known to keep packed windows apart"


def use_packing(setting, model, where: str = "pretrain.packing") -> bool:
    """Whether to pack. auto: where exact and fast, under flash-attention 2 (switched on where
    the package and a CUDA GPU are there); true: wherever exact; not exact is an error.

    Exact is not enough for auto: under eager or SDPA attention a packed row of B windows
    of length L attends over a dense (B*L)^2 mask instead of B*L^2, which is slower than
    padding (10x for Llama on CPU in benchmarks/pretrain.py). flash-attention 2's varlen
    kernel costs what the windows alone cost. Packing turns the model's KV cache off
    (training needs none): with one, create_causal_mask does not look for packed sequences.
    """
    if setting not in CHOICES or (isinstance(setting, int) and not isinstance(setting, bool)):
        raise ValueError(f"key '{where}': {setting!r} is not one of auto, true, false")
    if setting is False:
        return False
    if _flash_attention_usable(model):
        model.set_attn_implementation(FLASH_ATTENTION)
    exact, reason = packing_support(model)
    if setting is True and not exact:
        raise ValueError(f"key '{where}': packing is not exact for this model ({reason}); use auto")
    fast = getattr(model.config, "_attn_implementation", None) == FLASH_ATTENTION
    packed = exact and (fast or setting is True)
    if exact and not packed:
        reason += f", but without {FLASH_ATTENTION} packing would be slower than padding"
    logger.info("packing %s: %s", "on" if packed else "off, dynamic padding", reason)
    if packed and hasattr(model.config, "use_cache"):
        model.config.use_cache = False
    return packed


def _flash_attention_usable(model) -> bool:
    """A CUDA GPU, the flash-attn package, and a model type that packs under it."""
    from transformers.utils import is_flash_attn_2_available

    packs = model.config.model_type in PACKED_BY_MASK + PACKED_BY_FLASH_ATTENTION
    return packs and torch.cuda.is_available() and is_flash_attn_2_available()


class PackedBatches:
    """A padding collator's batches flattened into one row, padding dropped.

    `objective` clm: the label of each window's first token becomes -100, so that no
    window's last token is scored on the next window's first (the unpacked loss never
    scores a first token either).
    """

    def __init__(self, collator, objective: str):
        self.collator, self.objective = collator, objective

    def __call__(self, examples):
        batch = self.collator(examples)
        mask = batch.pop("attention_mask").bool()
        lengths = mask.sum(1)
        packed = {
            key: value[mask].unsqueeze(0)
            for key, value in batch.items()
            if torch.is_tensor(value) and value.shape == mask.shape
        }
        starts = torch.cumsum(lengths, 0) - lengths
        positions = torch.arange(int(lengths.sum())) - torch.repeat_interleave(starts, lengths)
        packed["position_ids"] = positions.unsqueeze(0)
        if self.objective == "clm" and "labels" in packed:
            packed["labels"][0, starts] = -100
        return packed
