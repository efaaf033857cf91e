"""Transfer gain: paired statistics across seeds and test examples, and the verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from report_fixtures import make_grid
from scipy import stats

from dnatune.cell_outputs import Predictions
from dnatune.evaluate.readers import CellKey, ReportInputError, cell_key_from_path
from dnatune.evaluate.summary import collect_summary
from dnatune.metrics import compute_metrics
from dnatune.stats.transfer import transfer_gains

RNG = np.random.default_rng(5)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return make_grid(tmp_path_factory.mktemp("transfer"), n_test=120)


def _gains(grid, **kwargs):
    summary = collect_summary(grid.metrics)
    headlines = {t: s["headline"] for t, s in grid.tasks.items()}
    types = {t: s["type"] for t, s in grid.tasks.items()}
    predictions = {cell_key_from_path(p): p for p in grid.predictions}
    return summary, transfer_gains(summary, headlines, types, predictions, **kwargs)


def test_gain_and_seed_test_follow_the_summary(grid):
    summary, table = _gains(grid, n_boot=300)
    assert len(table) == len(grid.tasks) * len(grid.fractions)  # one non-scratch variant
    for row in table.itertuples():
        values = summary[
            (summary["task"] == row.task)
            & (summary["metric"] == row.metric)
            & (summary["label_fraction"] == row.label_fraction)
        ].pivot(index="seed", columns="variant", values="value")
        diffs = values["pretrained"] - values["scratch"]
        assert row.gain == pytest.approx(diffs.mean())
        assert row.seed_sd == pytest.approx(diffs.std(ddof=1))
        assert row.p_ttest == pytest.approx(
            stats.ttest_rel(values["pretrained"], values["scratch"]).pvalue
        )
        assert row.seeds_better == int((diffs > 0).sum())
        assert row.n_seeds == len(grid.seeds) and row.n_test == 120
        assert row.ci_low <= row.gain <= row.ci_high
        assert 0 < row.p_bootstrap <= 1


def test_large_gain_with_few_labels_is_called_helps_in_plain_words(grid):
    _, table = _gains(grid, n_boot=300)
    few = table[table["label_fraction"] == min(grid.fractions)]
    for row in few.itertuples():
        # the fixture gives pre-trained models far more skill at 5% labels
        assert row.evidence == "helps" and row.ci_low > 0
        assert row.verdict.startswith(f"pretraining helps: {row.gain:+.2f}")
        assert "at 5% labels" in row.verdict
        assert f"95% CI {row.ci_low:.2f} to {row.ci_high:.2f}" in row.verdict
        assert f"better in {row.seeds_better} of {row.n_seeds} seeds" in row.verdict


def test_bootstrap_is_reproducible_and_depends_on_its_seed(grid):
    _, a = _gains(grid, n_boot=200, seed=1)
    _, b = _gains(grid, n_boot=200, seed=1)
    _, c = _gains(grid, n_boot=200, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ci_low"], c["ci_low"])


def test_confidence_level_widens_the_interval(grid):
    _, narrow = _gains(grid, n_boot=300, confidence=0.5)
    _, wide = _gains(grid, n_boot=300, confidence=0.99)
    assert (wide["ci_high"] - wide["ci_low"] > narrow["ci_high"] - narrow["ci_low"]).all()
    assert "99% CI" in wide["verdict"].iloc[0]


# ---------------------------------------------------------------- hand-built comparisons


def _binary_base(n=200, accuracy=0.8):
    labels = RNG.integers(0, 2, n)
    correct = RNG.random(n) < accuracy
    scores = np.where(correct == labels.astype(bool), 0.7, 0.3)
    return Predictions(np.arange(n), labels, scores)


def _fix(preds: Predictions, count: int, rng_seed: int, worsen: bool = False) -> Predictions:
    """Copy whose `count` wrong (or, when worsen, right) predictions are flipped."""
    hard = (preds.scores >= 0.5).astype(int)
    pool = np.flatnonzero((hard == preds.labels) == worsen)
    flip = np.random.default_rng(rng_seed).choice(pool, count, replace=False)
    scores = preds.scores.copy()
    scores[flip] = 1 - scores[flip]
    return Predictions(preds.rows, preds.labels, scores)


def _compare(cells: dict[tuple[str, int], Predictions], task_type="binary", metric="accuracy"):
    rows, predictions = [], {}
    for (variant, seed), preds in cells.items():
        key = CellKey("t", "m", variant, 0.1, seed)
        predictions[key] = preds
        for name, value in compute_metrics(task_type, preds.labels, preds.scores).items():
            rows.append({**key._asdict(), "metric": name, "value": value})
    summary = pd.DataFrame(rows)
    return transfer_gains(summary, {"t": metric}, {"t": task_type}, predictions, n_boot=500)


def test_identical_predictions_give_no_evidence():
    base = _binary_base()
    table = _compare({("scratch", 0): base, ("pretrained", 0): base})
    row = table.iloc[0]
    assert row.gain == 0 and row.evidence == "none"
    assert row.verdict.startswith("no evidence of a difference from pretraining: +0.00 accuracy")


def test_pairing_detects_a_small_consistent_gain_that_unpaired_intervals_miss():
    base = _binary_base(n=300)
    better = _fix(base, 12, rng_seed=0)  # fixes 12 of the scratch model's errors
    table = _compare({("scratch", 0): base, ("pretrained", 0): better})
    row = table.iloc[0]
    assert row.gain == pytest.approx(12 / 300)
    assert row.ci_low > 0 and row.evidence == "helps"
    # each model's own accuracy interval (unpaired) is wider than the gain: they overlap
    p = compute_metrics("binary", base.labels, base.scores)["accuracy"]
    half_width = 1.96 * math.sqrt(p * (1 - p) / 300)
    assert 2 * half_width > row.gain


def test_seeds_that_disagree_give_no_evidence_and_say_so():
    base = _binary_base(n=300)
    cells = {}
    for seed in range(4):
        cells[("scratch", seed)] = base
        cells[("pretrained", seed)] = (
            _fix(base, 3, rng_seed=seed, worsen=True) if seed == 3 else _fix(base, 40, seed)
        )
    row = _compare(cells).iloc[0]
    assert row.seeds_better == 3 and row.ci_low > 0
    assert row.evidence == "none"
    assert row.verdict.startswith("no evidence of a difference from pretraining")
    assert "seeds disagree" in row.verdict


def test_lower_is_better_metric_counts_a_drop_as_help():
    labels = RNG.normal(size=200)
    noisy = Predictions(np.arange(200), labels, labels + RNG.normal(0, 1.0, 200))
    close = Predictions(np.arange(200), labels, labels + RNG.normal(0, 0.3, 200))
    row = _compare(
        {("scratch", 0): noisy, ("pretrained", 0): close}, task_type="regression", metric="mse"
    ).iloc[0]
    assert row.gain < 0 and row.ci_high < 0
    assert row.seeds_better == 1 and row.evidence == "helps"
    assert row.verdict.startswith(f"pretraining helps: {row.gain:+.2f} MSE")


def test_continued_variant_is_named_continued_pretraining():
    base = _binary_base()
    row = _compare({("scratch", 0): base, ("continued", 0): _fix(base, 30, 1)}).iloc[0]
    assert row.variant == "continued" and row.verdict.startswith("continued pretraining helps")


def test_different_test_rows_cannot_be_paired():
    base = _binary_base()
    shifted = Predictions(base.rows + 1, base.labels, base.scores)
    with pytest.raises(ReportInputError, match="cover different test rows"):
        _compare({("scratch", 0): base, ("pretrained", 0): shifted})


def test_without_predictions_the_interval_is_a_t_interval_over_seeds():
    diffs = np.array([0.10, 0.14, 0.12])
    rows = []
    for seed, d in enumerate(diffs):
        rows.append(
            {
                "task": "t",
                "model": "m",
                "variant": "scratch",
                "label_fraction": 1.0,
                "seed": seed,
                "metric": "mcc",
                "value": 0.5,
            }
        )
        rows.append(
            {
                "task": "t",
                "model": "m",
                "variant": "pretrained",
                "label_fraction": 1.0,
                "seed": seed,
                "metric": "mcc",
                "value": 0.5 + d,
            }
        )
    summary = pd.DataFrame(rows)
    row = transfer_gains(summary, {"t": "mcc"}, {"t": "binary"}).iloc[0]
    lo, hi = stats.t.interval(0.95, 2, loc=diffs.mean(), scale=stats.sem(diffs))
    assert (row.ci_low, row.ci_high) == pytest.approx((lo, hi))
    assert row.ci_method == "t interval over seeds" and row.evidence == "helps"
    one_seed = transfer_gains(summary[summary["seed"] == 0], {"t": "mcc"}, {"t": "binary"})
    assert one_seed.iloc[0].evidence == "none"
    assert "add seeds" in one_seed.iloc[0].verdict


def test_seeds_with_an_undefined_metric_are_left_out():
    rows = [
        {
            "task": "t",
            "model": "m",
            "variant": v,
            "label_fraction": 1.0,
            "seed": s,
            "metric": "auroc",
            "value": value,
        }
        for v, s, value in [
            ("scratch", 0, 0.7),
            ("pretrained", 0, 0.8),
            ("scratch", 1, float("nan")),
            ("pretrained", 1, 0.9),
        ]
    ]
    row = transfer_gains(pd.DataFrame(rows), {"t": "auroc"}, {"t": "binary"}).iloc[0]
    assert row.n_seeds == 1 and row.gain == pytest.approx(0.1)
