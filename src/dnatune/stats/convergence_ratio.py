"""Faster convergence: the steps a pre-trained variant takes to reach scratch's best validation
metric, as a ratio of the steps scratch took to reach it, from the cells' history.json.

Per seed (both variants of a seed share the label subsample and the step budget): scratch's
best validation value of the headline metric and the first step it was logged at; the
first step the pre-trained variant's validation value is at least as good (infinity when
it never is). The ratio pools the seeds, sum of the variant's steps over sum of scratch's,
so one seed's tiny step count cannot dominate it; its bootstrap draws resample the seeds.
Steps are only known at evaluations, every `eval_steps` optimiser steps (history.json
records it), so the ratio's resolution is eval_steps over scratch's steps.
`faster_convergence` turns these into the claim's row of claims.tsv: `helps` when the CI
lies below 1, `hurts` above 1, judged on the CI alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from dnatune.evaluate.readers import CellKey
from dnatune.stats.claim_grid import Estimate, Grid, Subject, by_seed, interval
from dnatune.stats.transfer import BASELINE
from dnatune.stats.verdicts import display_name

TOLERANCE = 1e-9  # a validation value equal to scratch's best, up to float noise, reaches it


def validation_curve(history: dict, metric: str) -> list[tuple[int, float]]:
    """(step, value) of every validation evaluation of `metric` in history.json's log."""
    key = f"eval_{metric}"
    return [
        (int(entry["step"]), float(entry[key]))
        for entry in history.get("log_history") or []
        if isinstance(entry, dict)
        and entry.get(key) is not None
        and entry.get("step") is not None
        and math.isfinite(float(entry[key]))
    ]


def first_step_reaching(curve: list[tuple[int, float]], target: float, higher: bool) -> float:
    """The first step whose value is at least as good as `target`; inf when none is."""
    for step, value in sorted(curve):
        if (value >= target - TOLERANCE) if higher else (value <= target + TOLERANCE):
            return float(step)
    return math.inf


def best_value(curve: list[tuple[int, float]], higher: bool) -> float:
    values = [v for _, v in curve]
    return max(values) if higher else min(values)


@dataclass
class SeedSteps:
    """One seed: scratch's best validation value, the steps each variant took to reach it."""

    seed: int
    best: float
    scratch_steps: float
    variant_steps: float  # inf: never reached


def seed_steps(seed: int, scratch: list, variant: list, higher: bool) -> SeedSteps:
    best = best_value(scratch, higher)
    return SeedSteps(
        seed,
        best,
        first_step_reaching(scratch, best, higher),
        first_step_reaching(variant, best, higher),
    )


def pooled_ratio(steps: Sequence[SeedSteps]) -> float:
    """Sum of the variant's steps over sum of scratch's (inf when a seed never got there)."""
    return sum(s.variant_steps for s in steps) / sum(s.scratch_steps for s in steps)


