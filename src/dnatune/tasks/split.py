"""Train/val/test assignment of task examples.

Sequence files without coordinates get a (stratified) random split. Examples
with genome coordinates are split by whole chromosome, or by contiguous region
when there are too few chromosomes to hit the fractions, so that no val or test
example overlaps a train example: genome-derived tasks are never split at random.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from dnatune.tasks.sources import SPLITS, TaskInputError

# auto: chromosomes are used when every split's share is within this factor of its target
CHROMOSOME_TOLERANCE = 2.0
# auto block size: the genome span over about this many blocks (at least 10 example lengths)
AUTO_BLOCKS = 50


def random_split(
    n: int, val: float, test: float, seed: int, strata: np.ndarray | None = None
) -> np.ndarray:
    """Split names for n examples; stratified on `strata` when given."""
    index = np.arange(n)
    try:
        rest, test_index = train_test_split(
            index, test_size=test, random_state=seed, stratify=strata
        )
        train_index, val_index = train_test_split(
            rest,
            test_size=val / (1 - test),
            random_state=seed,
            stratify=None if strata is None else strata[rest],
        )
    except ValueError as err:
        raise TaskInputError(
            f"cannot split {n} examples into val {val} / test {test}"
            f"{' stratified by class' if strata is not None else ''}: {err}. "
            "Fix: add examples of the rare classes, or provide your own splits with "
            "'{split}' in the source path"
        ) from None
    names = np.empty(n, dtype=object)
    names[train_index], names[val_index], names[test_index] = "train", "val", "test"
    return names


def carve(n: int, fraction: float, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of the `fraction` of n examples to move out (val carved from train)."""
    try:
        _, taken = train_test_split(
            np.arange(n), test_size=fraction, random_state=seed, stratify=strata
        )
    except ValueError as err:
        raise TaskInputError(
            f"cannot carve a val split ({fraction}) from {n} train examples: {err}. "
            "Fix: provide a val (or dev) file beside train and test"
        ) from None
    mask = np.zeros(n, dtype=bool)
    mask[taken] = True
    return mask


def _assign(units: list, counts: np.ndarray, targets: dict[str, float]) -> dict:
    """Each unit to the split furthest below its target count, in the given order."""
    total = counts.sum()
    filled = dict.fromkeys(SPLITS, 0)
    assignment = {}
    for unit, count in zip(units, counts, strict=True):
        split = max(SPLITS, key=lambda s: targets[s] * total - filled[s])
        assignment[unit] = split
        filled[split] += count
    return assignment


def genome_split(
    frame: pd.DataFrame,
    val: float,
    test: float,
    seed: int,
    by: str = "auto",
    block_size: int | None = None,
    chromosomes: dict | None = None,
) -> tuple[np.ndarray, str, dict]:
    """Split examples with chrom/start/end by chromosome or contiguous region.

    Returns (split name per example, None for an example dropped because it
    straddles two regions of different splits), the method and its detail.
    """
    targets = {"train": 1 - val - test, "val": val, "test": test}
    chrom = frame["chrom"].astype(str).to_numpy()
    counts = pd.Series(chrom).value_counts()
    if chromosomes:
        return _explicit_chromosomes(chrom, counts, chromosomes)
    if by in ("auto", "chromosome"):
        order = counts.sort_values(ascending=False, kind="stable")
        assignment = _assign(list(order.index), order.to_numpy(), targets)
        names = np.array([assignment[c] for c in chrom], dtype=object)
        share = {s: float(np.mean(names == s)) for s in SPLITS}
        fits = all(
            targets[s] / CHROMOSOME_TOLERANCE <= share[s] <= targets[s] * CHROMOSOME_TOLERANCE
            for s in ("val", "test")
        )
        if fits or by == "chromosome":
            empty = [s for s in SPLITS if share[s] == 0]
            if empty:
                raise TaskInputError(
                    f"split by chromosome leaves {empty} empty: the examples lie on only "
                    f"{len(counts)} chromosome(s) ({', '.join(counts.index[:5])}). "
                    "Fix: set source.split.by to 'region' (or 'auto')"
                )
            detail = {s: sorted(c for c, v in assignment.items() if v == s) for s in SPLITS}
            return names, "chromosome", detail
    return _region_split(frame, chrom, targets, seed, block_size)


