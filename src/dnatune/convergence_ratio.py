"""Faster convergence: the steps a pre-trained variant takes to reach scratch's best validation
metric, as a ratio of the steps scratch took to reach it, from the cells' history.json.

Per seed (both variants of a seed share the label subsample and the step budget): scratch's
best validation value of the headline metric and the first step it was logged at; the
first step the pre-trained variant's validation value is at least as good (infinity when
it never is). The ratio pools the seeds, sum of the variant's steps over sum of scratch's,
so one seed's tiny step count cannot dominate it; its bootstrap draws resample the seeds.
Steps are only known at evaluations, every `eval_steps` optimiser steps (history.json
records it), so the ratio's resolution is eval_steps over scratch's steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
