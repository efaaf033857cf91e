"""summary.tsv: one row per grid cell x metric, values straight from metrics.json."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from report_fixtures import make_grid, write_json

from dnatune.evaluate.readers import ReportInputError, cell_key_from_path
from dnatune.evaluate.summary import COLUMNS, collect_summary, read_summary, write_summary


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return make_grid(tmp_path_factory.mktemp("summary"), n_test=60)


def test_one_row_per_cell_and_metric_with_values_from_metrics_json(grid):
    table = collect_summary(grid.metrics, grid.histories)
    assert list(table.columns) == COLUMNS
    expected_rows = sum(len(json.loads(p.read_text())["metrics"]) for p in grid.metrics)
    assert len(table) == expected_rows
    cells = table.drop_duplicates(["task", "model", "variant", "label_fraction", "seed"])
    assert len(cells) == len(list(grid.cells()))
    for path in grid.metrics:
        data = json.loads(path.read_text())
        rows = table[
            (table["task"] == data["task"])
            & (table["variant"] == data["variant"])
            & (table["label_fraction"] == data["label_fraction"])
            & (table["seed"] == data["seed"])
        ].set_index("metric")
        assert set(rows.index) == set(data["metrics"])
        for name, entry in data["metrics"].items():
            assert rows.loc[name, "value"] == pytest.approx(entry["value"])
            assert rows.loc[name, "ci_low"] == pytest.approx(entry["ci_low"])
            assert rows.loc[name, "ci_high"] == pytest.approx(entry["ci_high"])
        assert (rows["n_test"] == data["n_test"]).all()
        assert (rows["train_steps"] == data["train_steps"]).all()
        assert rows["train_seconds"].iloc[0] == pytest.approx(data["train_seconds"])


def test_rows_are_sorted_scratch_first_then_fraction_and_seed(grid):
    table = collect_summary(grid.metrics)
    first = table[table["task"] == table["task"].iloc[0]]
    variants = list(dict.fromkeys(first["variant"]))
    assert variants == ["scratch", "pretrained"]
    block = first[(first["variant"] == "scratch") & (first["metric"] == first["metric"].iloc[0])]
    assert list(block["label_fraction"]) == sorted(block["label_fraction"])


def test_baseline_variants_follow_the_language_model_variants(tmp_path):
    grid = make_grid(tmp_path, variants=("kmer_lr", "scratch", "cnn", "pretrained"), seeds=(0,))
    table = collect_summary(grid.metrics)
    first = table[table["task"] == table["task"].iloc[0]]
    # each variant's rows together, in the report's order, whatever order the files came in
    assert list(dict.fromkeys(first["variant"])) == ["scratch", "pretrained", "cnn", "kmer_lr"]
    runs = (first["variant"] != first["variant"].shift()).sum()
    assert runs == 4


def test_write_then_read_round_trips_and_null_metrics_stay_missing(grid, tmp_path):
    metrics = [tmp_path / "results/eval/promoter/tiny/scratch/f1/s9/metrics.json"]
    data = json.loads(grid.metrics[0].read_text())
    data.update(seed=9, label_fraction=1.0)
    data["metrics"]["auroc"] = {"value": None, "ci_low": None, "ci_high": None}
    write_json(metrics[0], data)
    out = tmp_path / "report" / "summary.tsv"
    written = write_summary([*grid.metrics, *metrics], out, grid.histories)
    back = read_summary(out)
    assert len(back) == len(written)
    pd.testing.assert_series_equal(back["value"], written["value"], check_dtype=False)
    null_row = back[(back["seed"] == 9) & (back["metric"] == "auroc")]
    assert math.isnan(null_row["value"].iloc[0])
    assert not list(out.parent.glob(".summary.tsv.tmp-*"))  # written atomically


def test_training_time_falls_back_to_history_json(grid, tmp_path):
    data = json.loads(grid.metrics[0].read_text())
    del data["train_seconds"], data["train_steps"]
    key = cell_key_from_path(grid.metrics[0])
    cell = f"{key.task}/{key.model}/{key.variant}/f{key.label_fraction:g}/s{key.seed}"
    path = write_json(tmp_path / "eval" / cell / "metrics.json", data)
    history_path = next(p for p in grid.histories if cell_key_from_path(p) == key)
    history = json.loads(history_path.read_text())
    table = collect_summary([path], [history_path])
    assert (table["train_steps"] == history["train_steps"]).all()
    assert table["train_seconds"].iloc[0] == pytest.approx(history["train_seconds"])


def test_missing_key_names_the_file_and_the_key(grid, tmp_path):
    data = json.loads(grid.metrics[0].read_text())
    del data["headline"]
    path = write_json(tmp_path / "results/eval/promoter/tiny/scratch/f1/s0/metrics.json", data)
    with pytest.raises(
        ReportInputError, match=r"metrics.json: metrics.json lacks the key\(s\) headline"
    ):
        collect_summary([path])


def test_metrics_json_in_the_wrong_cell_directory_is_refused(grid, tmp_path):
    data = json.loads(grid.metrics[0].read_text())
    wrong = tmp_path / "results/eval/promoter/tiny/scratch/f1/s7/metrics.json"
    write_json(wrong, data | {"seed": 0, "label_fraction": 0.05})
    with pytest.raises(ReportInputError, match="lies in the directory of cell"):
        collect_summary([wrong])


def test_the_same_cell_twice_is_refused(grid, tmp_path):
    copy = tmp_path / "elsewhere" / "metrics.json"
    write_json(copy, json.loads(grid.metrics[0].read_text()))
    with pytest.raises(ReportInputError, match="exactly one metrics.json"):
        collect_summary([grid.metrics[0], copy])


def test_broken_json_names_line_and_fix(tmp_path):
    path = tmp_path / "results/eval/t/m/scratch/f1/s0/metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"task": "t",\n "model": }')
    with pytest.raises(ReportInputError, match=r"not valid JSON \(line 2.*rerun the stage"):
        collect_summary([path])


def test_headline_must_be_one_of_the_metrics(grid, tmp_path):
    data = json.loads(grid.metrics[0].read_text()) | {"headline": "kappa"}
    path = write_json(tmp_path / "metrics.json", data)
    with pytest.raises(ReportInputError, match="headline metric 'kappa' is not among"):
        collect_summary([path])


def test_no_cells_is_an_error():
    with pytest.raises(ReportInputError, match="no metrics.json"):
        collect_summary([])
