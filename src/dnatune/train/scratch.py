"""Scratch models: an architecture spec (models.<name>.scratch) built with random weights.

Every spec is sized to its tokenizer's vocabulary and special tokens; encoders are saved
as masked-LM models, decoders as causal-LM models, so that pre-training and sequence
classification both load them.
"""

from __future__ import annotations

import logging
import os

from dnatune.atomic import atomic_path
from dnatune.settings import fill_defaults, schema_node
from dnatune.train.model_errors import ModelSourceError

logger = logging.getLogger(__name__)

ENCODERS = ("bert", "esm")
DECODERS = ("gpt2", "llama")
ARCHITECTURES = ENCODERS + DECODERS


def scratch_spec(spec: dict) -> dict:
    """A `models.<name>.scratch` block with the schema's defaults for the keys it leaves out."""
    return fill_defaults(dict(spec), schema_node("definitions/scratch_model"))


def scratch_config(spec: dict, hf_tokenizer):
    """A transformers config for an architecture spec, sized to the tokenizer's vocabulary.

    `spec` is `models.<name>.scratch` of the config (architecture, layers, hidden,
    heads, intermediate, max_length, dropout); special token ids come from the tokenizer.
    """
    spec = scratch_spec(spec)
    arch = spec["architecture"]
    if arch not in ARCHITECTURES:
        raise ModelSourceError(
            f"key 'scratch.architecture': unknown architecture '{arch}'; "
            f"choose one of {', '.join(ARCHITECTURES)}"
        )
    hidden, heads = int(spec["hidden"]), int(spec["heads"])
    if hidden % heads:
        raise ModelSourceError(
            f"key 'scratch.hidden': {hidden} is not divisible by scratch.heads={heads}; "
            "pick a hidden size that is a multiple of the number of heads"
        )
    size = {
        "vocab": len(hf_tokenizer),
        "hidden": hidden,
        "layers": int(spec["layers"]),
        "heads": heads,
        "intermediate": int(spec.get("intermediate") or 4 * hidden),  # the schema has no default
        "max_length": int(spec["max_length"]),
        "dropout": float(spec["dropout"]),
    }
    ids = _special_ids(hf_tokenizer, need_mask=arch in ENCODERS)
    return CONFIGS[arch](size, ids)


def _bert(size: dict, ids: dict):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=size["vocab"],
        hidden_size=size["hidden"],
        num_hidden_layers=size["layers"],
        num_attention_heads=size["heads"],
        intermediate_size=size["intermediate"],
        max_position_embeddings=size["max_length"],
        hidden_dropout_prob=size["dropout"],
        attention_probs_dropout_prob=size["dropout"],
        pad_token_id=ids["pad"],
    )


def _esm(size: dict, ids: dict):
    from transformers import EsmConfig

    # rotary positions, as ESM-2; absolute ones would need max_length + pad offset slots
    return EsmConfig(
        vocab_size=size["vocab"],
        hidden_size=size["hidden"],
        num_hidden_layers=size["layers"],
        num_attention_heads=size["heads"],
        intermediate_size=size["intermediate"],
        max_position_embeddings=size["max_length"] + ids["pad"] + 1,
        position_embedding_type="rotary",
        hidden_dropout_prob=size["dropout"],
        attention_probs_dropout_prob=size["dropout"],
        pad_token_id=ids["pad"],
        mask_token_id=ids["mask"],
        eos_token_id=ids["eos"],
        layer_norm_eps=1e-5,
    )


def _gpt2(size: dict, ids: dict):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=size["vocab"],
        n_positions=size["max_length"],
        n_embd=size["hidden"],
        n_layer=size["layers"],
        n_head=size["heads"],
        n_inner=size["intermediate"],
        resid_pdrop=size["dropout"],
        embd_pdrop=size["dropout"],
        attn_pdrop=size["dropout"],
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["pad"],
    )


def _llama(size: dict, ids: dict):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=size["vocab"],
        hidden_size=size["hidden"],
        num_hidden_layers=size["layers"],
        num_attention_heads=size["heads"],
        num_key_value_heads=size["heads"],
        intermediate_size=size["intermediate"],
        max_position_embeddings=size["max_length"],
        attention_dropout=size["dropout"],
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["pad"],
        tie_word_embeddings=True,
    )


CONFIGS = {"bert": _bert, "esm": _esm, "gpt2": _gpt2, "llama": _llama}


def _special_ids(hf_tokenizer, need_mask: bool) -> dict:
    """pad, mask, bos (= [CLS] when there is no bos) and eos (= [SEP]) ids of a tokenizer."""
    ids = {
        "pad": hf_tokenizer.pad_token_id,
        "mask": hf_tokenizer.mask_token_id,
        "bos": hf_tokenizer.bos_token_id
        if hf_tokenizer.bos_token_id is not None
        else hf_tokenizer.cls_token_id,
        "eos": hf_tokenizer.eos_token_id
        if hf_tokenizer.eos_token_id is not None
        else hf_tokenizer.sep_token_id,
    }
    if ids["pad"] is None:
        raise ModelSourceError("the tokenizer has no pad token; rebuild it with a [PAD] token")
    if need_mask and ids["mask"] is None:
        raise ModelSourceError(
            "an encoder (bert, esm) is pre-trained by masked language modelling but the "
            "tokenizer has no mask token; use a built-in tokenizer (char, kmer, bpe), which has [MASK]"
        )
    return ids


def init_scratch_model(spec: dict, tokenizer_dir: str | os.PathLike, out_dir, seed: int = 0):
    """Randomly initialise `spec`'s architecture (seeded) and save it with its tokenizer.

    Encoders are saved as masked-LM models, decoders as causal-LM models, so the
    pre-training stage and `AutoModelForSequenceClassification` both load them.
    """
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, set_seed

    from dnatune.corpus.tokenizers import DnaTokenizer

    tokenizer = DnaTokenizer.from_pretrained(tokenizer_dir)
    config = scratch_config(spec, tokenizer.hf)
    set_seed(seed)
    auto = AutoModelForMaskedLM if spec["architecture"] in ENCODERS else AutoModelForCausalLM
    model = auto.from_config(config)
    n_params = sum(p.numel() for p in model.parameters())
    tokenizer.max_length = int(scratch_spec(spec)["max_length"])
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)  # with its dnatune_tokenizer.json sidecar
    logger.info(
        "initialised %s (%d layers, hidden %d, vocab %d, %.2fM parameters, seed %d) -> %s",
        spec["architecture"],
        config.num_hidden_layers,
        config.hidden_size,
        config.vocab_size,
        n_params / 1e6,
        seed,
        out_dir,
    )
    return model
