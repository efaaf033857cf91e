"""One cell's test metrics: predictions.parquet (+ history.json) -> metrics.json.

The test split's predictions are scored once with every metric of the task type,
each with a bootstrap confidence interval over test examples. A binary task's
decision threshold is 0.5 or, with `threshold_rule` max_mcc / max_f1, the one that
maximises that metric on the cell's validation predictions (never on the test set);
metrics.json records the threshold and the rule applied.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from dnatune import metrics
from dnatune.atomic import atomic_path
from dnatune.cell_outputs import read_json, read_predictions

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
    threshold_rule: str = "fixed",
) -> dict:
    """Score the test predictions of one grid cell and write metrics.json atomically."""
    task_type = _task_type(meta_path)
    headline = metrics.headline_metric(task_type, metric, where=f"tasks.{task}.metric")
    history = read_json(history_path, "history.json", EvaluationInputError)
    test = read_predictions(predictions_path, task_type, EvaluationInputError)
    threshold, threshold_rule = decision_threshold(predictions_path, task_type, threshold_rule)
    values = metrics.metrics_with_ci(
        task_type,
        test.labels,
        test.scores,
        n_resamples=bootstrap,
        confidence=confidence,
        seed=bootstrap_seed,
        threshold=threshold if threshold is not None else metrics.THRESHOLD,
    )
    result = {
        "task": task,
        "model": model,
        "variant": variant,
        "label_fraction": float(label_fraction),
        "seed": int(seed),
        "type": task_type,
        "n_test": len(test.labels),
        "train_seconds": history.get("train_seconds"),
        "train_steps": history.get("train_steps"),
        "best_step": history.get("best_step"),
        "n_train": history.get("n_train"),
        "method": history.get("method"),
        "headline": headline,
        "threshold": threshold,
        "threshold_rule": threshold_rule,
        "confidence": confidence,
        "bootstrap": bootstrap,
        "metrics": values,
    }
    with atomic_path(out_path) as tmp:
        tmp.write_text(json.dumps(result, indent=1))
    _log_result(result)
    return result


def _task_type(meta_path: str | Path) -> str:
    meta = read_json(meta_path, "task meta.json", EvaluationInputError)
    task_type = meta.get("type")
    if task_type not in metrics.METRICS:
        raise EvaluationInputError(
            f"{meta_path}: key 'type' is {task_type!r}; expected one of {sorted(metrics.METRICS)}"
        )
    return task_type


def _log_result(result: dict) -> None:
    """One line: the cell and its headline test metric with the confidence interval."""
    head = result["metrics"][result["headline"]]
    logger.info(
        "%s/%s/%s f%g s%d: test %s %s [%s, %s] on %d examples",
        result["task"],
        result["model"],
        result["variant"],
        result["label_fraction"],
        result["seed"],
        result["headline"],
        _fmt(head["value"]),
        _fmt(head["ci_low"]),
        _fmt(head["ci_high"]),
        result["n_test"],
    )


def decision_threshold(
    predictions_path: str | Path, task_type: str, rule: str
) -> tuple[float | None, str | None]:
    """(threshold, rule applied) of a binary cell; (None, None) for other task types."""
    if task_type != "binary":
        return None, None
    if rule == "fixed":
        return metrics.THRESHOLD, rule
    val = read_predictions(predictions_path, task_type, EvaluationInputError, split="val")
    try:
        threshold = metrics.choose_threshold(val.labels, val.scores, rule)
    except ValueError as err:
        logger.warning("%s: %s; the threshold stays at 0.5", predictions_path, err)
        return metrics.THRESHOLD, "fixed"
    logger.info(
        "decision threshold %.4f (%s on %d validation examples)", threshold, rule, len(val.labels)
    )
    return threshold, rule


def _fmt(value) -> str:
    return (
        "nan"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.4f}"
    )
