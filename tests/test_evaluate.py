"""predictions.parquet -> metrics.json, checked against metrics recomputed from the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from dnatune.evaluate.score import EvaluationInputError, evaluate_cell
from dnatune.metrics import choose_threshold

CONTRACT_KEYS = {
    "task",
    "model",
    "variant",
    "label_fraction",
    "seed",
    "type",
    "n_test",
    "train_seconds",
    "train_steps",
    "headline",
    "metrics",
}


def write_cell(root: Path, task_type: str, n: int = 120, seed: int = 0) -> Path:
    """A cell's predictions.parquet and history.json plus the task's meta.json."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    frames = []
    for split in ("val", "test"):
        frame = pd.DataFrame({"split": split, "row": rng.permutation(n)})
        if task_type == "binary":
            frame["label"] = rng.integers(0, 2, n)
            frame["score"] = np.clip(0.4 * frame["label"] + 0.6 * rng.random(n), 0, 1)
        elif task_type == "multiclass":
            frame["label"] = rng.integers(0, 3, n)
            probs = rng.dirichlet(np.ones(3), n)
            for c in range(3):
                frame[f"score_{c}"] = probs[:, c]
        elif task_type == "multilabel":
            labels = rng.integers(0, 2, (n, 2)).astype("int8")
            frame["label"] = list(labels)
            for c in range(2):
                frame[f"score_{c}"] = np.clip(0.4 * labels[:, c] + 0.6 * rng.random(n), 0, 1)
        else:
            frame["label"] = rng.normal(size=n)
            frame["prediction"] = frame["label"] + rng.normal(size=n)
        frames.append(frame)
    pd.concat(frames).to_parquet(root / "predictions.parquet", index=False)
    (root / "history.json").write_text(
        json.dumps({"log_history": [], "train_seconds": 1.5, "train_steps": 12, "n_train": 80})
    )
    num_labels = {"binary": 2, "multiclass": 3, "multilabel": 2, "regression": 1}[task_type]
    (root / "meta.json").write_text(json.dumps({"type": task_type, "num_labels": num_labels}))
    return root


def evaluate(cell: Path, out: Path, **kwargs) -> dict:
    options = {
        "task": "t",
        "model": "m",
        "variant": "scratch",
        "label_fraction": 0.25,
        "seed": 1,
        "bootstrap": 200,
    }
    options.update(kwargs)
    return evaluate_cell(
        cell / "predictions.parquet", cell / "history.json", cell / "meta.json", out, **options
    )


def test_metrics_json_agrees_with_metrics_recomputed_from_predictions(tmp_path):
    cell = write_cell(tmp_path / "cell", "binary")
    evaluate(cell, tmp_path / "metrics.json")
    result = json.loads((tmp_path / "metrics.json").read_text())
    assert set(result) >= CONTRACT_KEYS
    assert result["headline"] == "mcc" and result["n_test"] == 120
    assert (result["label_fraction"], result["seed"], result["train_steps"]) == (0.25, 1, 12)
    test = pd.read_parquet(cell / "predictions.parquet").query("split == 'test'")
    pred = (test["score"] >= 0.5).astype(int)
    expected = {
        "accuracy": skm.accuracy_score(test["label"], pred),
        "f1": skm.f1_score(test["label"], pred),
        "mcc": skm.matthews_corrcoef(test["label"], pred),
        "auroc": skm.roc_auc_score(test["label"], test["score"]),
        "auprc": skm.average_precision_score(test["label"], test["score"]),
    }
    for name, value in expected.items():
        entry = result["metrics"][name]
        assert entry["value"] == pytest.approx(value)
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]


@pytest.mark.parametrize(
    ("task_type", "headline"),
    [("multiclass", "mcc"), ("multilabel", "macro_f1"), ("regression", "pearson")],
)
def test_every_task_type_is_scored(tmp_path, task_type, headline):
    cell = write_cell(tmp_path / "cell", task_type)
    result = evaluate(cell, tmp_path / "metrics.json")
    assert result["headline"] == headline
    assert all(entry["value"] is not None for entry in result["metrics"].values())
    test = pd.read_parquet(cell / "predictions.parquet").query("split == 'test'")
    if task_type == "multiclass":
        pred = test[["score_0", "score_1", "score_2"]].to_numpy().argmax(1)
        expected = skm.matthews_corrcoef(test["label"], pred)
    elif task_type == "multilabel":
        labels = np.stack(test["label"].to_numpy())
        pred = (test[["score_0", "score_1"]].to_numpy() >= 0.5).astype(int)
        expected = skm.f1_score(labels, pred, average="macro")
    else:
        expected = np.corrcoef(test["label"], test["prediction"])[0, 1]
    assert result["metrics"][headline]["value"] == pytest.approx(expected)


