"""Tokenizers: exact compatibility with DNABERT and the Nucleotide Transformer, saved
directories that AutoTokenizer loads, and the guard against a raw sequence becoming [UNK]."""

import itertools
import json

import numpy as np
import pytest
from model_fixtures import make_tokenizer
from transformers import AutoTokenizer, BertTokenizer

from dnatune.corpus.tokenizer_kinds import dnabert_vocab, nt_vocab
from dnatune.corpus.tokenizers import (
    SIDECAR,
    DnaTokenizer,
    TokenizerError,
    build_tokenizer,
    split_kmers,
)
from dnatune.genome import kmer

RNG = np.random.default_rng(7)


def random_seq(n: int, letters: str = "ACGT") -> str:
    return "".join(RNG.choice(list(letters), n))


SEQS = [
    random_seq(60),
    random_seq(61, "ACGTN"),
    "ACGTNNNNACGTACGTAC",
    random_seq(7),
    "ACG",
    "",
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Built-in tokenizers saved once: {name: directory}."""
    specs = {
        "char": {"kind": "char"},
        "dnabert6": {"kind": "kmer", "k": 6, "overlap": True},
        "dnabert3": {"kind": "kmer", "k": 3, "overlap": True},
        "nt6": {"kind": "kmer", "k": 6, "overlap": False},
    }
    return {
        name: make_tokenizer(tmp_path_factory.mktemp(name), spec) for name, spec in specs.items()
    }


# ---------------------------------------------------------------- DNABERT


def test_dnabert_vocab_order():
    vocab = dnabert_vocab(6)
    assert vocab[:7] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "AAAAAA", "AAAAAT"]
    assert vocab[5:] == ["".join(p) for p in itertools.product("ATCG", repeat=6)]
    assert len(vocab) == 4101


@pytest.mark.parametrize("k", [6, 3])
def test_dnabert_ids_equal_bert_tokenizer_on_space_joined_kmers(saved, k):
    # the reference: transformers' BertTokenizer built from the DNABERT vocab order
    # (vocab=, since vocab_file= is ignored by transformers 5; DNABERT is case-sensitive)
    vocab = {token: i for i, token in enumerate(dnabert_vocab(k))}
    bert = BertTokenizer(vocab=vocab, do_lower_case=False)
    ours = DnaTokenizer.from_pretrained(saved[f"dnabert{k}"])
    loaded = AutoTokenizer.from_pretrained(saved[f"dnabert{k}"])
    encoded = ours.encode_ids(SEQS)
    for seq, ids in zip(SEQS, encoded, strict=True):
        expected = bert(split_kmers(seq, k))["input_ids"]
        assert ids.tolist() == expected
        assert loaded(split_kmers(seq, k))["input_ids"] == expected
        assert ours(seq)["input_ids"] == [expected]


def test_kmers_with_n_are_unknown(saved):
    ids = DnaTokenizer.from_pretrained(saved["dnabert3"]).encode_ids(["AANAAA"])[0]
    assert ids.tolist() == [2, 1, 1, 1, 5, 3]  # [CLS] ..N.. x3 AAA [SEP]


def test_lower_case_and_iupac_codes_are_read_as_upper_case_and_n(saved):
    tokenizer = DnaTokenizer.from_pretrained(saved["dnabert6"])
    lower, upper = tokenizer.encode_ids(["acgtacgtRacgt", "ACGTACGTNACGT"])
    assert lower.tolist() == upper.tolist()


def test_a_raw_sequence_never_silently_becomes_one_unknown_token(saved):
    raw = random_seq(40)
    # the pitfall: a DNABERT vocabulary given an unsplit sequence
    loaded = AutoTokenizer.from_pretrained(saved["dnabert6"])
    assert loaded(raw)["input_ids"] == [2, 1, 3]
    # DnaTokenizer splits for the built-in kind ...
    ours = DnaTokenizer.from_pretrained(saved["dnabert6"])
    ids = ours(raw)["input_ids"][0]
    assert len(ids) == 40 - 6 + 1 + 2 and 1 not in ids
    # ... detects a DNABERT vocabulary of a directory without sidecar (an hf model) ...
    (saved["dnabert6"] / SIDECAR).rename(saved["dnabert6"] / "sidecar.bak")
    try:
        detected = DnaTokenizer.from_pretrained(saved["dnabert6"])
    finally:
        (saved["dnabert6"] / "sidecar.bak").rename(saved["dnabert6"] / SIDECAR)
    assert detected.kind == "hf" and detected.kmer == 6
    assert detected(raw)["input_ids"][0] == ids
    # ... and refuses rather than return [UNK] when it cannot know
    blind = DnaTokenizer(loaded, {"kind": "hf", "name": "blind"})
    with pytest.raises(TokenizerError, match="kmer"):
        blind(raw)


def test_hf_kind_with_kmer_splits_for_the_user(saved):
    bert = AutoTokenizer.from_pretrained(saved["dnabert3"])
    tokenizer = DnaTokenizer(bert, {"kind": "hf", "k": 3, "overlap": True})
    for seq, ids in zip(SEQS, tokenizer.encode_ids(SEQS), strict=True):
        assert ids.tolist() == bert(split_kmers(seq, 3))["input_ids"]


# ---------------------------------------------------------------- Nucleotide Transformer


def nt_id(token: str) -> int:
    """Ids by the NT layout: <unk> <pad> <mask> <cls> <eos> <bos>, 6-mers, then A T C G N."""
    if len(token) == 6:
        return 6 + ["".join(p) for p in itertools.product("ATCG", repeat=6)].index(token)
    return 4102 + "ATCGN".index(token)


NT_CASES = {
    # sequence: its tokens by the rule (6-mers from the left of each run between Ns,
    # single bases for N and for a tail shorter than 6)
    "AAAAAAT": ["AAAAAA", "T"],
    "TAAAAAA": ["TAAAAA", "A"],
    "ACGTACGTNACGTACGTAAAAAAT": ["ACGTAC", "G", "T", "N", "ACGTAC", "GTAAAA", "A", "A", "T"],
    "NNACGTAC": ["N", "N", "ACGTAC"],
    "ACGTA": ["A", "C", "G", "T", "A"],
    "": [],
}


def test_nt_vocab_layout():
    vocab = nt_vocab(6)
    assert len(vocab) == 4107
    assert vocab.index("<cls>") == 3 and vocab.index("<pad>") == 1
    assert vocab.index("AAAAAA") == 6
    assert [vocab.index(b) for b in "ATCGN"] == [4102, 4103, 4104, 4105, 4106]


@pytest.mark.parametrize("seq", list(NT_CASES))
def test_nt_ids_follow_the_non_overlapping_rule(saved, seq):
    expected = [3] + [nt_id(t) for t in NT_CASES[seq]]  # NT adds <cls> only
    ours = DnaTokenizer.from_pretrained(saved["nt6"])
    assert ours.encode_ids([seq])[0].tolist() == expected
    assert AutoTokenizer.from_pretrained(saved["nt6"])(seq)["input_ids"] == expected


def test_nt_vectorised_ids_equal_the_saved_tokenizer_on_random_sequences(saved):
    seqs = [random_seq(n, "ACGTACGTACGTN") for n in (50, 50, 51, 13, 6)]
    loaded = AutoTokenizer.from_pretrained(saved["nt6"])
    ours = DnaTokenizer.from_pretrained(saved["nt6"]).encode_ids(seqs)
    for seq, ids in zip(seqs, ours, strict=True):
        assert ids.tolist() == loaded(seq)["input_ids"]


# ---------------------------------------------------------------- char and bpe


def test_char_ids_equal_the_saved_tokenizer(saved):
    seqs = ["ACGTNacgtnRYK", *SEQS]
    loaded = AutoTokenizer.from_pretrained(saved["char"])
    ours = DnaTokenizer.from_pretrained(saved["char"])
    for seq, ids in zip(seqs, ours.encode_ids(seqs), strict=True):
        assert ids.tolist() == loaded(seq)["input_ids"]
    assert loaded.decode(ours.encode_ids(["ACGTN"])[0], skip_special_tokens=True) == "ACGTN"
    assert ours.vocab_size == 10


def test_bpe_is_trained_on_the_given_sequences_and_loads_with_autotokenizer(tmp_path):
    motif = "TATAAAAGGC"
    train = [random_seq(30) + motif + random_seq(30) for _ in range(200)]
    built = build_tokenizer({"kind": "bpe", "vocab_size": 64}, tmp_path, train_sequences=train)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert 20 < len(loaded) <= 64
    ours = DnaTokenizer.from_pretrained(tmp_path)
    seqs = [motif * 3, random_seq(100), "acgtNNacgt"]
    for seq, ids in zip(seqs, ours.encode_ids(seqs), strict=True):
        assert ids.tolist() == loaded(seq.upper())["input_ids"]
    assert len(ours.encode_ids([motif])[0]) < len(motif)  # the frequent motif got merged
    assert built.vocab_size == ours.vocab_size


def test_bpe_needs_training_sequences(tmp_path):
    with pytest.raises(TokenizerError, match="train_sequences"):
        build_tokenizer({"kind": "bpe", "vocab_size": 64}, tmp_path)


# ---------------------------------------------------------------- saved directories


def test_saved_directory_loads_on_transformers_4_and_says_its_kind(saved):
    config = json.loads((saved["dnabert6"] / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    sidecar = json.loads((saved["dnabert6"] / SIDECAR).read_text())
    assert sidecar == {"kind": "kmer", "k": 6, "overlap": True}
    loaded = AutoTokenizer.from_pretrained(saved["dnabert6"])
    assert loaded.mask_token == "[MASK]" and loaded.pad_token_id == 0


def test_max_length_truncates_and_survives_a_save(saved, tmp_path):
    tokenizer = DnaTokenizer.from_pretrained(saved["char"])
    out = tokenizer(["ACGT" * 10], max_length=10)
    assert out["input_ids"][0] == [2, 5, 7, 8, 6, 5, 7, 8, 6, 3]
    assert out["attention_mask"][0] == [1] * 10
    assert len(tokenizer(["ACGT" * 10], truncation=False)["input_ids"][0]) == 42
    tokenizer.max_length = 16
    tokenizer.save_pretrained(tmp_path)
    again = DnaTokenizer.from_pretrained(tmp_path)
    assert again.max_length == 16 and again.hf.model_max_length == 16
    assert len(again("ACGT" * 10)["input_ids"][0]) == 16


def test_encode_windows_equals_encoding_the_window_sequences(saved):
    chunk = kmer.as_bytes(random_seq(300, "ACGTACGTACGTN") + "acgt" * 10)
    starts = np.array([0, 37, 100, 200, 280])
    minus = np.array([False, True, False, True, True])
    seqs = []
    for start, flip in zip(starts, minus, strict=True):
        row = chunk[start : start + 60]
        seqs.append((kmer.reverse_complement(row) if flip else row).tobytes().decode())
    for name in ("char", "dnabert6", "nt6"):
        tokenizer = DnaTokenizer.from_pretrained(saved[name])
        values, lengths = tokenizer.encode_windows(chunk, starts, 60, minus)
        expected = tokenizer.encode_ids(seqs)
        assert lengths.tolist() == [len(e) for e in expected]
        assert values.tolist() == np.concatenate(expected).tolist()


def test_bad_specs_and_directories_are_clear_errors(tmp_path):
    with pytest.raises(TokenizerError, match="kind"):
        build_tokenizer({"kind": "word"})
    with pytest.raises(TokenizerError, match="'k'"):
        build_tokenizer({"kind": "kmer", "k": 9})
    with pytest.raises(TokenizerError, match="name"):
        build_tokenizer({"kind": "hf"})
    with pytest.raises(TokenizerError, match="cannot load a tokenizer"):
        DnaTokenizer.from_pretrained(tmp_path)


def test_built_in_kinds_encode_without_loading_transformers_tokenizers(saved):
    # the corpus path stays numpy-only: the transformers tokenizer loads on first use of .hf
    tokenizer = DnaTokenizer.from_pretrained(saved["dnabert6"])
    tokenizer.encode_ids(SEQS)
    tokenizer.encode_windows(kmer.as_bytes("ACGT" * 50), np.array([0, 10]), 100)
    assert tokenizer._hf is None and tokenizer.max_length is None
    assert tokenizer.vocab_size == 4101 and tokenizer.hf.mask_token_id == 4
