"""A stage's JSON records and a grid cell's predictions.parquet: written in one layout by every
kind of cell (fine-tuned LM or baseline), read back with errors that name the file and the fix;
the evaluate stage and the report share these readers.

Each caller passes its own error class, so that its errors stay its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dnatune.atomic import atomic_path
from dnatune.metrics import THRESHOLD


def read_json(path: str | Path, what: str, error: type[Exception]) -> dict:
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: {what} is missing; rerun the stage that writes it")
    try:
        with open(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise error(
            f"{path}: {what} is not valid JSON (line {err.lineno}, column {err.colno}: "
            f"{err.msg}); delete it and rerun the stage that writes it"
        ) from None


@dataclass
class Predictions:
    """One split's predictions of a cell, ordered by row."""

    rows: np.ndarray
    labels: np.ndarray
    scores: np.ndarray  # (n,) for binary / regression, (n, C) for multiclass / multilabel
    threshold: float = THRESHOLD  # binary decision threshold the cell was evaluated with


def read_predictions(
    path: str | Path, task_type: str, error: type[Exception], split: str = "test"
) -> Predictions:
    """The `split` rows of predictions.parquet, in the layout dnatune.metrics expects."""
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: predictions.parquet is missing; rerun the finetune cell")
    frame = pd.read_parquet(path)
    missing = [c for c in ("split", "row", "label") if c not in frame.columns]
    if missing:
        raise error(
            f"{path}: missing column(s) {', '.join(missing)}; expected split, row, label "
            "and score columns: rerun the finetune cell"
        )
    part = frame[frame["split"] == split].sort_values("row")
    if part.empty:
        raise error(f"{path}: no rows with split == '{split}'; rerun the finetune cell")
    if part["row"].duplicated().any():
        raise error(f"{path}: {split} row numbers repeat; each example once: rerun the cell")
    try:
        labels, scores = prediction_arrays(part, task_type)
    except KeyError as err:
        raise error(
            f"{path}: a {task_type} task needs score column {err}; rerun the finetune cell"
        ) from None
    return Predictions(part["row"].to_numpy(), labels, scores)


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


def prediction_table(
    split: str, frame: pd.DataFrame, task_type: str, scores: np.ndarray
) -> pd.DataFrame:
    """One row per example of a task split: split, row, id (when the split has one; it joins
    back to the user's input), label and the score columns `prediction_arrays` reads.

    `scores`: (n,) or (n, 1) for binary (P(class 1)) and regression, (n, C) otherwise.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    out = pd.DataFrame({"split": split, "row": np.arange(len(frame))})
    if "id" in frame.columns:
        out["id"] = frame["id"].to_numpy()
    out["label"] = frame["label"].to_numpy()
    if task_type == "binary":
        out["score"] = scores[:, 0]
    elif task_type == "regression":
        out["prediction"] = scores[:, 0]
    else:
        for c in range(scores.shape[1]):
            out[f"score_{c}"] = scores[:, c]
    return out


def write_records(output_dir: Path, history: dict, predictions: pd.DataFrame) -> None:
    """A cell's history.json (JSON-safe) and predictions.parquet, each written atomically."""
    with atomic_path(output_dir / "history.json") as tmp:
        tmp.write_text(json.dumps(json_safe(history), indent=1))
    with atomic_path(output_dir / "predictions.parquet") as tmp:
        predictions.to_parquet(tmp, index=False)


def json_safe(value):
    """JSON-safe copy: numpy scalars to Python, NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