def ratio_draws(steps: Sequence[SeedSteps], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of the pooled ratio, seeds resampled with replacement."""
    variant = np.array([s.variant_steps for s in steps])
    scratch = np.array([s.scratch_steps for s in steps])
    index = rng.integers(0, len(steps), size=(n_boot, len(steps)))
    return variant[index].sum(axis=1) / scratch[index].sum(axis=1)


# ---------------------------------------------------------------- the claim


def faster_convergence(grid: Grid, subject: Subject, fraction: float) -> dict:
    """Steps to scratch's best validation metric, the variant's over scratch's, at `fraction`."""
    claim = partial(subject.absent, "faster_convergence", fraction, BASELINE)
    scratch = by_seed(grid.values(subject.task, subject.model, BASELINE, subject.metric), fraction)
    treated = by_seed(
        grid.values(subject.task, subject.model, subject.variant, subject.metric), fraction
    )
    seeds = sorted(set(scratch) & set(treated))
    at = f"at {fraction * 100:g}% labels"
    if not seeds:
        return claim(f"no scratch cells sharing a seed with {subject.variant} {at}")
    keys = {
        (v, s): CellKey(subject.task, subject.model, v, fraction, s)
        for v in (BASELINE, subject.variant)
        for s in seeds
    }
    missing = [f"{v} s{s}" for (v, s), k in keys.items() if k not in grid.histories]
    if missing:
        return claim(f"history.json of {', '.join(missing)} {at} not read; rerun those cells")
    curves = {vs: validation_curve(grid.histories[k], subject.metric) for vs, k in keys.items()}
    empty = [f"{v} s{s}" for (v, s), c in curves.items() if not c]
    if empty:
        return claim(
            f"history.json of {', '.join(empty)} {at} logs no validation "
            f"{display_name(subject.metric)} (eval_{subject.metric}); rerun those cells"
        )
    steps = [
        seed_steps(s, curves[(BASELINE, s)], curves[(subject.variant, s)], subject.higher)
        for s in seeds
    ]
    estimate = pooled_ratio(steps)
    if len(steps) >= 2 and grid.n_boot > 0:
        draws = ratio_draws(steps, grid.n_boot, np.random.default_rng(grid.seed))
        low, high = interval(draws, grid.confidence)
        method = f"bootstrap over seeds ({grid.n_boot} resamples)"
    else:
        low = high = math.nan
        method = "none (1 seed)"
    degenerate = all(grid.degenerate.get(k, False) for k in keys.values())
    words = convergence_verdict(
        subject, fraction, steps, estimate, low, high, grid.level, degenerate
    )
    return subject.measured(
        "faster_convergence",
        fraction,
        Estimate(len(seeds), estimate, low, high, method),
        words,
        resolution_note(grid, keys.values(), steps),
    )


def resolution_note(grid: Grid, keys, steps: list[SeedSteps]) -> str:
    """'validation every 12 steps; scratch's best at 90 steps on average: ratio resolved to ~0.13'."""
    every = [grid.histories[k].get("eval_steps") for k in keys]
    every = [e for e in every if isinstance(e, (int, float)) and e > 0]
    mean_steps = float(np.mean([s.scratch_steps for s in steps]))
    if not every:
        return (
            f"scratch's best at {mean_steps:.0f} steps on average; evaluation interval not recorded"
        )
    interval_steps = max(every)
    return (
        f"validation every {interval_steps:g} steps; scratch's best at {mean_steps:.0f} steps on "
        f"average: the ratio is resolved to about {interval_steps / mean_steps:.2g}"
    )


def convergence_verdict(subject, fraction, steps, estimate, low, high, level, degenerate):
    at = f"at {fraction * 100:g}% labels"
    best = f"scratch's best validation {display_name(subject.metric)}"
    never = sum(math.isinf(s.variant_steps) for s in steps)
    if math.isfinite(estimate):
        mean = [np.mean([getattr(s, f) for s in steps]) for f in ("variant_steps", "scratch_steps")]
        reached = (
            f"reaches {best} in {ratio_text(estimate)} scratch's steps "
            f"({mean[0]:.0f} vs {mean[1]:.0f}, mean over seeds)"
        )
    else:
        reached = f"does not reach {best} within its run in {never} of {len(steps)} seeds"
    ci = (
        f" ({level} CI {ratio_text(low)} to {ratio_text(high)})"
        if not math.isnan(low)
        else " (no CI: one seed)"
    )
    if degenerate:
        return "neither", (
            f"neither variant learned this task {at}, so convergence to scratch's best is not "
            "judged; likely causes: too few training steps or labels, or the learning rate"
        )
    if not math.isnan(high) and high < 1:
        return "helps", f"{subject.what} converges faster {at}: {reached}{ci}"
    if not math.isnan(low) and low > 1:
        return "hurts", f"{subject.what} converges slower {at}: {reached}{ci}"
    return "none", f"no evidence of faster convergence from {subject.what} {at}: {reached}{ci}"


def ratio_text(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.2f}×"
