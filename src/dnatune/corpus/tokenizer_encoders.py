"""Vectorised encoders for the char and k-mer kinds: numpy over whole genome chunks or
rows of equal length, giving the same ids as the saved transformers tokenizer."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dnatune.corpus.tokenizer_kinds import BERT_SPECIALS, NT_SPECIALS, TokenizerError
from dnatune.genome import kmer


class _CharEncoder:
    """One token per base. `ids_1d` over a whole genome chunk, then windows are slices."""

    def __init__(self, info: dict):
        self.prefix = np.array([2], dtype=np.int64)
        self.suffix = np.array([3], dtype=np.int64)

    def width(self, size: int) -> int:
        return size

    def ids_1d(self, digits: np.ndarray, is_n: np.ndarray | None) -> np.ndarray:
        return kmer.char_ids(digits, is_n, len(BERT_SPECIALS))

    def content(self, digits, is_n) -> tuple[np.ndarray, np.ndarray]:
        ids = self.ids_1d(digits, is_n)
        return ids.ravel(), np.full(ids.shape[0], ids.shape[1], dtype=np.int64)

    def windows(
        self, chunk: np.ndarray, starts: np.ndarray, size: int, minus: np.ndarray, dtype
    ) -> np.ndarray:
        """(n, tokens) ids of the windows chunk[s:s+size], reverse-complemented where `minus`:
        computed once along the chunk (and once along its reverse complement), then sliced."""
        prefix, suffix = self.prefix, self.suffix
        p, width = len(prefix), self.width(size)
        out = np.empty((len(starts), p + width + len(suffix)), dtype=dtype)
        out[:, :p] = prefix
        out[:, p + width :] = suffix
        digits, is_n = kmer.base_digits(chunk)
        plus = ~minus
        if plus.all():
            out[:, p : p + width] = kmer.windows_view(self.ids_1d(digits, is_n), starts, width)
        elif plus.any():
            ids = kmer.windows_view(self.ids_1d(digits, is_n), starts[plus], width)
            out[plus, p : p + width] = ids
        if minus.any():
            reverse = self.ids_1d(*kmer.reverse_complement_digits(digits, is_n))
            rc_starts = len(chunk) - starts[minus] - size
            out[minus, p : p + width] = kmer.windows_view(reverse, rc_starts, width)
        return out


class _OverlapKmerEncoder(_CharEncoder):
    """DNABERT: overlapping k-mers; a window of L bases has L - k + 1 of them."""

    def __init__(self, info: dict):
        super().__init__(info)
        self.k = int(info["k"])

    def width(self, size: int) -> int:
        return max(size - self.k + 1, 0)

    def ids_1d(self, digits: np.ndarray, is_n: np.ndarray | None) -> np.ndarray:
        return kmer.overlapping_kmer_ids(digits, is_n, self.k, len(BERT_SPECIALS), 1)


class _NonOverlapKmerEncoder:
    """Nucleotide Transformer: the k-mer frame depends on the window, so rows are encoded."""

    ids_1d = None

    def __init__(self, info: dict):
        self.k = int(info["k"])
        self.prefix = np.array([NT_SPECIALS.index("<cls>")], dtype=np.int64)
        self.suffix = np.zeros(0, dtype=np.int64)

    def content(self, digits, is_n) -> tuple[np.ndarray, np.ndarray]:
        offset = len(NT_SPECIALS)
        return kmer.nonoverlapping_kmer_ids(digits, is_n, self.k, offset, offset + 4**self.k)


def vectorised_encoder(info: dict):
    if info["kind"] == "char":
        return _CharEncoder(info)
    if info["kind"] == "kmer":
        return _OverlapKmerEncoder(info) if info["overlap"] else _NonOverlapKmerEncoder(info)
    return None


def with_specials(
    values: np.ndarray, lengths: np.ndarray, prefix: np.ndarray, suffix: np.ndarray, dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Insert prefix and suffix ids around each row of a ragged (values, lengths) array."""
    p, s = len(prefix), len(suffix)
    new_lengths = lengths + p + s
    out = np.empty(int(new_lengths.sum()), dtype=dtype)
    ends = np.cumsum(new_lengths)
    starts = ends - new_lengths
    content = np.ones(len(out), dtype=bool)
    for j in range(p):
        out[starts + j] = prefix[j]
        content[starts + j] = False
    for j in range(s):
        out[ends - s + j] = suffix[j]
        content[ends - s + j] = False
    out[content] = values
    return out, new_lengths


def split_ragged(values: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(lengths)[:-1]) if len(lengths) else []


def rows_by_length(seqs: Sequence[str | bytes]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, seq in enumerate(seqs):
        groups.setdefault(len(seq), []).append(i)
    return groups


def truncate(
    ids: list[list[int]], limit: int, prefix: np.ndarray, suffix: np.ndarray
) -> list[list[int]]:
    """Rows cut to `limit` tokens, keeping the special tokens and cutting the sequence's own."""
    prefix, suffix = prefix.tolist(), suffix.tolist()
    keep = limit - len(prefix) - len(suffix)
    if keep < 0:
        raise TokenizerError(f"max_length {limit} leaves no room for special tokens")
    return [r if len(r) <= limit else r[: len(prefix) + keep] + suffix for r in ids]
