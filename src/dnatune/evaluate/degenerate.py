"""Cells that learned nothing: (nearly) one predicted class, or skill at chance.

A fine-tuning cell is flagged *degenerate* when

* its test predictions are (nearly) all one class: the most frequent predicted
  class covers at least ONE_CLASS_SHARE of the test sequences (binary and
  multiclass, classes made as the evaluation stage makes them; for regression the
  most frequent predicted value, so a constant prediction counts), or
* its skill metric is at chance: the cell's bootstrap CI (from metrics.json, via
  the summary) covers the chance level (without a CI: the value is not above it).
  An undefined or absent skill value (a test set of one class) flags nothing. The skill
  metric ranks rather than thresholds where the task type has one: AUROC for
  binary, macro-AUROC for multilabel, Spearman for regression; multiclass has no
  ranking metric here and uses MCC (0 is chance, arg-max needs no threshold).

A comparison whose cells are all degenerate says "neither variant learned this task"
instead of a difference verdict (dnatune.stats.verdicts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dnatune.cell_outputs import Predictions
from dnatune.evaluate.diagnostics import predicted_classes
from dnatune.evaluate.readers import CellKey

ONE_CLASS_SHARE = 0.98
SKILL = {
    "binary": ("auroc", 0.5),
    "multiclass": ("mcc", 0.0),
    "multilabel": ("macro_auroc", 0.5),
    "regression": ("spearman", 0.0),
}
CELL = list(CellKey._fields)
COLUMNS = [
    *CELL,
    "threshold",
    "majority_share",
    "skill_metric",
    "skill",
    "skill_ci_low",
    "skill_ci_high",
    "one_class",
    "at_chance",
    "degenerate",
]


def cell_flags(
    summary: pd.DataFrame, task_types: Mapping[str, str], predictions: Mapping[CellKey, Predictions]
) -> pd.DataFrame:
    """One row per cell of the summary; see COLUMNS (NaN where a figure does not apply)."""
    records = []
    for task, rows in summary.groupby("task", sort=True):
        metric, chance = SKILL[task_types[task]]
        skill = rows[rows["metric"] == metric].set_index(CELL)
        for cell in rows[CELL].drop_duplicates().itertuples(index=False):
            key = CellKey(*cell)
            preds = predictions.get(key)
            share = majority_share(task_types[task], preds)
            value, low, high = _skill(skill, tuple(key))
            at_chance = _at_chance(value, low, high, chance)
            one_class = not math.isnan(share) and share >= ONE_CLASS_SHARE
            records.append(
                {
                    **key._asdict(),
                    "threshold": preds.threshold
                    if preds is not None and task_types[task] == "binary"
                    else math.nan,
                    "majority_share": share,
                    "skill_metric": metric,
                    "skill": value,
                    "skill_ci_low": low,
                    "skill_ci_high": high,
                    "one_class": one_class,
                    "at_chance": at_chance,
                    "degenerate": one_class or at_chance,
                }
            )
    return pd.DataFrame(records, columns=COLUMNS)


def majority_share(task_type: str, predictions: Predictions | None) -> float:
    """Share of test sequences given the most frequent prediction; NaN for multilabel."""
    if predictions is None or task_type == "multilabel":
        return math.nan
    if task_type == "regression":
        predicted = predictions.scores
    else:
        predicted = predicted_classes(task_type, predictions.scores, predictions.threshold)
    return float(np.unique(predicted, return_counts=True)[1].max() / len(predicted))


def _skill(table: pd.DataFrame, key: tuple) -> tuple[float, float, float]:
    if key not in table.index:
        return math.nan, math.nan, math.nan
    row = table.loc[key]
    return tuple(float(row.get(c, math.nan)) for c in ("value", "ci_low", "ci_high"))


def _at_chance(value: float, low: float, high: float, chance: float) -> bool:
    """The CI covers chance; without a CI, the value is not above it; undefined flags nothing."""
    if math.isnan(value):
        return False
    if math.isnan(low) or math.isnan(high):
        return value <= chance
    return low <= chance <= high
