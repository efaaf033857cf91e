"""The statistics stage: every cell's metrics and test predictions -> the tables the report shows.

The report only renders; everything scored from raw predictions is computed here,
once, into results/stats/:

* transfer.tsv: transfer gain of each pre-trained variant over scratch, with its
  CI, paired tests, ranking-metric gain, FDR q-value, detectable gain and verdict
  (dnatune.stats.transfer, dnatune.stats.verdicts);
* claims.tsv: the three claims of transfer learning, better scores (over scratch and
  over the best baseline), less data and faster convergence, each with its CI and
  verdict (dnatune.stats.claims; its baseline comparisons share transfer.tsv's FDR family);
* cells.tsv: per cell its decision threshold and degenerate flags (dnatune.evaluate.degenerate);
* tasks.tsv: per task its type, headline metric, test-set size and threshold rule;
* curves.parquet: ROC and precision-recall points of binary cells;
* confusion.tsv: confusion counts of classification cells (dnatune.evaluate.diagnostics).

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
from dnatune.evaluate.degenerate import cell_flags
from dnatune.evaluate.diagnostics import diagnostic_tables
from dnatune.evaluate.readers import (
    CellKey,
    ReportInputError,
    cell_key_from_path,
    read_history,
    read_metrics,
    read_test_predictions,
)
from dnatune.evaluate.summary import read_summary
from dnatune.metrics import THRESHOLD
from dnatune.stats.claims import claim_tables, write_claims
from dnatune.stats.transfer import transfer_gains, write_transfer

logger = logging.getLogger(__name__)

TASK_COLUMNS = ["task", "type", "headline", "n_test", "threshold_rule"]


@dataclass
class StatsPaths:
    """The files of the statistics stage."""

    transfer: str | Path
    tasks: str | Path
    curves: str | Path
    confusion: str | Path
    cells: str | Path
    claims: str | Path

    @classmethod
    def in_dir(cls, directory: str | Path) -> StatsPaths:
        d = Path(directory)
        return cls(
            d / "transfer.tsv",
            d / "tasks.tsv",
            d / "curves.parquet",
            d / "confusion.tsv",
            d / "cells.tsv",
            d / "claims.tsv",
        )


def task_table(records: Iterable[dict]) -> pd.DataFrame:
    """Type, headline metric, test size and threshold rule per task, from its first cell."""
    seen = {}
    for data in records:
        rule = data.get("threshold_rule", "fixed") if data["type"] == "binary" else None
        seen.setdefault(
            data["task"],
            [data["task"], data["type"], data["headline"], data.get("n_test"), rule],
        )
    table = pd.DataFrame(list(seen.values()), columns=TASK_COLUMNS)
    table["n_test"] = table["n_test"].astype("Int64")
    return table


def read_tasks(path: str | Path) -> pd.DataFrame:
    table = pd.read_csv(
        path, sep="\t", dtype={"task": str, "type": str, "headline": str, "threshold_rule": str}
    )
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


def read_claims(path: str | Path) -> pd.DataFrame:
    text = {"claim": str, "reference": str, "evidence": str, "verdict": str, "note": str}
    return pd.read_csv(path, sep="\t", dtype={**CELL_TEXT, **text})


def read_confusion(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=CELL_TEXT)


def read_cells(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={**CELL_TEXT, "skill_metric": str})


def read_cell_predictions(
    prediction_paths: Iterable[str | Path],
    task_types: dict[str, str],
    thresholds: dict[CellKey, float],
) -> dict[CellKey, Predictions]:
    """Test predictions of every cell with the threshold it was evaluated with, read once."""
    predictions = {}
    for path in prediction_paths:
        key = cell_key_from_path(path)
        if key.task not in task_types:
            raise ReportInputError(
                f"{path}: task '{key.task}' has predictions but no metrics.json; "
                "rerun its evaluation"
            )
        predictions[key] = read_test_predictions(path, task_types[key.task])
        predictions[key].threshold = thresholds.get(key, THRESHOLD)
    return predictions


def write_stats(
    summary_tsv: str | Path,
    metrics_paths: Iterable[str | Path],
    prediction_paths: Iterable[str | Path],
    out: StatsPaths,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    history_paths: Iterable[str | Path] = (),
) -> pd.DataFrame:
    """Write every table of the stage; returns the transfer table."""
    records = [read_metrics(p) for p in metrics_paths]
    tasks = task_table(records)
    types = dict(zip(tasks["task"], tasks["type"], strict=True))
    thresholds = {
        CellKey.of_metrics(r): r["threshold"] for r in records if r.get("threshold") is not None
    }
    predictions = read_cell_predictions(prediction_paths, types, thresholds)
    summary = read_summary(summary_tsv)
    cells = cell_flags(summary, types, predictions)
    transfer = transfer_gains(
        summary,
        dict(zip(tasks["task"], tasks["headline"], strict=True)),
        types,
        predictions,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        cells=cells,
    )
    transfer, claims = claim_tables(
        summary,
        tasks,
        predictions,
        cells,
        {cell_key_from_path(p): read_history(p) for p in history_paths},
        transfer,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )
    curves, confusion = diagnostic_tables(predictions, types)
    write_transfer(transfer, out.transfer)
    write_claims(claims, out.claims)
    with atomic_path(out.tasks) as tmp:
        tasks.to_csv(tmp, sep="\t", index=False, na_rep="NA")
    with atomic_path(out.curves) as tmp:
        curves.to_parquet(tmp, index=False)
    with atomic_path(out.confusion) as tmp:
        confusion.to_csv(tmp, sep="\t", index=False)
    with atomic_path(out.cells) as tmp:
        cells.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    logger.info(
        "stats: %d task(s), %d comparison(s), %d cell(s) with predictions -> %s",
        len(tasks),
        len(transfer),
        len(predictions),
        Path(out.transfer).parent,
    )
    return transfer