def _explicit_chromosomes(chrom, counts, chromosomes) -> tuple[np.ndarray, str, dict]:
    assignment = {}
    for split in ("val", "test"):
        for name in chromosomes.get(split, []):
            if name not in counts.index:
                raise TaskInputError(
                    f"source.split.chromosomes.{split} names {name!r}, which holds no examples; "
                    f"chromosomes with examples: {sorted(counts.index)[:20]}"
                )
            assignment[name] = split
    names = np.array([assignment.get(c, "train") for c in chrom], dtype=object)
    empty = [s for s in SPLITS if not (names == s).any()]
    if empty:
        raise TaskInputError(
            f"source.split.chromosomes leaves {empty} without examples; list chromosomes for "
            "both val and test, and leave at least one for train"
        )
    detail = {
        s: sorted({c for c in counts.index if assignment.get(c, "train") == s}) for s in SPLITS
    }
    return names, "chromosome", detail


def _region_split(frame, chrom, targets, seed, block_size) -> tuple[np.ndarray, str, dict]:
    start = frame["start"].to_numpy(dtype=np.int64)
    end = frame["end"].to_numpy(dtype=np.int64)
    longest = int((end - start).max())
    if block_size is None:
        span = sum(int(end[chrom == c].max() - start[chrom == c].min()) for c in np.unique(chrom))
        block_size = max(10 * longest, math.ceil(span / AUTO_BLOCKS))
        block_size = int(math.ceil(block_size / 1000) * 1000) if block_size > 1000 else block_size
    elif block_size < longest:
        raise TaskInputError(
            f"source.split.block_size {block_size} is shorter than the longest example "
            f"({longest} bp); use at least 10 times the example length"
        )
    block = (start + end) // 2 // block_size
    units = pd.DataFrame({"chrom": chrom, "block": block}).value_counts().sort_index()
    if len(units) < 3:
        raise TaskInputError(
            f"only {len(units)} region(s) of {block_size} bp hold examples; a leakage-free split "
            "needs at least 3. Fix: set source.split.block_size smaller"
        )
    order = np.random.default_rng(seed).permutation(len(units))
    keys = [units.index[i] for i in order]
    assignment = _assign(keys, units.to_numpy()[order], targets)
    names = np.array([assignment[(c, b)] for c, b in zip(chrom, block, strict=True)], dtype=object)
    # an example reaching into a neighbouring region of another split is dropped:
    # it would overlap the examples on the other side of the boundary
    left = start < block * block_size
    right = end > (block + 1) * block_size
    for side, step in ((left, -1), (right, 1)):
        for i in np.flatnonzero(side):
            neighbour = assignment.get((chrom[i], block[i] + step))
            if neighbour is not None and neighbour != names[i]:
                names[i] = None
    empty = [s for s in SPLITS if not (names == s).any()]
    if empty:
        raise TaskInputError(
            f"the split by {len(units)} regions of {block_size} bp leaves {empty} empty. "
            "Fix: set source.split.block_size smaller"
        )
    regions: dict[str, list] = {s: [] for s in SPLITS}
    for (c, b), split in sorted(assignment.items()):
        runs = regions[split]
        if runs and runs[-1][0] == c and runs[-1][3] == b - 1:
            runs[-1][2], runs[-1][3] = int((b + 1) * block_size), b
        else:
            runs.append([c, int(b * block_size), int((b + 1) * block_size), b])
    detail = {
        "block_size": int(block_size),
        "regions": {s: [r[:3] for r in runs] for s, runs in regions.items()},
        "dropped_at_boundaries": int(sum(n is None for n in names)),
    }
    return names, "region", detail
