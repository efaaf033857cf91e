"""The leak-free train/val/test split of a genome's windows.

Whole chromosomes go to val and test by length (largest first while they fit the requested
fraction), so no test sequence shares a chromosome with training. With too few chromosomes
for that (a split would get none, or one far larger than asked for), the split falls back to
contiguous blocks along each chromosome, assigned by a low-discrepancy sequence; windows that
straddle two blocks of different splits are dropped (split code DROP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SPLITS = ("train", "val", "test")
DROP = -1
_GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass
class SplitPlan:
    """How windows get their split: whole chromosomes, or blocks along chromosomes."""

    method: str
    chromosomes: dict[str, int] = field(default_factory=dict)  # chrom -> split code
    block_size: int = 0
    first_block: dict[str, int] = field(default_factory=dict)  # chrom -> global block index
    blocks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))  # codes
    reason: str = ""

    def split_codes(self, chrom: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Split code per window (0 train, 1 val, 2 test, -1 straddles two blocks)."""
        if self.method == "chromosome":
            return np.full(len(starts), self.chromosomes.get(chrom, 0), dtype=np.int8)
        first = self.block_codes(chrom, starts // self.block_size)
        last = self.block_codes(chrom, (ends - 1) // self.block_size)
        return np.where(first == last, first, DROP).astype(np.int8)

    def block_codes(self, chrom: str, block: np.ndarray) -> np.ndarray:
        return self.blocks[self.first_block[chrom] + block]

    def describe(self) -> str:
        if self.method == "chromosome":
            held = {
                SPLITS[code]: sorted(c for c, v in self.chromosomes.items() if v == code)
                for code in (1, 2)
            }
            return f"split by chromosome: val={held['val']} test={held['test']}"
        return f"split by blocks of {self.block_size} bp" + (
            f" ({self.reason})" if self.reason else ""
        )


def plan_split(
    lengths: dict[str, int],
    val: float = 0.05,
    test: float = 0.05,
    by: str = "chromosome",
    block_size: int = 1_000_000,
    window_size: int = 512,
) -> SplitPlan:
    """Decide the train/val/test split of a genome given its chromosome lengths (in order)."""
    total = sum(lengths.values())
    requested = [(code, frac) for code, frac in ((2, test), (1, val)) if frac > 0]
    reason = ""
    if by == "chromosome":
        assigned, reason = _assign_chromosomes(lengths, requested, total)
        if assigned is not None:
            return SplitPlan("chromosome", chromosomes=assigned)
    # blocks: small enough that each held-out split gets several, large against a window
    smallest = min((frac for _, frac in requested), default=1.0)
    wanted_blocks = math.ceil(4 / smallest)
    size = max(min(block_size, total // wanted_blocks), 8 * window_size, 1)
    if size < block_size:
        note = f"block_size {block_size} lowered to {size} to give every split blocks"
        reason = f"{reason}; {note}" if reason else note
    first_block, block_lengths = {}, []
    for chrom, length in lengths.items():
        first_block[chrom] = len(block_lengths)
        n = max(1, math.ceil(length / size))
        block_lengths += [size] * (n - 1) + [length - size * (n - 1)]
    blocks = _assign_blocks(np.array(block_lengths), requested, total, window_size)
    return SplitPlan(
        "block", block_size=size, first_block=first_block, blocks=blocks, reason=reason
    )


def _assign_blocks(
    lengths: np.ndarray, requested: list[tuple[int, float]], total: int, window_size: int
) -> np.ndarray:
    """Held-out blocks, spread along the genome by a low-discrepancy sequence: taken in
    that order until each split has its share of bases, and at least one block that
    holds a window."""
    codes = np.zeros(len(lengths), dtype=np.int8)
    order = np.argsort(((np.arange(len(lengths)) + 1) * _GOLDEN) % 1.0, kind="stable")
    order = [b for b in order.tolist() if lengths[b] >= window_size]
    taken = 0
    for code, frac in requested:
        got = 0
        while taken < len(order) - 1 and (got == 0 or got < frac * total):
            codes[order[taken]] = code
            got += lengths[order[taken]]
            taken += 1
    return codes


def _assign_chromosomes(
    lengths: dict[str, int], requested: list[tuple[int, float]], total: int
) -> tuple[dict[str, int] | None, str]:
    if len(lengths) < len(requested) + 1:
        return None, (
            f"{len(lengths)} chromosome(s) cannot give train and each held-out split one; "
            "falling back to blocks"
        )
    order = sorted(lengths, key=lambda c: (-lengths[c], c))
    assigned: dict[str, int] = {}
    for n, (code, frac) in enumerate(requested):
        need = frac * total
        spare = len(lengths) - len(assigned) - (len(requested) - n)  # keep one per later split
        got = 0
        for chrom in order:
            if spare <= 0:
                break
            if chrom not in assigned and got + lengths[chrom] <= need:
                assigned[chrom] = code
                got += lengths[chrom]
                spare -= 1
        if got == 0:
            chrom = min((c for c in order if c not in assigned), key=lambda c: (lengths[c], c))
            assigned[chrom] = code
            got = lengths[chrom]
        if got > max(2 * need, need + 0.01 * total):
            return None, (
                f"the smallest chromosome for {SPLITS[code]} holds {got / total:.1%} of the "
                f"genome, over twice the {frac:.1%} asked for; falling back to blocks"
            )
    return assigned, ""
