"""The stats stage: transfer gains, per-task facts, ROC/PR points and confusion counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from report_fixtures import TASKS, make_grid

from dnatune.evaluate.readers import ReportInputError, cell_key_from_path
from dnatune.evaluate.summary import collect_summary
from dnatune.stats.tables import StatsPaths, read_cells, read_confusion, read_tasks, write_stats
from dnatune.stats.transfer import transfer_gains, write_transfer

N_TEST = 90


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    grid = make_grid(tmp_path_factory.mktemp("stats"), seeds=(0, 1), n_test=N_TEST)
    grid.write_summary_and_stats(n_boot=150)
    return grid


def test_transfer_table_is_what_the_report_used_to_compute_while_rendering(grid, tmp_path):
    # the report called transfer_gains on the summary, the headline and type of each
    # task's metrics.json and the cells' prediction files, and wrote its side output
    headlines = {t: s["headline"] for t, s in grid.tasks.items()}
    types = {t: s["type"] for t, s in grid.tasks.items()}
    predictions = {cell_key_from_path(p): p for p in grid.predictions}
    before = transfer_gains(
        collect_summary(grid.metrics, grid.histories), headlines, types, predictions, n_boot=150
    )
    write_transfer(before, tmp_path / "transfer.tsv")
    assert len(before) == len(grid.tasks) * len(grid.fractions)
    assert (tmp_path / "transfer.tsv").read_bytes() == grid.stats.transfer.read_bytes()


def test_tasks_table_names_type_headline_and_test_size(grid):
    tasks = read_tasks(grid.stats.tasks).set_index("task")
    assert sorted(tasks.index) == sorted(grid.tasks)
    for task, spec in grid.tasks.items():
        assert tasks.loc[task, "type"] == spec["type"]
        assert tasks.loc[task, "headline"] == spec["headline"]
        assert tasks.loc[task, "n_test"] == N_TEST


def test_curve_areas_match_the_evaluated_metrics(grid):
    curves = pd.read_parquet(grid.stats.curves)
    summary = collect_summary(grid.metrics)
    binary = [t for t, s in grid.tasks.items() if s["type"] == "binary"]
    assert set(curves["task"]) == set(binary)  # no curves for the multiclass task
    cells = curves.groupby(["task", "model", "variant", "label_fraction", "seed"])
    assert len(cells) == len(binary) * len(grid.variants) * len(grid.fractions) * len(grid.seeds)
    for (task, _model, variant, fraction, seed), points in cells:
        metrics = summary[
            (summary["task"] == task)
            & (summary["variant"] == variant)
            & (summary["label_fraction"] == fraction)
            & (summary["seed"] == seed)
        ].set_index("metric")["value"]
        roc, pr = (points[points["curve"] == c] for c in ("roc", "pr"))
        assert roc["area"].iloc[0] == pytest.approx(metrics["auroc"])
        assert pr["area"].iloc[0] == pytest.approx(metrics["auprc"])
        assert (roc["x"].iloc[0], roc["y"].iloc[0]) == (0, 0)
        assert (roc["x"].iloc[-1], roc["y"].iloc[-1]) == (1, 1)
        assert np.all(np.diff(roc["x"]) >= 0)  # points kept in curve order
        assert points["prevalence"].nunique() == 1 and 0 < points["prevalence"].iloc[0] < 1


def test_confusion_counts_cover_the_test_set_and_give_the_accuracy(grid):
    counts = pd.read_csv(grid.stats.confusion, sep="\t")
    summary = collect_summary(grid.metrics)
    for (task, variant, fraction, seed), cell in counts.groupby(
        ["task", "variant", "label_fraction", "seed"]
    ):
        n_classes = len(grid.tasks[task]["label_names"])
        assert len(cell) == n_classes**2  # the full matrix, zeros kept
        assert cell["count"].sum() == N_TEST
        accuracy = summary[
            (summary["task"] == task)
            & (summary["variant"] == variant)
            & (summary["label_fraction"] == fraction)
            & (summary["seed"] == seed)
            & (summary["metric"] == "accuracy")
        ]["value"].item()
        correct = cell[cell["true"] == cell["predicted"]]["count"].sum()
        assert correct / N_TEST == pytest.approx(accuracy)


def test_extra_prediction_columns_are_ignored(grid, tmp_path):
    # later stages may add columns (a stable sequence id); the stats read theirs by name
    for path in grid.predictions:
        frame = pd.read_parquet(path)
        frame.insert(0, "id", [f"seq{i}" for i in range(len(frame))])
        frame.to_parquet(path)
    out = StatsPaths.in_dir(tmp_path)
    write_stats(grid.summary_tsv, grid.metrics, grid.predictions, out, n_boot=150)
    for name in ("transfer", "tasks", "confusion", "cells"):
        assert getattr(out, name).read_bytes() == getattr(grid.stats, name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(out.curves), pd.read_parquet(grid.stats.curves))


def test_predictions_of_a_task_without_metrics_are_an_error(grid, tmp_path):
    other = [p for p in grid.metrics if "/promoter/" not in str(p)]
    with pytest.raises(ReportInputError, match="task 'promoter' has predictions but no metrics"):
        write_stats(
            grid.summary_tsv, other, grid.predictions, StatsPaths.in_dir(tmp_path), n_boot=10
        )


def test_cells_table_flags_each_cell_with_its_threshold(grid):
    cells = read_cells(grid.stats.cells)
    assert len(cells) == len(list(grid.cells()))
    binary = cells[cells["task"] == "promoter"]
    assert binary["threshold"].eq(0.5).all() and binary["skill_metric"].eq("auroc").all()
    assert cells[cells["task"] == "family"]["threshold"].isna().all()
    # the fixture's models all learned something: nothing is one class
    assert not cells["one_class"].any()
    assert (cells["degenerate"] == (cells["one_class"] | cells["at_chance"])).all()
    tasks = read_tasks(grid.stats.tasks).set_index("task")
    assert tasks.loc["promoter", "threshold_rule"] == "fixed"
    assert pd.isna(tasks.loc["family", "threshold_rule"])


def test_the_threshold_each_cell_was_evaluated_with_is_the_one_the_stats_use(tmp_path):
    one = {"promoter": TASKS["promoter"]}
    grid = make_grid(tmp_path, tasks=one, seeds=(0,), n_test=60)
    for path in grid.metrics:
        data = json.loads(path.read_text())
        path.write_text(json.dumps(data | {"threshold": 0.9, "threshold_rule": "max_mcc"}))
    grid.write_summary_and_stats(n_boot=20)
    cells = read_cells(grid.stats.cells)
    assert cells["threshold"].eq(0.9).all()
    assert read_tasks(grid.stats.tasks).loc[0, "threshold_rule"] == "max_mcc"
    counts = read_confusion(grid.stats.confusion)
    for path in grid.predictions:
        test = pd.read_parquet(path).query("split == 'test'")
        key = cell_key_from_path(path)
        cell = counts[
            (counts["variant"] == key.variant) & (counts["label_fraction"] == key.label_fraction)
        ]
        assert cell[cell["predicted"] == 1]["count"].sum() == (test["score"] >= 0.9).sum()
