"""One cell's test metrics: predictions.parquet (+ history.json) -> metrics.json.

The test split's predictions are scored once with every metric of the task type,
each with a bootstrap confidence interval over test examples.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from dnatune import metrics
from dnatune.atomic import atomic_path

logger = logging.getLogger(__name__)


class EvaluationInputError(ValueError):
    """Predictions or history that cannot be scored; the message names the file and the fix."""


def evaluate_cell(
    predictions_path: str | Path,
    history_path: str | Path,
    meta_path: str | Path,
    out_path: str | Path,
    *,
    task: str,
    model: str,
    variant: str,
    label_fraction: float,
    seed: int,
    metric: str | None = None,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    bootstrap_seed: int = 0,
) -> dict:
    """Score the test predictions of one grid cell and write metrics.json atomically."""
    meta = _read_json(meta_path, "task meta.json")
    task_type = meta.get("type")
    if task_type not in metrics.METRICS:
        raise EvaluationInputError(
            f"{meta_path}: key 'type' is {task_type!r}; expected one of {sorted(metrics.METRICS)}"
        )
    headline = metrics.headline_metric(task_type, metric, where=f"tasks.{task}.metric")
    history = _read_json(history_path, "history.json")
    labels, scores = read_predictions(predictions_path, task_type, split="test")
    values = metrics.metrics_with_ci(
        task_type, labels, scores, n_resamples=bootstrap, confidence=confidence, seed=bootstrap_seed
    )
    result = {
        "task": task,
        "model": model,
        "variant": variant,
        "label_fraction": float(label_fraction),
        "seed": int(seed),
        "type": task_type,
        "n_test": len(labels),
        "train_seconds": history.get("train_seconds"),
        "train_steps": history.get("train_steps"),
        "best_step": history.get("best_step"),
        "n_train": history.get("n_train"),
        "method": history.get("method"),
        "headline": headline,
        "confidence": confidence,
        "bootstrap": bootstrap,
        "metrics": values,
    }
    with atomic_path(out_path) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    head = values[headline]
    logger.info(
        "%s/%s/%s f%g s%d: test %s %s [%s, %s] on %d examples",
        task,
        model,
        variant,
        label_fraction,
        seed,
        headline,
        _fmt(head["value"]),
        _fmt(head["ci_low"]),
        _fmt(head["ci_high"]),
        len(labels),
    )
    return result


def read_predictions(path: str | Path, task_type: str, split: str = "test"):
    """(labels, scores) of one split of predictions.parquet, ordered by row."""
    path = Path(path)
    if not path.exists():
        raise EvaluationInputError(f"{path}: missing; rerun the finetune cell that writes it")
    frame = pd.read_parquet(path)
    missing = [c for c in ("split", "row", "label") if c not in frame.columns]
    if missing:
        raise EvaluationInputError(
            f"{path}: missing column(s) {', '.join(missing)}; rerun the finetune cell"
        )
    part = frame[frame["split"] == split].sort_values("row")
    if part.empty:
        raise EvaluationInputError(
            f"{path}: no rows with split == '{split}'; rerun the finetune cell"
        )
    try:
        return prediction_arrays(part, task_type)
    except KeyError as err:
        raise EvaluationInputError(
            f"{path}: a {task_type} task needs score column {err}; rerun the finetune cell"
        ) from None


def prediction_arrays(predictions: pd.DataFrame, task_type: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) of predictions.parquet rows in the layout dnatune.metrics expects."""
    if task_type == "binary":
        scores = predictions["score"].to_numpy(dtype=float)
    elif task_type == "regression":
        scores = predictions["prediction"].to_numpy(dtype=float)
    else:
        cols = sorted((c for c in predictions if c.startswith("score_")), key=lambda c: int(c[6:]))
        if not cols:
            raise KeyError("score_0")
        scores = predictions[cols].to_numpy(dtype=float)
    if task_type == "multilabel":
        labels = np.stack([np.asarray(v, dtype=np.int64) for v in predictions["label"]])
    elif task_type == "regression":
        labels = predictions["label"].to_numpy(dtype=float)
    else:
        labels = predictions["label"].to_numpy(dtype=np.int64)
    return labels, scores


def _read_json(path: str | Path, what: str) -> dict:
    path = Path(path)
    if not path.exists():
        raise EvaluationInputError(f"{path}: {what} is missing; rerun the stage that writes it")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise EvaluationInputError(
            f"{path}: {what} is not valid JSON (line {err.lineno}: {err.msg}); "
            "delete it and rerun the stage that writes it"
        ) from None


def _fmt(value) -> str:
    return (
        "nan"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.4f}"
    )
