"""Negatives for annotation tasks: background windows that avoid the features (GC-matched
to the positives if asked), or base-shuffled copies of the positives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dnatune.tasks.genome_sequences import (
    coordinates,
    fetch,
    gc_fraction,
    n_fraction,
    overlaps,
)
from dnatune.tasks.sources import TaskInputError

GC_BINS = 20


def negative_windows(
    kind, fasta, lengths, exclusion, positives, count, length, max_n, spec, rng, stats
) -> tuple[str, pd.DataFrame]:
    """The negatives' class name and frame for source.annotation.negatives `kind`
    (background, shuffled or none), `count` of them where there are any."""
    name = "shuffled" if kind == "shuffled" else "background"
    if kind == "background":
        frame = _background_windows(
            fasta, lengths, exclusion, positives, count, length, max_n, spec, rng, stats
        )
        frame = frame.assign(id="background@" + coordinates(frame))
    elif kind == "shuffled":
        frame = _shuffled_windows(positives, count, rng)
    else:
        frame = positives.iloc[:0]
    return name, frame.assign(**{"class": name})


def _tile_batches(rng, total: int, batch: int):
    """Random distinct tile indices, batch by batch."""
    if total <= 20 * batch:
        order = rng.permutation(total)
        for i in range(0, total, batch):
            yield order[i : i + batch]
        return
    seen: set[int] = set()
    for _ in range(20):
        draw = np.unique(rng.integers(0, total, size=batch))
        fresh = np.array([i for i in draw if i not in seen], dtype=np.int64)
        seen.update(fresh.tolist())
        yield fresh


def _background_windows(
    fasta, lengths, exclusion, positives, count, length, max_n, spec, rng, stats
):
    """Windows on a random tiling of the genome that avoid the features; GC-matched if asked."""
    chroms = list(lengths)
    offsets = rng.integers(0, length, size=len(chroms))
    tiles = np.array(
        [max((lengths[c] - o) // length, 0) for c, o in zip(chroms, offsets, strict=True)]
    )
    bounds = np.cumsum(tiles)
    want = 3 * count if spec["gc_match"] else count
    pool: list[tuple] = []
    for batch in _tile_batches(rng, int(bounds[-1]), max(2 * want, 1000)):
        which = np.searchsorted(bounds, batch, side="right")
        starts = offsets[which] + (batch - (bounds[which] - tiles[which])) * length
        names = np.asarray(chroms, dtype=object)[which]
        free = ~overlaps(exclusion, names, starts, starts + length)
        strands = rng.choice(["+", "-"], size=len(batch))
        for chrom, start, strand in zip(names[free], starts[free], strands[free], strict=True):
            sequence = fetch(fasta, chrom, start, start + length, strand)
            if n_fraction(sequence) <= max_n:
                pool.append(
                    (
                        chrom,
                        int(start),
                        int(start) + length,
                        strand,
                        sequence,
                        gc_fraction(sequence),
                    )
                )
        if len(pool) >= want:
            break
    stats["background_pool"] = len(pool)
    if not pool:
        raise TaskInputError(
            f"no background window of {length} bp avoids every {spec['feature']} feature and "
            f"has at most {max_n:.0%} N; use a shorter source.annotation.length or "
            "negatives: shuffled"
        )
    if len(pool) < count:
        stats["negatives_short_by"] = count - len(pool)
    columns = ["chrom", "start", "end", "strand", "sequence", "gc"]
    candidates = pd.DataFrame(pool, columns=columns)
    if not spec["gc_match"]:
        return candidates.iloc[:count]
    return candidates.iloc[
        _gc_matched(candidates["gc"].to_numpy(), positives["gc"].to_numpy(), count, rng)
    ]


def _gc_matched(pool_gc: np.ndarray, target_gc: np.ndarray, count: int, rng) -> list[int]:
    """Indices into the pool whose GC histogram follows the targets' (nearest bin when short)."""
    targets = rng.choice(target_gc, size=count, replace=count > len(target_gc))
    pool_bin = np.minimum((pool_gc * GC_BINS).astype(int), GC_BINS - 1)
    by_bin = [list(rng.permutation(np.flatnonzero(pool_bin == b))) for b in range(GC_BINS)]
    chosen = []
    for gc in targets[: min(count, len(pool_gc))]:
        b = min(int(gc * GC_BINS), GC_BINS - 1)
        for distance in range(GC_BINS):
            hit = next(
                (c for c in (b - distance, b + distance) if 0 <= c < GC_BINS and by_bin[c]), None
            )
            if hit is not None:
                chosen.append(by_bin[hit].pop())
                break
    return chosen


def _shuffled_windows(positives: pd.DataFrame, count: int, rng) -> pd.DataFrame:
    """Negatives with the composition of positives: each a base-shuffled copy of one positive."""
    picks = positives.iloc[rng.choice(len(positives), size=count, replace=count > len(positives))]
    shuffled = [
        "".join(rng.permutation(np.array(list(sequence)))) for sequence in picks["sequence"]
    ]
    ids = [f"shuffled{i}:{id_}" for i, id_ in enumerate(picks["id"])]
    return picks.drop(columns=["class"]).assign(sequence=shuffled, id=ids).reset_index(drop=True)
