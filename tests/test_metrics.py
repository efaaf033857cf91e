"""Metrics against scikit-learn on hand-made predictions, and the bootstrap CIs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from dnatune import metrics


def test_binary_metrics_on_hand_made_predictions():
    labels = np.array([0, 0, 1, 1, 1, 0])
    scores = np.array([0.1, 0.6, 0.7, 0.4, 0.9, 0.2])
    # predicted classes 0 1 1 0 1 0: tp 2, fp 1, fn 1, tn 2
    got = metrics.compute_metrics("binary", labels, scores)
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["f1"] == pytest.approx(2 / 3)
    assert got["mcc"] == pytest.approx((2 * 2 - 1 * 1) / 9)
    assert got["auroc"] == pytest.approx(skm.roc_auc_score(labels, scores))
    assert got["auroc"] == pytest.approx(8 / 9)  # 8 of 9 positive-negative pairs ordered
    assert got["auprc"] == pytest.approx(skm.average_precision_score(labels, scores))


def test_multiclass_metrics_on_hand_made_predictions():
    labels = np.array([0, 1, 2, 2, 1, 0])
    scores = np.eye(3)[[0, 2, 2, 1, 1, 0]] * 0.8 + 0.2 / 3
    pred = scores.argmax(1)
    got = metrics.compute_metrics("multiclass", labels, scores)
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["macro_f1"] == pytest.approx(skm.f1_score(labels, pred, average="macro"))
    assert got["mcc"] == pytest.approx(skm.matthews_corrcoef(labels, pred))


def test_multilabel_metrics_on_hand_made_predictions():
    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.3, 0.4], [0.6, 0.8], [0.7, 0.1]])
    pred = (scores >= 0.5).astype(int)
    got = metrics.compute_metrics("multilabel", labels, scores)
    assert got["micro_f1"] == pytest.approx(skm.f1_score(labels, pred, average="micro"))
    assert got["macro_f1"] == pytest.approx(skm.f1_score(labels, pred, average="macro"))
    assert got["macro_auroc"] == pytest.approx(skm.roc_auc_score(labels, scores, average="macro"))


def test_regression_metrics_on_hand_made_predictions():
    labels = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.5, 1.5, 3.5, 4.5])
    got = metrics.compute_metrics("regression", labels, pred)
    assert got["mse"] == pytest.approx(0.25)
    assert got["mae"] == pytest.approx(0.5)
    assert got["r2"] == pytest.approx(1 - 1.0 / 5.0)
    assert got["pearson"] == pytest.approx(stats.pearsonr(labels, pred).statistic)
    assert got["spearman"] == pytest.approx(stats.spearmanr(labels, pred).statistic)


def random_case(task_type: str, n: int, rng):
    if task_type == "binary":
        y = rng.integers(0, 2, n)
        return y, np.round(np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1), 2)  # with ties
    if task_type == "multiclass":
        y = rng.integers(0, 4, n)
        s = rng.dirichlet(np.ones(4), n)
        s[np.arange(n), y] += 0.4
        return y, s / s.sum(1, keepdims=True)
    if task_type == "multilabel":
        y = rng.integers(0, 2, (n, 3))
        y[:, 2] = rng.random(n) < 0.05  # a rare label: absent from some resamples
        return y, np.clip(0.3 * y + 0.7 * rng.random((n, 3)), 0, 1)
    y = rng.normal(size=n)
    return y, y + rng.normal(size=n)


@pytest.mark.parametrize("task_type", ["binary", "multiclass", "multilabel", "regression"])
def test_vectorised_bootstrap_equals_sklearn_on_each_resample(task_type):
    rng = np.random.default_rng(1)
    labels, scores = random_case(task_type, 80, rng)
    idx = rng.integers(0, 80, size=(25, 80))
    batched = metrics.batched_metrics(task_type, labels[idx], scores[idx])
    for b in range(25):
        reference = metrics.compute_metrics(task_type, labels[idx[b]], scores[idx[b]])
        for name, value in reference.items():
            assert batched[name][b] == pytest.approx(value, nan_ok=True), (name, b)


@pytest.mark.parametrize("task_type", ["binary", "multiclass", "multilabel", "regression"])
def test_ci_contains_the_estimate_and_narrows_with_n(task_type):
    rng = np.random.default_rng(2)
    widths = []
    for n in (100, 1600):
        labels, scores = random_case(task_type, n, rng)
        result = metrics.metrics_with_ci(task_type, labels, scores, n_resamples=400, seed=0)
        assert set(result) == set(metrics.METRICS[task_type])
        for entry in result.values():
            assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]
        head = metrics.DEFAULT_HEADLINE[task_type]
        widths.append(result[head]["ci_high"] - result[head]["ci_low"])
    assert widths[1] < widths[0] / 2  # ~1/sqrt(16) in theory


def test_bootstrap_is_seeded():
    labels, scores = random_case("binary", 60, np.random.default_rng(3))
    first = metrics.bootstrap_ci("binary", labels, scores, 200, seed=5)
    assert first == metrics.bootstrap_ci("binary", labels, scores, 200, seed=5)
    assert first != metrics.bootstrap_ci("binary", labels, scores, 200, seed=6)


def test_undefined_metrics_are_null_not_errors():
    result = metrics.metrics_with_ci("binary", [1, 1, 1], [0.2, 0.7, 0.9], n_resamples=50)
    assert result["auroc"] == {"value": None, "ci_low": None, "ci_high": None}
    assert result["accuracy"]["value"] == pytest.approx(2 / 3)


def test_headline_metric_names_the_key_and_the_choices():
    assert metrics.headline_metric("binary") == "mcc"
    assert metrics.headline_metric("regression", "spearman") == "spearman"
    with pytest.raises(ValueError, match=r"tasks.x.metric.*accuracy, f1, mcc, auroc, auprc"):
        metrics.headline_metric("binary", "r2", where="tasks.x.metric")
    assert not metrics.greater_is_better("mse") and metrics.greater_is_better("auroc")


def test_mismatched_shapes_are_a_clear_error():
    with pytest.raises(ValueError, match="multiclass metrics need 2-d scores"):
        metrics.compute_metrics("multiclass", [0, 1], [0.2, 0.8])


@pytest.mark.parametrize(
    ("rule", "score"), [("max_mcc", skm.matthews_corrcoef), ("max_f1", skm.f1_score)]
)
def test_chosen_threshold_maximises_its_metric_over_every_candidate(rule, score):
    rng = np.random.default_rng(4)
    labels = (rng.random(150) < 0.3).astype(int)
    scores = 1 / (1 + np.exp(-(labels * 1.5 - 1.2 + rng.normal(0, 1, 150))))
    threshold = metrics.choose_threshold(labels, scores, rule)
    best = max(score(labels, (scores >= t).astype(int)) for t in np.unique(scores))
    assert score(labels, (scores >= threshold).astype(int)) == pytest.approx(best)
    assert threshold in scores  # a seen score, applied as score >= threshold


def test_fixed_threshold_is_one_half_and_one_class_cannot_choose():
    assert metrics.choose_threshold([0, 1], [0.2, 0.9], "fixed") == 0.5
    with pytest.raises(ValueError, match="one class"):
        metrics.choose_threshold([1, 1, 1], [0.2, 0.7, 0.9], "max_mcc")
    with pytest.raises(ValueError, match="unknown threshold rule"):
        metrics.choose_threshold([0, 1], [0.2, 0.9], "youden")


def test_threshold_moves_the_threshold_metrics_and_not_the_ranking_ones():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 2, 80)
    scores = np.clip(0.3 * labels + 0.5 * rng.random(80), 0, 1)
    low = metrics.compute_metrics("binary", labels, scores, threshold=0.3)
    assert low["mcc"] == pytest.approx(skm.matthews_corrcoef(labels, scores >= 0.3))
    assert low["auroc"] == metrics.compute_metrics("binary", labels, scores)["auroc"]
    idx = rng.integers(0, 80, (5, 80))
    batched = metrics.batched_metrics("binary", labels[idx], scores[idx], threshold=0.3)
    for b in range(5):
        one = metrics.compute_metrics("binary", labels[idx[b]], scores[idx[b]], threshold=0.3)
        assert batched["mcc"][b] == pytest.approx(one["mcc"])
