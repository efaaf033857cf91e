"""Tiny tokenizers, corpora and models for the model, pre-training and launch tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from dnatune.corpus.tokenizers import build_tokenizer
from dnatune.train.models import init_scratch_model
from dnatune.train.pretrain import PretrainArguments

TINY = {"layers": 1, "hidden": 32, "heads": 2, "intermediate": 64, "max_length": 80}
KMER3 = {"kind": "kmer", "k": 3, "overlap": True}
CHAR = {"kind": "char"}


def markov_sequences(n: int, length: int, seed: int) -> list[str]:
    """DNA with learnable structure: each base is mostly the successor of the previous one."""
    rng = np.random.default_rng(seed)
    codes = np.empty((n, length), dtype=np.int64)
    codes[:, 0] = rng.integers(4, size=n)
    for i in range(1, length):
        follow = rng.random(n) < 0.8
        codes[:, i] = np.where(follow, (codes[:, i - 1] + 1) % 4, rng.integers(4, size=n))
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[codes]
    return [row.tobytes().decode() for row in letters]


def make_tokenizer(directory: Path, spec: dict = KMER3) -> Path:
    build_tokenizer(spec, directory)
    return directory


def make_corpus(
    directory: Path, tokenizer_dir: Path, n_train=200, n_val=20, length=64, seed=0
) -> Path:
    """A CORPUS_DIR as the corpus stage writes it: {split}/shard-00000.arrow + stats.json."""
    from dnatune.corpus.tokenizers import DnaTokenizer

    tokenizer = DnaTokenizer.from_pretrained(tokenizer_dir)
    stats = {}
    schema = pa.schema([("input_ids", pa.list_(pa.uint16()))])
    for offset, (split, n) in enumerate([("train", n_train), ("val", n_val), ("test", n_val)]):
        seqs = markov_sequences(n, length, seed + offset)
        ids = [row.astype(np.uint16) for row in tokenizer.encode_ids(seqs)]
        (directory / split).mkdir(parents=True, exist_ok=True)
        table = pa.table({"input_ids": pa.array(ids, type=schema.field(0).type)}, schema=schema)
        with pa.ipc.new_stream(directory / split / "shard-00000.arrow", schema) as stream:
            stream.write_table(table)  # an Arrow IPC stream, as the corpus stage writes
        stats[split] = {"windows": n, "tokens": int(sum(map(len, ids))), "bases": n * length}
    (directory / "stats.json").write_text(json.dumps(stats))
    return directory


def make_model(
    directory: Path, tokenizer_dir: Path, architecture="bert", seed=0, **overrides
) -> Path:
    spec = {"architecture": architecture, **TINY, **overrides}
    init_scratch_model(spec, tokenizer_dir, directory, seed=seed)
    return directory


def tiny_setup(tmp: Path, architecture="bert", tokenizer=KMER3, **overrides) -> dict:
    """Tokenizer, corpus and base model under `tmp`; returns their paths."""
    tok = make_tokenizer(tmp / "tokenizer", tokenizer)
    corpus = make_corpus(tmp / "corpus", tok)
    model = make_model(tmp / "base", tok, architecture, **overrides)
    return {"tokenizer": tok, "corpus": corpus, "model": model}


def pretrain_args(tmp: Path, setup: dict, **overrides) -> PretrainArguments:
    settings = {
        "max_steps": 30,
        "batch_size": 16,
        "lr": 3e-3,
        "warmup_ratio": 0.0,
        "save_steps": 10,
        "logging_steps": 5,
        "threads": 1,
        **overrides,
    }
    return PretrainArguments.defaults(
        model_dir=str(setup["model"]),
        corpus_dirs=[str(setup["corpus"])],
        output_dir=str(tmp / "out"),
        checkpoint_dir=str(tmp / "checkpoints"),
        **settings,
    )


def tiny_classifier(dropout: float = 0.1):
    """A one-layer BERT sequence classifier on a 12-token vocabulary, seeded; dropout 0 for
    tests that compare two runs step by step."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=12,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    torch.manual_seed(0)
    return BertForSequenceClassification(config)
