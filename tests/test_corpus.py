"""Corpus: every window tokenized exactly as the tokenizer encodes its sequence, shards that
`datasets` loads, stats, streaming, and the build_tokenizer entry point of the workflow."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pysam
import pytest
from genome_fixtures import write_genome
from model_fixtures import make_tokenizer
from transformers import BertTokenizer

from dnatune.corpus.shards import (
    CorpusError,
    build_corpus,
    build_workflow_tokenizer,
    load_corpus,
    train_sequences,
)
from dnatune.corpus.tokenizer_kinds import dnabert_vocab
from dnatune.corpus.tokenizers import SIDECAR, DnaTokenizer
from dnatune.corpus.windows import make_windows
from dnatune.genome.kmer import as_bytes, reverse_complement

WINDOWS = {
    "size": 120,
    "stride": 60,
    "reverse_complement": True,
    "split": {"val": 0.1, "test": 0.1, "by": "block", "block_size": 1000},
}


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """Two chromosomes with lower case, an N gap and an IUPAC code; windows.parquet for it."""
    tmp = tmp_path_factory.mktemp("genome")
    rng = np.random.default_rng(3)
    chromosomes = {}
    for name, n in (("chrA", 6000), ("chrB", 4000)):
        seq = list("".join(rng.choice(list("ACGT"), n)))
        seq[500:540] = "N" * 40
        seq[900:1300] = [b.lower() for b in seq[900:1300]]
        seq[2000] = "R"
        chromosomes[name] = "".join(seq)
    fa = write_genome(tmp / "genome.fa.gz", chromosomes)
    windows = tmp / "windows.parquet"
    make_windows(fa, windows, WINDOWS)
    return fa, str(windows)


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    specs = {
        "char": {"kind": "char"},
        "kmer6": {"kind": "kmer", "k": 6, "overlap": True},
        "nt6": {"kind": "kmer", "k": 6, "overlap": False},
    }
    return {
        name: make_tokenizer(tmp_path_factory.mktemp(name), spec) for name, spec in specs.items()
    }


def window_sequences(fa: str, windows: pd.DataFrame) -> list[str]:
    """The windows' sequences the slow, obvious way: pysam per window, upper case, '-' RC."""
    fasta = pysam.FastaFile(fa)
    seqs = []
    for row in windows.itertuples():
        seq = as_bytes(fasta.fetch(row.chrom, row.start, row.end).upper())
        if row.strand == "-":
            seq = reverse_complement(seq)
        seqs.append(seq.tobytes().decode())
    return seqs


@pytest.mark.parametrize("name", ["char", "kmer6", "nt6"])
def test_every_window_is_tokenized_as_its_sequence(genome, tokenizers, tmp_path, name):
    fa, windows_path = genome
    stats = build_corpus(fa, windows_path, tokenizers[name], tmp_path / "corpus")
    windows = pd.read_parquet(windows_path)
    tokenizer = DnaTokenizer.from_pretrained(tokenizers[name])
    for split in ("train", "val", "test"):
        part = windows[windows.split == split]
        expected = tokenizer.encode_ids(window_sequences(fa, part))
        dataset = load_corpus([tmp_path / "corpus"], split)
        assert len(dataset) == len(part) == stats[split]["windows"] > 0
        assert [row["input_ids"] for row in dataset] == [e.tolist() for e in expected]
        assert stats[split]["tokens"] == sum(len(e) for e in expected)
        assert stats[split]["bases"] == 120 * len(part)
    assert json.loads((tmp_path / "corpus" / "stats.json").read_text()) == stats
    assert dataset.features["input_ids"].feature.dtype == "uint16"


def test_parquet_shards_roll_over_and_load(genome, tokenizers, tmp_path):
    fa, windows_path = genome
    out = tmp_path / "corpus"
    build_corpus(
        fa, windows_path, tokenizers["kmer6"], out, shard_windows=50, shard_format="parquet"
    )
    shards = sorted((out / "train").glob("*.parquet"))
    assert len(shards) > 2
    assert pq.read_schema(shards[0]).field("input_ids").type.value_type == "uint16"
    arrow = tmp_path / "arrow"
    build_corpus(fa, windows_path, tokenizers["kmer6"], arrow, shard_windows=50)
    assert load_corpus(out, "train")["input_ids"] == load_corpus(arrow, "train")["input_ids"]


