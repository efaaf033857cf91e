"""Less data: the label fraction scratch needs to match what a pre-trained variant reaches
with the fewest labels, read off scratch's data-efficiency curve, with bootstrap draws.

The curve is scratch's headline metric per label fraction, averaged over seeds. The
fraction where it first reaches the target (the pre-trained variant's seed-mean at the
grid's smallest fraction) is interpolated linearly in log-fraction between the two grid
points around the crossing: label grids are roughly geometric (0.05, 0.25, 1.0), and
learning curves are closer to straight against log-labels than against labels. A curve
already at the target at the smallest fraction gives that fraction (the grid cannot say
how much less scratch would need); one that never reaches it gives infinity ("more than
the largest fraction").

The bootstrap follows dnatune.transfer: each resample draws test examples with
replacement (the same draw for every cell, which pairs them) and seeds with replacement
(the same seeds for every curve point), recomputes every cell's metric and the curves'
seed means, and reads the crossing again. Without every cell's test predictions only
the seeds are resampled, from the metrics in summary.tsv.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dnatune.cell_outputs import Predictions
from dnatune.metrics import batched_metrics
from dnatune.report_inputs import CellKey
from dnatune.transfer import RESAMPLE_BUDGET


def crossing(fractions: Sequence[float], means: Sequence[float], target: float, higher: bool):
    """The fraction at which the curve (ascending `fractions`) first reaches `target`.

    Linear in log-fraction between the grid points around the crossing; inf when the
    curve never reaches it; points with a NaN mean are skipped.
    """
    sign = 1.0 if higher else -1.0
    points = [(f, sign * m) for f, m in zip(fractions, means, strict=True) if math.isfinite(m)]
    goal = sign * target
    for i, (fraction, value) in enumerate(points):
        if value < goal:
            continue
        if i == 0:
            return float(fraction)
        low_f, low_v = points[i - 1]
        share = (goal - low_v) / (value - low_v)
        return float(math.exp(math.log(low_f) + share * (math.log(fraction) - math.log(low_f))))
    return math.inf


@dataclass
class Curve:
    """Per-seed metric of the cells of a curve point: {(variant, fraction): {seed: value}}."""

    points: dict[tuple[str, float], dict[int, float]]

    def mean(self, point: tuple[str, float]) -> float:
        values = [v for v in self.points[point].values() if math.isfinite(v)]
        return float(np.mean(values)) if values else math.nan

    def seeds(self) -> list[int]:
        return sorted({s for by_seed in self.points.values() for s in by_seed})


def resampled_cells(
    keys: Sequence[CellKey],
    values: Mapping[CellKey, float],
    predictions: Mapping[CellKey, Predictions],
    task_type: str,
    metric: str,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[dict[CellKey, np.ndarray], bool]:
    """Each cell's metric over `n_boot` test-example resamples shared by all cells, and
    whether the test examples were resampled (False: every draw is the cell's own value,
    because a cell lacks test predictions or the cells cover different test rows)."""
    loaded = [predictions.get(k) for k in keys]
    rows = loaded[0].rows if loaded and loaded[0] is not None else None
    if rows is None or any(p is None or not np.array_equal(p.rows, rows) for p in loaded):
        return {k: np.full(n_boot, values[k], dtype=float) for k in keys}, False
    n, width = len(rows), loaded[0].scores[0].size
    chunk = max(1, min(n_boot, RESAMPLE_BUDGET // (n * width)))
    parts: dict[CellKey, list[np.ndarray]] = {k: [] for k in keys}
    for start in range(0, n_boot, chunk):
        index = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        for key, p in zip(keys, loaded, strict=True):
            drawn = batched_metrics(task_type, p.labels[index], p.scores[index], p.threshold)
            parts[key].append(np.asarray(drawn[metric], dtype=float))
    return {k: np.concatenate(v) for k, v in parts.items()}, True


def efficiency_draws(
    curve: Curve,
    draws: Mapping[tuple[str, float, int], np.ndarray],
    treated: tuple[str, float],
    scratch_fractions: Sequence[float],
    higher: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bootstrap draws of the crossing: `draws[(variant, fraction, seed)]` are a cell's metric
    per resample; seeds are redrawn with replacement, the same seeds for every curve point."""
    seeds = curve.seeds()
    n_boot = len(next(iter(draws.values())))
    weights = rng.multinomial(len(seeds), np.full(len(seeds), 1 / len(seeds)), n_boot)

    def seed_mean(variant: str, fraction: float) -> np.ndarray:
        stacked = np.vstack(
            [draws.get((variant, fraction, s), np.full(n_boot, np.nan)) for s in seeds]
        )
        w = np.where(np.isfinite(stacked), weights.T, 0)
        with np.errstate(all="ignore"):
            return np.nansum(stacked * w, axis=0) / w.sum(axis=0)

    targets = seed_mean(*treated)
    means = np.vstack([seed_mean("scratch", f) for f in scratch_fractions])
    out = np.array(
        [
            crossing(scratch_fractions, means[:, b], targets[b], higher)
            if math.isfinite(targets[b])
            else math.nan
            for b in range(n_boot)
        ]
    )
    return out[~np.isnan(out)]
