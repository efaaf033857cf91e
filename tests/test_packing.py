"""Packing: a packed batch gives the unpacked loss where dnatune packs, and is refused elsewhere."""

from __future__ import annotations

import json

import datasets
import pytest
import torch
from model_fixtures import (
    CHAR,
    make_model,
    make_tokenizer,
    markov_sequences,
    pretrain_args,
    tiny_setup,
)
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

from dnatune.corpus.tokenizers import DnaTokenizer
from dnatune.train import masking, pretrain
from dnatune.train.packing import PackedBatches, packing_support, use_packing

LENGTHS = (17, 40, 29, 8)  # windows of different lengths: the padded batch has padding


def collated(tmp_path, architecture: str, attention: str = "sdpa"):
    """(model, unpacked collator, windows) for a tiny model of `architecture`."""
    tok = make_tokenizer(tmp_path / "tokenizer", CHAR)
    directory = make_model(tmp_path / "model", tok, architecture)
    objective = "clm" if architecture in ("llama", "gpt2") else "mlm"
    auto = AutoModelForCausalLM if objective == "clm" else AutoModelForMaskedLM
    model = auto.from_pretrained(directory, attn_implementation=attention).eval()
    tokenizer = DnaTokenizer.from_pretrained(directory)
    sequences = [seq[:n] for seq, n in zip(markov_sequences(4, 40, 0), LENGTHS, strict=True)]
    ids = {"input_ids": tokenizer(sequences)["input_ids"]}  # a corpus' windows: ids only
    windows = datasets.Dataset.from_dict(ids)
    if objective == "mlm":  # as pre-training: each window's masks drawn from its seed
        windows = masking.MaskSeeded(windows, seed=3)
    collator = masking.language_modeling_collator(tokenizer.hf, objective, 0.3, tokenizer.kmer)
    return model, collator, objective, [windows[i] for i in range(len(windows))]


def losses(model, collator, objective, examples) -> tuple[float, float]:
    padded = collator(examples)
    packed = PackedBatches(collator, objective)(examples)
    assert packed["input_ids"].shape == (1, int(padded["attention_mask"].sum()))
    assert "attention_mask" not in packed
    with torch.no_grad():
        return model(**padded).loss.item(), model(**packed).loss.item()


@pytest.mark.parametrize("architecture", ["llama", "gpt2"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_packed_batch_gives_the_unpacked_loss(tmp_path, architecture, attention):
    model, collator, objective, examples = collated(tmp_path, architecture, attention)
    assert packing_support(model)[0]
    # exact, but on a CPU (no flash-attention 2) slower than padding: only when asked for
    assert use_packing("auto", model) is False
    assert use_packing(True, model)  # turns the KV cache off, as pre-training does
    padded_loss, packed_loss = losses(model, collator, objective, examples)
    assert packed_loss == pytest.approx(padded_loss, rel=1e-5)


def test_an_encoder_under_sdpa_is_not_packed_and_would_differ(tmp_path):
    """The detection is right to refuse: BERT's SDPA mask ignores the position ids."""
    model, collator, objective, examples = collated(tmp_path, "bert", "sdpa")
    exact, reason = packing_support(model)
    assert not exact and "sdpa" in reason
    padded = collator(examples)
    packed = PackedBatches(collator, objective)(examples)
    with torch.no_grad():
        padded_logits = model(**padded).logits[padded["attention_mask"].bool()]
        packed_logits = model(**packed).logits[0]
    # the same tokens, but each attended to the other windows too: far beyond float noise
    # (1e-7 where packing is exact), though small for a random model's near-uniform attention
    assert (packed_logits - padded_logits).abs().max() > 1e-4
    assert use_packing("auto", model) is False
    with pytest.raises(ValueError, match="pretrain.packing"):
        use_packing(True, model)


def test_packed_positions_restart_and_clm_first_labels_are_ignored(tmp_path):
    _, collator, objective, examples = collated(tmp_path, "llama")
    packed = PackedBatches(collator, objective)(examples)
    lengths = [n + 2 for n in LENGTHS]  # the char tokenizer adds [CLS] and [SEP]
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    positions = packed["position_ids"][0]
    assert positions[starts].tolist() == [0, 0, 0, 0]
    assert positions[starts[1] - 1] == lengths[0] - 1 and positions[-1] == lengths[-1] - 1
    assert (packed["labels"][0, starts] == -100).all()
    first = slice(1, lengths[0])
    assert (packed["labels"][0, first] == packed["input_ids"][0, first]).all()


def test_pretraining_packs_a_decoder_when_asked(tmp_path):
    setup = tiny_setup(tmp_path, "llama")
    summary = pretrain.main(pretrain_args(tmp_path, setup, max_steps=4, save_steps=4, packing=True))
    assert summary["packing"] is True
    record = json.loads((tmp_path / "out" / pretrain.SUMMARY).read_text())["throughput"]
    assert record["padding_fraction"] == 0 and record["samples"] == 4 * 16


def test_an_encoder_packs_under_flash_attention_2_only(tmp_path):
    model, *_ = collated(tmp_path, "bert", "sdpa")
    model.config._attn_implementation = "flash_attention_2"  # as on a GPU with flash-attn
    assert packing_support(model)[0]
    assert use_packing("auto", model) is True
