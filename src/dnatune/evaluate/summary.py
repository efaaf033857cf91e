"""summary.tsv: every metric of every grid cell, one row per cell x metric.

Columns: task, model, variant, label_fraction, seed, metric, value, ci_low,
ci_high, n_test, train_seconds, train_steps. Values come from each cell's
metrics.json; train_seconds / train_steps fall back to its history.json when
metrics.json lacks them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from dnatune.atomic import atomic_path
from dnatune.config import BASELINE_MODEL
from dnatune.evaluate.readers import (
    CellKey,
    ReportInputError,
    as_float,
    cell_key_from_path,
    read_history,
    read_metrics,
)

logger = logging.getLogger(__name__)

COLUMNS = [
    "task",
    "model",
    "variant",
    "label_fraction",
    "seed",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n_test",
    "train_seconds",
    "train_steps",
]
VARIANT_ORDER = {"scratch": 0, "pretrained": 1, "continued": 2, "cnn": 3, "kmer_lr": 4}


def collect_summary(
    metrics_paths: Iterable[str | Path], history_paths: Iterable[str | Path] = ()
) -> pd.DataFrame:
    """Read all cells into the summary table (sorted by task, model, variant, fraction, seed)."""
    histories = {cell_key_from_path(p): p for p in history_paths}
    rows, seen = [], {}
    for path in metrics_paths:
        data = read_metrics(path)
        key = CellKey.of_metrics(data)
        if key in seen:
            raise ReportInputError(
                f"{path}: cell {tuple(key)} is also described by {seen[key]}; "
                "each grid cell must have exactly one metrics.json"
            )
        seen[key] = path
        timing = _timing(data, histories.get(key), path)
        for metric, entry in data["metrics"].items():
            rows.append(
                {
                    **key._asdict(),
                    "metric": metric,
                    "value": as_float(entry.get("value")),
                    "ci_low": as_float(entry.get("ci_low")),
                    "ci_high": as_float(entry.get("ci_high")),
                    "n_test": int(data["n_test"]) if data.get("n_test") is not None else None,
                    **timing,
                }
            )
    if not rows:
        raise ReportInputError("no metrics.json files given: the grid has no cells")
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["n_test"] = table["n_test"].astype("Int64")
    table["train_steps"] = table["train_steps"].astype("Int64")
    order = table["variant"].map(VARIANT_ORDER).fillna(len(VARIANT_ORDER))
    table = (
        # baseline cells (model folder `baseline`) after every model's, whatever its name
        table.assign(_variant=order, _baseline=table["model"] == BASELINE_MODEL)
        .sort_values(["task", "_baseline", "model", "_variant", "label_fraction", "seed", "metric"])
        .drop(columns=["_variant", "_baseline"])
        .reset_index(drop=True)
    )
    return table


def _timing(metrics: dict, history_path, metrics_path) -> dict:
    seconds, steps = metrics.get("train_seconds"), metrics.get("train_steps")
    if (seconds is None or steps is None) and history_path is not None:
        history = read_history(history_path)
        seconds = history.get("train_seconds") if seconds is None else seconds
        steps = history.get("train_steps") if steps is None else steps
    if seconds is None or steps is None:
        logger.warning("%s: no train_seconds/train_steps in metrics.json or history", metrics_path)
    return {
        "train_seconds": as_float(seconds),
        "train_steps": int(steps) if steps is not None else None,
    }


def read_summary(path: str | Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", dtype={"task": str, "model": str, "variant": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ReportInputError(f"{path}: summary lacks column(s) {', '.join(missing)}")
    return table


def write_summary(
    metrics_paths: Iterable[str | Path],
    out_tsv: str | Path,
    history_paths: Iterable[str | Path] = (),
) -> pd.DataFrame:
    table = collect_summary(metrics_paths, history_paths)
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA")
    cells = table.drop_duplicates(["task", "model", "variant", "label_fraction", "seed"])
    logger.info("summary: %d cells, %d rows -> %s", len(cells), len(table), out_tsv)
    return table
