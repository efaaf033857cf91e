"""Sequence sampling for the synthetic genome: background Markov chains in isochores, coding
sequences from the codon table, mutated repeat copies."""

from __future__ import annotations

import bisect
import math

import numpy as np

from dnatune.genome.simulate_grammar import (
    ISOCHORE_GC,
    MARKOV_ORDER,
    MARKOV_QUANT,
    Grammar,
    RepeatFamily,
    encode,
)

CHUNK = 1_000  # background chains restart every CHUNK bp so all chunks of a chromosome run at once
ISOCHORE_CHUNKS = (10, 61)  # isochore length in chunks: 10-60 kb


def markov(
    rng: np.random.Generator, g: Grammar, tables: np.ndarray, length: int, batch: int = 128
) -> np.ndarray:
    """len(tables) independent Markov chains of `length` bases (one per row), run in parallel.

    Hand-written on purpose: no library samples a Markov chain, and stepping all chains at once
    with one table gather per base keeps 100 Mbp within seconds.
    """
    n = len(tables)
    k = MARKOV_ORDER
    mask = 4**k - 1
    out = np.empty((length, n), dtype=np.uint8)
    state = rng.integers(0, 4**k, n)
    for j in range(min(k, length)):
        out[j] = (state >> (2 * (k - 1 - j))) & 3
    base = tables.astype(np.int64) * (4**k)
    shift = int(math.log2(MARKOV_QUANT))
    for t0 in range(k, length, batch):
        q = rng.integers(0, MARKOV_QUANT, (min(batch, length - t0), n), dtype=np.int64)
        for i in range(q.shape[0]):
            nxt = g.markov_lut[((base + state) << shift) | q[i]]
            out[t0 + i] = nxt
            state = ((state << 2) | nxt) & mask
    return np.ascontiguousarray(out.T)


def background(rng: np.random.Generator, g: Grammar, length: int) -> np.ndarray:
    n_chunks = -(-length // CHUNK)
    tables = np.empty(n_chunks, dtype=np.int64)
    i, prev = 0, -10
    n_gc = len(ISOCHORE_GC)
    while i < n_chunks:
        span = int(rng.integers(*ISOCHORE_CHUNKS))
        # neighbouring isochores differ by at least two GC levels
        choices = [c for c in range(n_gc) if abs(c - prev) >= 2]
        c = choices[int(rng.integers(len(choices)))]
        tables[i : i + span] = c
        i, prev = i + span, c
    return markov(rng, g, tables, CHUNK).reshape(-1)[:length].copy()


def pick(rng: np.random.Generator, cum, n: int | None = None):
    """Index drawn from the distribution with cumulative sums `cum` (rng.choice(p=) redoes them)."""
    if n is None:  # bisect: a scalar numpy call costs more than the search
        return min(bisect.bisect_right(cum, rng.random()), len(cum) - 1)
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


def coding_sequence(rng: np.random.Generator, g: Grammar, n_codons: int) -> np.ndarray:
    body = g.codons[pick(rng, g.codon_cum, n_codons - 2)]
    stop = g.stops[pick(rng, g.stop_cum)]
    return np.concatenate([encode("ATG"), body.reshape(-1), stop])


def _mutate(rng: np.random.Generator, seq: np.ndarray, divergence: float) -> np.ndarray:
    out = seq.copy()
    sub = rng.random(len(out)) < divergence * 0.9
    out[sub] = (out[sub] + rng.integers(1, 4, int(sub.sum()))) % 4
    indel = divergence * 0.05
    out = out[rng.random(len(out)) >= indel]
    n_ins = int(rng.binomial(len(out), indel))
    if n_ins:
        pos = rng.integers(0, len(out) + 1, n_ins)
        out = np.insert(out, pos, rng.integers(0, 4, n_ins).astype(np.uint8))
    return out.astype(np.uint8)


def repeat_copy(rng: np.random.Generator, fam: RepeatFamily) -> tuple[np.ndarray, float]:
    cons = fam.consensus
    n = len(cons)
    if fam.kind == "LINE":  # 5' truncation, most copies short
        keep = max(100, int(n * math.exp(rng.uniform(math.log(0.05), 0.0))))
        seq = cons[n - keep :]
    elif fam.kind == "satellite":
        seq = np.tile(cons, int(rng.integers(3, 13)))
    elif rng.random() < 0.3:
        seq = cons[int(rng.integers(0, n // 3)) : n - int(rng.integers(0, n // 3))]
    else:
        seq = cons
    divergence = float(rng.uniform(*fam.divergence))
    seq = _mutate(rng, seq, divergence)
    return seq, divergence


def random_partition(rng: np.random.Generator, total: int, parts: int, minimum: int) -> list[int]:
    extra = total - parts * minimum
    cuts = np.sort(rng.integers(0, extra + 1, parts - 1))
    return [int(x) + minimum for x in np.diff(np.concatenate([[0], cuts, [extra]]))]
