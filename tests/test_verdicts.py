"""Verdicts on constructed predictions whose right answer is known.

Each case builds test predictions per variant and seed, scores them as the
evaluate stage does (metrics with bootstrap CIs), and checks the one word the
at-a-glance line carries: helps, hurts, none (with the detectable gain),
calibration or neither.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dnatune.cell_outputs import Predictions
from dnatune.evaluate.degenerate import cell_flags
from dnatune.evaluate.readers import CellKey
from dnatune.metrics import choose_threshold, metrics_with_ci
from dnatune.stats.transfer import COLUMNS, transfer_gains
from dnatune.stats.verdicts import decide, detectable_factor

N = 300


def _labels(n=N, seed=0):
    return (np.random.default_rng(seed).random(n) < 0.4).astype(int)


def _scores(labels, skill, seed):
    """Probabilities whose ranking improves with `skill` (0: random)."""
    noise = np.random.default_rng(seed).normal(0, 1, len(labels))
    return 1 / (1 + np.exp(-(skill * (2 * labels - 1) + noise)))


def _summary(cells: dict[CellKey, Predictions], task_type="binary") -> pd.DataFrame:
    rows = []
    for key, p in cells.items():
        values = metrics_with_ci(task_type, p.labels, p.scores, 300, threshold=p.threshold)
        for name, v in values.items():
            rows.append(
                {**key._asdict(), "metric": name}
                | {k: math.nan if x is None else x for k, x in v.items()}
            )
    return pd.DataFrame(rows)


def _grid(make, seeds=(0, 1, 2), variants=("scratch", "pretrained"), task="t", model="m"):
    """{CellKey: Predictions} from make(variant, seed)."""
    return {CellKey(task, model, v, 0.1, s): make(v, s) for v in variants for s in seeds}


def _verdict(cells, task_type="binary", metric="mcc", **kwargs):
    table = transfer_gains(
        _summary(cells, task_type),
        {k.task: metric for k in cells},
        {k.task: task_type for k in cells},
        cells,
        n_boot=400,
        **kwargs,
    )
    return table


def test_every_run_predicting_one_class_means_neither_learned():
    labels = _labels()
    cells = _grid(lambda v, s: Predictions(np.arange(N), labels, 0.1 + 0.3 * _scores(labels, 0, s)))
    row = _verdict(cells).iloc[0]
    assert (row.degenerate_variant, row.degenerate_scratch) == (3, 3)
    assert row.evidence == "neither" and math.isnan(row.q_value)
    assert row.verdict.startswith("neither variant learned this task at 10% labels")
    assert "likely causes: too few training steps or labels" in row.verdict


def test_random_ranking_in_both_classes_is_at_chance_and_neither_learned():
    labels = _labels()
    cells = _grid(lambda v, s: Predictions(np.arange(N), labels, _scores(labels, 0, 10 + s)))
    flags = cell_flags(_summary(cells), {"t": "binary"}, cells)
    assert flags["at_chance"].all() and not flags["one_class"].any()
    assert _verdict(cells).iloc[0].evidence == "neither"


def test_a_learned_variant_against_a_degenerate_scratch_is_judged():
    labels = _labels()

    def make(variant, seed):
        if variant == "scratch":
            return Predictions(np.arange(N), labels, np.full(N, 0.3))
        return Predictions(np.arange(N), labels, _scores(labels, 1.5, seed))

    row = _verdict(make_cells := _grid(make)).iloc[0]
    assert (row.degenerate_variant, row.degenerate_scratch) == (0, 3)
    assert row.evidence == "helps"  # scratch learned nothing, pretraining did: a real gain
    flags = cell_flags(_summary(make_cells), {"t": "binary"}, make_cells)
    assert flags[flags["variant"] == "scratch"]["majority_share"].eq(1.0).all()


def test_same_ranking_with_shifted_scores_is_calibration_only():
    labels = _labels()
    ranked = _scores(labels, 1.2, 0)

    def make(variant, seed):
        return Predictions(np.arange(N), labels, ranked if variant != "scratch" else ranked * 0.45)

    row = _verdict(_grid(make)).iloc[0]
    assert row.ci_low > 0 and row.q_value < 0.05
    assert row.ranking_metric == "auroc" and row.ranking_ci_low <= 0 <= row.ranking_ci_high
    assert row.evidence == "calibration"
    assert row.verdict.startswith("calibration only: pretraining moves MCC by")
    assert "but not AUROC +0.00" in row.verdict


def test_a_threshold_chosen_on_validation_removes_the_calibration_gain():
    labels, val_labels = _labels(), _labels(seed=1)
    skill = 1.2

    def make(variant, seed):
        shift = 0.45 if variant == "scratch" else 1.0
        threshold = choose_threshold(val_labels, shift * _scores(val_labels, skill, 50), "max_mcc")
        return Predictions(np.arange(N), labels, shift * _scores(labels, skill, 0), threshold)

    row = _verdict(_grid(make)).iloc[0]
    assert row.gain == pytest.approx(0, abs=1e-9)
    assert row.evidence == "none"


def test_a_better_ranking_helps_and_the_verdict_gives_the_ranking_gain():
    labels = _labels()

    def make(variant, seed):
        return Predictions(
            np.arange(N), labels, _scores(labels, 2.5 if variant != "scratch" else 1.0, 0)
        )

    row = _verdict(_grid(make)).iloc[0]
    assert row.evidence == "helps" and row.ranking_ci_low > 0
    assert row.verdict.startswith(f"pretraining helps: {row.gain:+.2f} MCC")
    assert f"AUROC {row.ranking_gain:+.2f} (95% CI {row.ranking_ci_low:.2f}" in row.verdict


def test_no_gain_on_a_tiny_test_set_states_the_detectable_gain():
    def table(n):
        labels = _labels(n)
        # both variants equally skilled, with their own noise: no true gain
        cells = _grid(
            lambda v, s: Predictions(np.arange(n), labels, _scores(labels, 1.0, s + len(v))),
            seeds=(0, 1),
        )
        return _verdict(cells).iloc[0]

    tiny, large = table(40), table(1200)
    assert tiny.evidence == "none" and abs(tiny.gain) < tiny.detectable_gain
    assert tiny.detectable_gain == pytest.approx(detectable_factor(0.95) * tiny.gain_se)
    assert detectable_factor(0.95) == pytest.approx(2.80, abs=0.01)
    # the bootstrap's spread sets the size: half the CI width is about 1.96 SE
    assert tiny.ci_high - tiny.ci_low == pytest.approx(2 * 1.96 * tiny.gain_se, rel=0.25)
    assert (
        f"40 test sequences and 2 seeds could detect a gain of ±{tiny.detectable_gain:.2f} MCC"
        in tiny.verdict
    )
    assert large.detectable_gain < tiny.detectable_gain / 3  # ~ 1 / sqrt(test size)


def _row(task, p, gain=0.1, ci=(0.02, 0.18)):
    row = dict.fromkeys(COLUMNS, math.nan)
    row |= {
        "task": task,
        "model": "m",
        "variant": "pretrained",
        "baseline": "scratch",
        "label_fraction": 1.0,
        "metric": "mcc",
        "n_seeds": 3,
        "gain": gain,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "p_bootstrap": p,
        "p_ttest": 0.5,
        "seeds_better": 3,
        "n_test": 100,
        "gain_se": 0.04,
        "ranking_metric": None,
        "degenerate_variant": 0,
        "degenerate_scratch": 0,
    }
    return row


def test_false_discovery_rate_is_controlled_across_the_comparisons():
    p = [0.001, 0.03, 0.2, 0.5, 0.6, 0.7, 0.8, 0.9]
    rows = [_row(f"t{i}", v) for i, v in enumerate(p)]
    rows.append(_row("dead", 1.0) | {"degenerate_variant": 3, "degenerate_scratch": 3})
    table = decide(pd.DataFrame(rows, columns=COLUMNS), 0.95)
    q = stats.false_discovery_control(p, method="bh")
    assert table["q_value"].iloc[:8].to_numpy() == pytest.approx(q)
    assert math.isnan(table["q_value"].iloc[8])  # neither-learned lines judge no difference
    assert table["p_bootstrap"].tolist()[:8] == p  # uncorrected p kept
    assert table["evidence"].tolist() == ["helps"] + ["none"] * 7 + ["neither"]
    # p = 0.03 alone would have said "helps"; among 8 comparisons it is not significant
    assert "not significant once 8 comparisons are corrected for" in table["verdict"].iloc[1]


def test_every_line_carries_exactly_one_of_the_five_words():
    labels = _labels()
    cells = _grid(lambda v, s: Predictions(np.arange(N), labels, _scores(labels, 1.0, s)))
    table = _verdict(cells)
    assert set(table["evidence"]) <= {"helps", "hurts", "none", "calibration", "neither"}


def test_baseline_variants_are_left_out_of_the_comparisons():
    labels = _labels()
    cells = _grid(
        lambda v, s: Predictions(np.arange(N), labels, _scores(labels, 1.0, s)),
        variants=("scratch", "pretrained", "cnn", "kmer_lr"),
    )
    cells |= _grid(
        lambda v, s: Predictions(np.arange(N), labels, _scores(labels, 1.0, s)),
        variants=("cnn", "kmer_lr"),
        model="baseline",
    )
    table = _verdict(cells)
    assert list(zip(table["model"], table["variant"], strict=True)) == [("m", "pretrained")]


def test_regression_with_constant_predictions_is_degenerate():
    rng = np.random.default_rng(2)
    y = rng.normal(size=N)

    def make(variant, seed):
        return Predictions(np.arange(N), y, np.full(N, 0.1))

    cells = _grid(make, seeds=(0,))
    flags = cell_flags(_summary(cells, "regression"), {"t": "regression"}, cells)
    assert flags["one_class"].all() and flags["degenerate"].all()
    assert flags["majority_share"].eq(1.0).all() and flags["threshold"].isna().all()
