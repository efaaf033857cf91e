"""The statistics stage: every cell's metrics and test predictions -> the tables the report shows.

The report only renders; everything scored from raw predictions is computed here,
once, into results/stats/:

* transfer.tsv: transfer gain of each pre-trained variant over scratch, with its
  CI and paired tests (dnatune.transfer);
* tasks.tsv: per task its type, headline metric and test-set size;
* curves.parquet: ROC and precision-recall points of binary cells;
* confusion.tsv: confusion counts of classification cells (dnatune.diagnostics).

A new statistic is a new table (or new columns) here, and the report reads it by name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dnatune.atomic import atomic_path
from dnatune.cell_outputs import Predictions
from dnatune.diagnostics import diagnostic_tables
from dnatune.report_inputs import (
    CellKey,
    ReportInputError,
    cell_key_from_path,
    read_metrics,
    read_test_predictions,
)
from dnatune.summary import read_summary
from dnatune.transfer import transfer_gains, write_transfer

logger = logging.getLogger(__name__)

TASK_COLUMNS = ["task", "type", "headline", "n_test"]


@dataclass
class StatsPaths:
    """The files of the statistics stage."""

    transfer: str | Path
    tasks: str | Path
    curves: str | Path
    confusion: str | Path

    @classmethod
    def in_dir(cls, directory: str | Path) -> StatsPaths:
        d = Path(directory)
        return cls(d / "transfer.tsv", d / "tasks.tsv", d / "curves.parquet", d / "confusion.tsv")


def task_table(metrics_paths: Iterable[str | Path]) -> pd.DataFrame:
    """Type, headline metric and test size per task, from its first cell's metrics.json."""
    seen = {}
    for path in metrics_paths:
        data = read_metrics(path)
        seen.setdefault(
            data["task"], [data["task"], data["type"], data["headline"], data.get("n_test")]
        )
    table = pd.DataFrame(list(seen.values()), columns=TASK_COLUMNS)
    table["n_test"] = table["n_test"].astype("Int64")
    return table


def read_tasks(path: str | Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", dtype={"task": str, "type": str, "headline": str})
    missing = [c for c in TASK_COLUMNS if c not in table.columns]
    if missing:
        raise ReportInputError(
            f"{path}: tasks table lacks column(s) {', '.join(missing)}; rerun the stats rule"
        )
    table["n_test"] = table["n_test"].astype("Int64")
    return table


CELL_TEXT = {"task": str, "model": str, "variant": str}


def read_transfer(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={**CELL_TEXT, "evidence": str, "verdict": str})


def read_confusion(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=CELL_TEXT)


def read_cell_predictions(
    prediction_paths: Iterable[str | Path], task_types: dict[str, str]
) -> dict[CellKey, Predictions]:
    """Test predictions of every cell, read once for all the statistics."""
    predictions = {}
    for path in prediction_paths:
        key = cell_key_from_path(path)
        if key.task not in task_types:
            raise ReportInputError(
                f"{path}: task '{key.task}' has predictions but no metrics.json; "
                "rerun its evaluation"
            )
        predictions[key] = read_test_predictions(path, task_types[key.task])
    return predictions


def write_stats(
    summary_tsv: str | Path,
    metrics_paths: Iterable[str | Path],
    prediction_paths: Iterable[str | Path],
    out: StatsPaths,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Write every table of the stage; returns the transfer table."""
    tasks = task_table(metrics_paths)
    types = dict(zip(tasks["task"], tasks["type"], strict=True))
    predictions = read_cell_predictions(prediction_paths, types)
    transfer = transfer_gains(
        read_summary(summary_tsv),
        dict(zip(tasks["task"], tasks["headline"], strict=True)),
        types,
        predictions,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )
    curves, confusion = diagnostic_tables(predictions, types)
    write_transfer(transfer, out.transfer)
    with atomic_path(out.tasks) as tmp:
        tasks.to_csv(tmp, sep="\t", index=False, na_rep="NA")
    with atomic_path(out.curves) as tmp:
        curves.to_parquet(tmp, index=False)
    with atomic_path(out.confusion) as tmp:
        confusion.to_csv(tmp, sep="\t", index=False)
    logger.info(
        "stats: %d task(s), %d comparison(s), %d cell(s) with predictions -> %s",
        len(tasks),
        len(transfer),
        len(predictions),
        Path(out.transfer).parent,
    )
    return transfer
