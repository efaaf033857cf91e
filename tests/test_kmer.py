"""Vectorised base and k-mer encoding (dnatune.genome.kmer) against plain-Python definitions."""

import itertools

import numpy as np
import pytest

from dnatune.genome import kmer


def as_array(seq: str) -> np.ndarray:
    return kmer.as_bytes(seq)


def kmer_position(word: str) -> int:
    """Index of a k-mer in itertools.product("ATCG", repeat=k), the DNABERT/NT order."""
    return ["".join(p) for p in itertools.product("ATCG", repeat=len(word))].index(word)


def test_digits_follow_atcg_order_in_either_case_and_flag_everything_else():
    digits, is_n = kmer.base_digits(as_array("ATCGatcgNnRY-?"))
    assert digits[:8].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert is_n.tolist() == [False] * 8 + [True] * 6
    assert kmer.base_digits(as_array("ACGTacgt"))[1] is None  # no N: no mask to apply


def test_non_ascii_characters_become_n():
    _, is_n = kmer.base_digits(kmer.as_bytes("AéC"))
    assert is_n.tolist() == [False, True, False]


@pytest.mark.parametrize("k", range(1, 9))
def test_kmer_index_is_the_position_in_product_atcg(k):
    rng = np.random.default_rng(k)
    seqs = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(3)]
    rows = np.stack([as_array(s) for s in seqs])
    index2d = kmer.kmer_index(kmer.base_digits(rows)[0], k)
    for row, seq in zip(index2d, seqs, strict=True):
        index1d = kmer.kmer_index(kmer.base_digits(as_array(seq))[0], k)
        expected = [kmer_position(seq[i : i + k]) for i in range(len(seq) - k + 1)]
        assert row.tolist() == expected
        assert index1d.tolist() == expected


def test_kmer_index_of_a_sequence_shorter_than_k_is_empty():
    assert kmer.kmer_index(kmer.base_digits(as_array("ACG"))[0], 6).shape == (0,)


def test_overlapping_ids_mark_every_kmer_that_touches_an_n():
    seq = "ACGTNACGTACGNNACG"
    digits, is_n = kmer.base_digits(as_array(seq))
    ids = kmer.overlapping_kmer_ids(digits, is_n, 3, offset=5, unk_id=1)
    expected = [
        1 if "N" in seq[i : i + 3] else 5 + kmer_position(seq[i : i + 3])
        for i in range(len(seq) - 2)
    ]
    assert ids.tolist() == expected


@pytest.mark.parametrize("n_probability", [0.2, 0.0001])
def test_overlapping_ids_of_long_sequences_with_many_or_few_n_runs(n_probability):
    # 1-D input marks k-mers run by run when N comes in few runs, else counts N
    rng = np.random.default_rng(0)
    p = [(1 - n_probability) / 4] * 4 + [n_probability]
    seq = rng.choice(np.frombuffer(b"ACGTN", np.uint8), size=100_000, p=p)
    digits, is_n = kmer.base_digits(seq)
    ids = kmer.overlapping_kmer_ids(digits, is_n, 6, 5, 1)
    has_n = np.lib.stride_tricks.sliding_window_view(seq == ord("N"), 6).any(axis=1)
    index = kmer.kmer_index(digits, 6).astype(np.int64) + 5
    assert (ids == np.where(has_n, 1, index)).all()
    rows = kmer.overlapping_kmer_ids(digits[None, :], is_n[None, :], 6, 5, 1)[0]
    assert (ids == rows).all()


def test_overlapping_ids_widen_to_32_bits_when_the_vocab_does_not_fit_16():
    digits, is_n = kmer.base_digits(as_array("ACGTACGTAC"))
    assert kmer.overlapping_kmer_ids(digits, is_n, 8, 5, 1).dtype == np.uint32
    assert kmer.overlapping_kmer_ids(digits, is_n, 7, 5, 1).dtype == np.uint16


def nt_tokens(seq: str, k: int) -> list[str]:
    """The Nucleotide Transformer rule, written plainly: split at N, k-mers from the left,
    a short tail as single bases."""
    tokens = []
    for i, run in enumerate(seq.split("N")):
        full = len(run) // k * k
        tokens += [run[j : j + k] for j in range(0, full, k)] + list(run[full:])
        if i < seq.count("N"):
            tokens.append("N")
    return tokens


@pytest.mark.parametrize(
    "seq",
    [
        "ATCGAATGGCGATGCAC",
        "ATCGAATNGGCGATGCAC",
        "NNACGTACGTNN",
        "ACG",
        "",
        "ACGTACGTACGTACGTACGTAAAAANCCCCCCCCCCNG",
    ],
)
def test_nonoverlapping_tokens_follow_the_nucleotide_transformer_rule(seq):
    k, kmer_offset, base_offset = 5, 100, 10
    values, lengths = kmer.nonoverlapping_kmer_ids(
        *kmer.base_digits(np.atleast_2d(as_array(seq))), k, kmer_offset, base_offset
    )
    expected = [
        kmer_offset + kmer_position(t) if len(t) == k else base_offset + "ATCGN".index(t)
        for t in nt_tokens(seq, k)
    ]
    assert values.tolist() == expected
    assert lengths.tolist() == [len(expected)]


def test_nonoverlapping_tokens_of_several_rows_are_concatenated():
    rows = np.stack([as_array("ACGTACGTNA"), as_array("AAAAAAAAAA")])
    values, lengths = kmer.nonoverlapping_kmer_ids(*kmer.base_digits(rows), 4, 100, 10)
    assert lengths.tolist() == [len(nt_tokens("ACGTACGTNA", 4)), len(nt_tokens("AAAAAAAAAA", 4))]
    assert values[lengths[0] :].tolist() == [100, 100, 10, 10]


def test_reverse_complement_keeps_case_and_turns_other_codes_into_n():
    rc = kmer.reverse_complement(as_array("ACGTNacgtR"))
    assert rc.tobytes() == b"NacgtNACGT"


def test_reverse_complement_of_digits_matches_the_reverse_complemented_sequence():
    seq = as_array("ACGTTGCANNAcgt")
    direct = kmer.base_digits(kmer.reverse_complement(seq))
    flipped = kmer.reverse_complement_digits(*kmer.base_digits(seq))
    mask = ~direct[1]
    assert (direct[0][mask] == flipped[0][mask]).all()
    assert (direct[1] == flipped[1]).all()


def test_char_ids_put_n_after_the_four_bases():
    ids = kmer.char_ids(*kmer.base_digits(as_array("ATCGNx")), offset=5)
    assert ids.tolist() == [5, 6, 7, 8, 9, 9]


def test_flag_runs_and_counts_in_windows():
    flags = np.zeros(20, dtype=bool)
    flags[[2, 3, 4, 10, 19]] = True
    starts, ends = kmer.flag_runs(flags)
    assert starts.tolist() == [2, 10, 19] and ends.tolist() == [5, 11, 20]
    windows = np.array([0, 5, 10, 15])
    assert kmer.count_in_windows(flags, windows, 5).tolist() == [3, 0, 1, 1]
    assert kmer.count_in_windows(None, windows, 5).tolist() == [0, 0, 0, 0]


def test_windows_view_copies_rows():
    seq = as_array("ACGTACGTAC")
    rows = kmer.windows_view(seq, np.array([0, 4]), 3)
    rows[0, 0] = ord("N")
    assert rows.tobytes() == b"NCGACG" and seq.tobytes() == b"ACGTACGTAC"
