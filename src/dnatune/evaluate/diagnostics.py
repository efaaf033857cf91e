"""What each classification cell's test predictions look like, as tables the report plots.

* ROC and precision-recall curve points of binary cells (scikit-learn's curves),
  with the area under each (NaN when the test set has one class) and the share of
  positives, which is what random guessing reaches on the PR curve;
* confusion counts of binary and multiclass cells: the full classes x classes
  matrix per cell (zeros kept), predicted classes made as the evaluation stage
  makes them (the cell's threshold or arg-max), so per-cell degenerate predictions stay visible.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from dnatune.cell_outputs import Predictions
from dnatune.evaluate.readers import CellKey
from dnatune.metrics import THRESHOLD

CELL = list(CellKey._fields)
CURVE_COLUMNS = [*CELL, "curve", "area", "prevalence", "x", "y"]
CONFUSION_COLUMNS = [*CELL, "true", "predicted", "count"]
CURVE_TYPES = ("binary",)
CONFUSION_TYPES = ("binary", "multiclass")


def curve_points(key: CellKey, predictions: Predictions) -> pd.DataFrame:
    """ROC (x false positive rate, y true positive rate) and PR (x recall, y precision) points."""
    labels, scores = predictions.labels, predictions.scores
    two_class = len(set(labels)) == 2
    fpr, tpr, _ = roc_curve(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    parts = [
        _curve("roc", fpr, tpr, roc_auc_score(labels, scores) if two_class else math.nan),
        _curve(
            "pr",
            recall,
            precision,
            average_precision_score(labels, scores) if two_class else math.nan,
        ),
    ]
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "prevalence", float(np.mean(labels)))
    for column, value in reversed(list(key._asdict().items())):
        frame.insert(0, column, value)
    return frame[CURVE_COLUMNS]


def _curve(name: str, x: np.ndarray, y: np.ndarray, area: float) -> pd.DataFrame:
    return pd.DataFrame({"curve": name, "area": float(area), "x": x, "y": y})


def predicted_classes(
    task_type: str, scores: np.ndarray, threshold: float = THRESHOLD
) -> np.ndarray:
    """Predicted class as the evaluation stage makes it (threshold or arg-max)."""
    if task_type == "binary":
        return (scores >= threshold).astype(np.int64)
    return scores.argmax(axis=1)


def confusion_counts(key: CellKey, predictions: Predictions, task_type: str) -> pd.DataFrame:
    """One row per (true, predicted) class pair of the cell, zero counts included."""
    n_classes = 2 if task_type == "binary" else predictions.scores.shape[1]
    counts = confusion_matrix(
        predictions.labels,
        predicted_classes(task_type, predictions.scores, predictions.threshold),
        labels=range(n_classes),
    )
    true, predicted = np.indices(counts.shape)
    frame = pd.DataFrame(
        {"true": true.ravel(), "predicted": predicted.ravel(), "count": counts.ravel()}
    )
    for column, value in reversed(list(key._asdict().items())):
        frame.insert(0, column, value)
    return frame[CONFUSION_COLUMNS]


def diagnostic_tables(
    predictions: dict[CellKey, Predictions], task_types: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, confusion) of every cell whose task type has them, in cell order."""
    curves, confusion = [], []
    for key in sorted(predictions):
        task_type = task_types[key.task]
        if task_type in CURVE_TYPES:
            curves.append(curve_points(key, predictions[key]))
        if task_type in CONFUSION_TYPES:
            confusion.append(confusion_counts(key, predictions[key], task_type))
    return (
        pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=CURVE_COLUMNS),
        pd.concat(confusion, ignore_index=True)
        if confusion
        else pd.DataFrame(columns=CONFUSION_COLUMNS),
    )