def test_the_configured_headline_metric_is_used_and_checked(tmp_path):
    cell = write_cell(tmp_path / "cell", "binary")
    assert evaluate(cell, tmp_path / "a.json", metric="auroc")["headline"] == "auroc"
    with pytest.raises(ValueError, match=r"tasks.t.metric.*not computed for binary"):
        evaluate(cell, tmp_path / "b.json", metric="spearman")
    assert not (tmp_path / "b.json").exists()


def test_missing_score_column_is_a_clear_error(tmp_path):
    cell = write_cell(tmp_path / "cell", "binary")
    frame = pd.read_parquet(cell / "predictions.parquet").drop(columns="score")
    frame.to_parquet(cell / "predictions.parquet")
    with pytest.raises(EvaluationInputError, match=r"predictions.parquet: .*'score'.*rerun"):
        evaluate(cell, tmp_path / "metrics.json")


def test_predictions_without_test_rows_are_a_clear_error(tmp_path):
    cell = write_cell(tmp_path / "cell", "binary")
    frame = pd.read_parquet(cell / "predictions.parquet").query("split == 'val'")
    frame.to_parquet(cell / "predictions.parquet")
    with pytest.raises(EvaluationInputError, match="no rows with split == 'test'"):
        evaluate(cell, tmp_path / "metrics.json")


def test_repeated_test_rows_are_a_clear_error(tmp_path):
    cell = write_cell(tmp_path / "cell", "binary")
    frame = pd.read_parquet(cell / "predictions.parquet")
    test = frame[frame["split"] == "test"]
    pd.concat([frame, test.iloc[:1]]).to_parquet(cell / "predictions.parquet")
    with pytest.raises(EvaluationInputError, match="test row numbers repeat"):
        evaluate(cell, tmp_path / "metrics.json")
    assert not (tmp_path / "metrics.json").exists()


def test_a_missing_history_is_a_clear_error(tmp_path):
    cell = write_cell(tmp_path / "cell", "regression")
    (cell / "history.json").unlink()
    with pytest.raises(EvaluationInputError, match=r"history.json: history.json is missing"):
        evaluate(cell, tmp_path / "metrics.json")


@pytest.mark.parametrize("rule", ["max_mcc", "max_f1"])
def test_threshold_is_chosen_on_the_validation_split_and_recorded(tmp_path, rule):
    cell = write_cell(tmp_path / "cell", "binary")
    result = evaluate(cell, tmp_path / "metrics.json", threshold_rule=rule)
    frame = pd.read_parquet(cell / "predictions.parquet")
    val, test = (frame[frame["split"] == s].sort_values("row") for s in ("val", "test"))
    expected = choose_threshold(val["label"], val["score"], rule)
    assert result["threshold"] == expected != 0.5 and result["threshold_rule"] == rule
    pred = (test["score"] >= expected).astype(int)
    assert result["metrics"]["mcc"]["value"] == pytest.approx(
        skm.matthews_corrcoef(test["label"], pred)
    )


def test_fixed_threshold_is_recorded_and_other_types_have_none(tmp_path):
    binary = evaluate(write_cell(tmp_path / "b", "binary"), tmp_path / "b.json")
    assert (binary["threshold"], binary["threshold_rule"]) == (0.5, "fixed")
    regression = evaluate(
        write_cell(tmp_path / "r", "regression"), tmp_path / "r.json", threshold_rule="max_mcc"
    )
    assert (regression["threshold"], regression["threshold_rule"]) == (None, None)


def test_validation_split_of_one_class_keeps_the_fixed_threshold(tmp_path):
    cell = write_cell(tmp_path / "cell", "binary")
    frame = pd.read_parquet(cell / "predictions.parquet")
    frame.loc[frame["split"] == "val", "label"] = 1
    frame.to_parquet(cell / "predictions.parquet", index=False)
    result = evaluate(cell, tmp_path / "metrics.json", threshold_rule="max_mcc")
    assert (result["threshold"], result["threshold_rule"]) == (0.5, "fixed")