def test_small_genome_chunks_give_the_same_corpus(genome, tokenizers, tmp_path):
    fa, windows_path = genome
    build_corpus(fa, windows_path, tokenizers["kmer6"], tmp_path / "a", chunk_bases=10**7)
    build_corpus(fa, windows_path, tokenizers["kmer6"], tmp_path / "b", chunk_bases=200)
    for split in ("train", "val", "test"):
        a, b = load_corpus(tmp_path / "a", split), load_corpus(tmp_path / "b", split)
        assert a["input_ids"] == b["input_ids"]


def test_load_corpus_concatenates_genomes_and_loads_empty_splits(genome, tokenizers, tmp_path):
    fa, windows_path = genome
    only_train = tmp_path / "train.parquet"
    frame = pd.read_parquet(windows_path)
    frame[frame.split == "train"].to_parquet(only_train)
    build_corpus(fa, windows_path, tokenizers["char"], tmp_path / "one")
    build_corpus(fa, only_train, tokenizers["char"], tmp_path / "two")
    both = load_corpus([tmp_path / "one", tmp_path / "two"], "train")
    assert len(both) == 2 * len(load_corpus(tmp_path / "one", "train"))
    assert len(load_corpus(tmp_path / "two", "val")) == 0
    with pytest.raises(CorpusError, match="no corpus shards"):
        load_corpus(tmp_path / "missing", "train")
    with pytest.raises(CorpusError, match="split"):
        load_corpus(tmp_path / "one", "dev")


def test_windows_of_another_genome_are_an_error(genome, tokenizers, tmp_path):
    fa, windows_path = genome
    frame = pd.read_parquet(windows_path)
    frame.loc[0, "chrom"] = "chrZ"
    other = tmp_path / "other.parquet"
    frame.to_parquet(other)
    with pytest.raises(CorpusError, match="chrZ"):
        build_corpus(fa, other, tokenizers["char"], tmp_path / "corpus")
    assert not (tmp_path / "corpus").exists()  # nothing half-written


def test_bpe_is_trained_on_train_windows_only(genome, tmp_path):
    fa, windows_path = genome
    seqs = list(train_sequences([fa], [windows_path], max_windows=100))
    n_train = int((pd.read_parquet(windows_path).split == "train").sum())
    assert 50 <= len(seqs) <= 100 < n_train
    assert all(s == s.upper() and len(s) == 120 for s in seqs)
    spec = {"kind": "bpe", "vocab_size": 100, "train_windows": 300}
    tokenizer = build_workflow_tokenizer(spec, tmp_path / "bpe", [fa], [windows_path])
    assert json.loads((tmp_path / "bpe" / SIDECAR).read_text())["kind"] == "bpe"
    assert tokenizer.vocab_size == 100
    stats = build_corpus(fa, windows_path, tmp_path / "bpe", tmp_path / "corpus")
    assert stats["train"]["tokens"] < stats["train"]["bases"]


def test_an_hf_model_tokenizer_is_copied_with_its_kmer(tmp_path):
    model_dir = tmp_path / "dnabert3"
    vocab = {token: i for i, token in enumerate(dnabert_vocab(3))}
    BertTokenizer(vocab=vocab, do_lower_case=False).save_pretrained(model_dir)
    spec = {"kind": "hf", "name": "zhihan1996/DNA_bert_3", "kmer": 3}
    tokenizer = build_workflow_tokenizer(spec, tmp_path / "tok", model_dir=str(model_dir))
    assert tokenizer.kmer == 3
    loaded = DnaTokenizer.from_pretrained(tmp_path / "tok")
    assert loaded.kind == "hf" and loaded.kmer == 3
    # [CLS] ACG CGT GTA [SEP]: 5 specials, then the 3-mers in product("ATCG") order
    assert loaded("ACGTA")["input_ids"][0] == [2, 5 + 11, 5 + 45, 5 + 52, 3]
    assert loaded.info["name"] == "zhihan1996/DNA_bert_3"


def test_bpe_without_genomes_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="bpe"):
        build_workflow_tokenizer({"kind": "bpe"}, tmp_path / "tok")
