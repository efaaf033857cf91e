"""What the claims of dnatune.stats.claims read and write: the grid's tables, the subject of a
claim (one pre-trained variant of a model on a task) and its row, bootstrap intervals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnatune.cell_outputs import Predictions
from dnatune.evaluate.readers import CellKey
from dnatune.metrics import greater_is_better
from dnatune.stats.transfer import BASELINE
from dnatune.stats.verdicts import WHAT

ABSENT = "absent"  # evidence of a claim the grid cannot measure; the verdict says why


@dataclass
class Grid:
    """What every claim reads: summary.tsv, test predictions, degenerate flags, histories."""

    summary: pd.DataFrame
    predictions: Mapping[CellKey, Predictions]
    degenerate: Mapping[CellKey, bool]
    histories: Mapping[CellKey, dict]
    n_boot: int
    confidence: float
    seed: int

    def values(self, task, model, variant, metric, fraction=None) -> pd.DataFrame:
        s = self.summary
        rows = s[
            (s["task"] == task)
            & (s["model"] == model)
            & (s["variant"] == variant)
            & (s["metric"] == metric)
        ]
        return rows if fraction is None else rows[rows["label_fraction"] == fraction]

    def fractions(self, subject: Subject) -> list[float]:
        """The label fractions the subject's variant has cells at, ascending."""
        rows = self.values(subject.task, subject.model, subject.variant, subject.metric)
        return sorted(float(f) for f in rows["label_fraction"].unique())

    @property
    def level(self) -> str:
        return f"{self.confidence * 100:g}%"


@dataclass
class Subject:
    """One pre-trained variant of a model on a task: what the claims are about."""

    task: str
    model: str
    variant: str
    metric: str
    task_type: str

    @property
    def what(self) -> str:
        return WHAT[self.variant]

    @property
    def higher(self) -> bool:
        return greater_is_better(self.metric)

    def row(self, claim: str, fraction: float, reference: str, **values) -> dict:
        return {
            "task": self.task,
            "model": self.model,
            "variant": self.variant,
            "label_fraction": fraction,
            "claim": claim,
            "reference": reference,
            "metric": self.metric,
            **values,
        }

    def absent(self, claim: str, fraction: float, reference: str, reason: str) -> dict:
        return self.row(claim, fraction, reference, evidence=ABSENT, verdict=reason)

    def measured(self, claim: str, fraction: float, e: Estimate, words, note: str) -> dict:
        """The row of a claim judged on its CI (no q-value): `words` is (evidence, verdict)."""
        return self.row(
            claim,
            fraction,
            BASELINE,
            n_seeds=e.n_seeds,
            estimate=e.value,
            ci_low=e.low,
            ci_high=e.high,
            ci_method=e.method,
            evidence=words[0],
            verdict=words[1],
            note=note,
        )


@dataclass
class Estimate:
    """A claim's number, its CI (NaN: none) and how the CI was made."""

    n_seeds: int
    value: float
    low: float
    high: float
    method: str


def by_seed(rows: pd.DataFrame, fraction: float) -> dict[int, float]:
    at = rows[rows["label_fraction"] == fraction].dropna(subset=["value"])
    return dict(zip(at["seed"].astype(int), at["value"].astype(float), strict=True))


def interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of bootstrap draws that may be infinite ('never'): empirical
    quantiles (inverted CDF), so no interpolation mixes a finite draw with an infinite one."""
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    alpha = 1 - confidence
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return float(lo), float(hi)


def bootstrap_method(n_boot: int, examples: bool) -> str:
    if examples:
        return f"bootstrap over seeds and test examples ({n_boot} resamples)"
    return f"bootstrap over seeds ({n_boot} resamples; test predictions not available)"
