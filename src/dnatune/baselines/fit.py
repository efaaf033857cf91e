"""What a baseline's fitting returns, and the validation scoring both baselines select with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dnatune import metrics


@dataclass
class BaselineFit:
    """A fitted baseline: its val and test scores (the layout of dnatune.metrics) and record."""

    scores: dict[str, np.ndarray]  # "val", "test"
    log_history: list[dict]  # Trainer-style entries: step (when there are steps), eval_<metric>
    train_steps: int | None  # optimiser steps; None for a closed-form or solver fit
    best_step: int | None
    best_metric: float
    parameters: int
    save: Callable[[Path], None]  # writes the fitted model into a directory
    details: dict = field(default_factory=dict)  # what was chosen on val (C, epochs run, ...)


@dataclass
class CellData:
    """What a baseline fits on: the cell's splits (train subsampled), labels as arrays, the
    task's type and label count, and the val selection."""

    frames: dict[str, pd.DataFrame]
    labels: dict[str, np.ndarray]
    task_type: str
    num_labels: int
    selection: Selection


@dataclass
class Selection:
    """Model selection on the validation set by the task's headline metric."""

    task_type: str
    headline: str
    labels: np.ndarray  # val labels

    def evaluate(self, scores: np.ndarray) -> dict[str, float]:
        """Every metric of the task type on the val split, as `eval_<name>` log entries."""
        values = metrics.compute_metrics(self.task_type, self.labels, scores)
        return {f"eval_{k}": float(v) for k, v in values.items()}

    def better(self, value: float, best: float | None) -> bool:
        """Whether `value` beats `best` (strictly: ties keep the earlier, simpler choice)."""
        if best is None or np.isnan(best):
            return not np.isnan(value)
        if metrics.greater_is_better(self.headline):
            return value > best
        return value < best
