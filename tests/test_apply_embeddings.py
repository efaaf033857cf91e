"""Embeddings of a base model: ids kept, the chosen layer, mean or per-token pooling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from genome_fixtures import write_genome
from model_fixtures import markov_sequences, tiny_setup

from dnatune.apply.cells import ApplyError
from dnatune.apply.embeddings import (
    Embedder,
    concatenate_parquet,
    embed_genome_chunk,
    embed_task,
    load_encoder,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_setup(tmp_path_factory.mktemp("embed"))["model"]


def make_task(root):
    root.mkdir()
    for i, split in enumerate(("train", "val", "test")):
        seqs = markov_sequences(5, 30 + 7 * i, seed=i)
        ids = [f"{split}-{j}" for j in range(5)]
        pd.DataFrame({"id": ids, "sequence": seqs, "label": 0}).to_parquet(
            root / f"{split}.parquet"
        )
    return root


def test_task_embeddings_are_the_layers_mean_per_sequence_beside_its_id(model_dir, tmp_path):
    task = make_task(tmp_path / "task")
    n = embed_task(model_dir, task, tmp_path / "e.parquet", layer=1, pooling="mean", batch_size=2)
    table = pd.read_parquet(tmp_path / "e.parquet")
    assert n == 15 and table["id"].tolist()[:2] == ["train-0", "train-1"]
    assert table["split"].tolist() == ["train"] * 5 + ["val"] * 5 + ["test"] * 5
    model, tokenizer = load_encoder(model_dir)
    seq = pd.read_parquet(task / "val.parquet")["sequence"][3]
    ids = torch.tensor(tokenizer([seq])["input_ids"])
    with torch.no_grad():
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[1][0]
    np.testing.assert_allclose(table["embedding"][8], hidden.mean(0).numpy(), atol=1e-5)
    assert len(table["embedding"][8]) == model.config.hidden_size


def test_token_pooling_keeps_one_vector_per_token_and_a_bad_layer_names_the_key(model_dir):
    model, tokenizer = load_encoder(model_dir)
    vectors = Embedder(model, tokenizer, layer=-1, pooling="token", batch_size=64)(
        ["ACGTACGTAC", "ACGTA"]
    )
    assert [v.shape for v in vectors] == [
        (len(tokenizer(["ACGTACGTAC"])["input_ids"][0]), 32),
        (len(tokenizer(["ACGTA"])["input_ids"][0]), 32),
    ]
    with pytest.raises(ApplyError, match="apply.embeddings.layer"):
        Embedder(model, tokenizer, layer=5, pooling="mean", batch_size=64)


def test_genome_windows_are_embedded_per_chunk_and_merged(model_dir, tmp_path):
    genome = write_genome(tmp_path / "g.fa.gz", {"chr1": markov_sequences(1, 200, 1)[0]})
    windows = pd.DataFrame(
        {
            "chrom": "chr1",
            "start": [0, 50, 100, 150],
            "end": [50, 100, 150, 200],
            "strand": ["+", "-", "+", "+"],
            "split": "train",
        }
    )
    windows.to_parquet(tmp_path / "windows.parquet")
    parts = []
    for i, (lo, hi) in enumerate([(0, 100), (100, 120), (120, 200)]):
        parts.append(tmp_path / f"{i}.parquet")
        chunk = {"chrom": "chr1", "start": lo, "end": hi}
        embed_genome_chunk(
            model_dir,
            genome,
            tmp_path / "windows.parquet",
            chunk,
            parts[-1],
            layer=-1,
            pooling="mean",
            batch_size=64,
        )
    assert concatenate_parquet(parts, tmp_path / "all.parquet") == 4
    table = pd.read_parquet(tmp_path / "all.parquet")
    assert table["id"].tolist() == [
        "chr1:0-50(+)",
        "chr1:50-100(-)",
        "chr1:100-150(+)",
        "chr1:150-200(+)",
    ]
