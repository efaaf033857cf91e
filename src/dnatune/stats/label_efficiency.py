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

The bootstrap follows dnatune.stats.transfer: each resample draws test examples with
replacement (the same draw for every cell, which pairs them) and seeds with replacement
(the same seeds for every curve point), recomputes every cell's metric and the curves'
seed means, and reads the crossing again. Without every cell's test predictions only
the seeds are resampled, from the metrics in summary.tsv. `less_data` turns these into the claim's row of claims.tsv:
`helps` when the CI's lower end is above the smallest fraction, judged on the CI alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from dnatune.cell_outputs import Predictions
from dnatune.evaluate.readers import CellKey
from dnatune.metrics import batched_metrics
from dnatune.stats.claim_grid import Estimate, Grid, Subject, bootstrap_method, by_seed, interval
from dnatune.stats.transfer import BASELINE, RESAMPLE_BUDGET
from dnatune.stats.verdicts import display_name


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


# ---------------------------------------------------------------- the claim


def less_data(grid: Grid, subject: Subject) -> dict:
    """Label efficiency at the variant's smallest fraction, read on scratch's curve."""
    f0 = grid.fractions(subject)[0]
    claim = partial(subject.absent, "less_data", f0, BASELINE)
    scratch = grid.values(subject.task, subject.model, BASELINE, subject.metric)
    if scratch.empty:
        return claim("no scratch cells in the grid: add scratch to finetune.variants")
    fractions = sorted(float(f) for f in scratch["label_fraction"].unique())
    if f0 not in fractions:
        return claim(f"scratch has no cells at {f0 * 100:g}% labels, the variant's smallest")
    points = {("scratch", f): by_seed(scratch, f) for f in fractions}
    treated = grid.values(subject.task, subject.model, subject.variant, subject.metric, f0)
    points[(subject.variant, f0)] = by_seed(treated, f0)
    curve = Curve(points)
    target = curve.mean((subject.variant, f0))
    estimate = crossing(
        fractions, [curve.mean(("scratch", f)) for f in fractions], target, subject.higher
    )
    keys = [
        CellKey(subject.task, subject.model, v, f, s) for (v, f), by in points.items() for s in by
    ]
    values = {k: points[(k.variant, k.label_fraction)][k.seed] for k in keys}
    rng = np.random.default_rng(grid.seed)
    draws, examples = resampled_cells(
        keys, values, grid.predictions, subject.task_type, subject.metric, grid.n_boot, rng
    )
    n_seeds = len(curve.seeds())
    if (n_seeds < 2 and not examples) or grid.n_boot <= 0:
        low = high = math.nan
        method = "none (1 seed, no test predictions)"
    else:
        samples = efficiency_draws(
            curve,
            {(k.variant, k.label_fraction, k.seed): d for k, d in draws.items()},
            (subject.variant, f0),
            fractions,
            subject.higher,
            rng,
        )
        low, high = interval(samples, grid.confidence)
        method = bootstrap_method(grid.n_boot, examples)
    degenerate = all(grid.degenerate.get(k, False) for k in keys)
    numbers = Efficiency(subject, f0, max(fractions), target, estimate, low, high)
    return subject.measured(
        "less_data",
        f0,
        Estimate(n_seeds, estimate, low, high, method),
        numbers.verdict(grid.level, degenerate),
        "scratch's seed-mean curve interpolated linearly in log label fraction",
    )


@dataclass
class Efficiency:
    subject: Subject
    smallest: float
    largest: float
    target: float
    estimate: float
    low: float
    high: float

    def verdict(self, level: str, degenerate: bool) -> tuple[str, str]:
        s, f0 = self.subject, fraction_text(self.smallest, self.largest)
        name = display_name(s.metric)
        reach = f"the {name} {self.target:.2f} that {s.what} reaches with {f0} of the labels"
        needs = f"scratch needs {fraction_text(self.estimate, self.largest)} of the labels"
        never = "never within the grid; " if math.isinf(self.estimate) else ""
        ci = (
            f" ({never}{level} CI {fraction_text(self.low, self.largest)} to "
            f"{fraction_text(self.high, self.largest)})"
            if not math.isnan(self.low)
            else f" ({never}no CI: add seeds or keep the test predictions)"
        )
        if degenerate:
            return "neither", (
                "neither variant learned this task at any label fraction, so no label saving "
                "is judged; likely causes: too few training steps or labels"
            )
        if self.estimate <= self.smallest:
            return "none", (
                f"no label saving within the grid: scratch already reaches {reach}; "
                f"the grid cannot say whether scratch would need fewer than {f0}"
            )
        if not math.isnan(self.low) and self.low > self.smallest:
            times = (
                f", {self.estimate / self.smallest:.1f}× as many"
                if math.isfinite(self.estimate)
                else ""
            )
            return "helps", f"{s.what} saves labels: {needs}{ci} to match {reach}{times}"
        return "none", (
            f"no evidence that {s.what} saves labels: {needs}{ci} to match {reach}; "
            f"the CI reaches {f0}, no saving"
        )


def fraction_text(value: float, largest: float) -> str:
    """0.20, or 'more than 1.0' when scratch never gets there within the grid."""
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return f"more than {_decimal(largest)}"
    return _decimal(value)


def _decimal(value: float) -> str:
    text = f"{value:.2g}"
    return text if "." in text or "e" in text else f"{text}.0"
