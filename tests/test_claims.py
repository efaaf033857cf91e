"""The three claims (dnatune.stats.claims): hand-built grids whose answers are known, bad input, and
the claims through the stats stage and the report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from report_fixtures import make_grid
from scipy import stats as scipy_stats

from dnatune.evaluate.degenerate import cell_flags
from dnatune.evaluate.readers import CellKey
from dnatune.evaluate.summary import COLUMNS as SUMMARY_COLUMNS
from dnatune.report.render import build_report
from dnatune.stats.claims import claim_tables
from dnatune.stats.convergence_ratio import pooled_ratio, seed_steps, validation_curve
from dnatune.stats.label_efficiency import crossing
from dnatune.stats.tables import read_claims, read_transfer
from dnatune.stats.transfer import transfer_gains

SEEDS = (0, 1, 2)
SCRATCH_CURVE = {0.05: 0.5, 0.2: 0.7, 1.0: 0.8}


def summary_of(cells: dict, task: str = "t") -> pd.DataFrame:
    """{(model, variant, fraction): value or [value per seed]} -> summary.tsv rows (MCC)."""
    rows = []
    for (model, variant, fraction), values in cells.items():
        per_seed = values if isinstance(values, list) else [values] * len(SEEDS)
        for seed, value in zip(SEEDS, per_seed, strict=True):
            rows.append(
                dict(task=task, model=model, variant=variant, label_fraction=fraction, seed=seed)
                | dict(metric="mcc", value=value, n_test=100, train_steps=100)
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def claims_of(summary: pd.DataFrame, histories: dict | None = None, n_boot: int = 200):
    tasks = pd.DataFrame(
        {"task": ["t"], "type": ["binary"], "headline": ["mcc"], "n_test": [100]}
    ).assign(threshold_rule="fixed")
    cells = cell_flags(summary, {"t": "binary"}, {})
    transfer = transfer_gains(summary, {"t": "mcc"}, {"t": "binary"}, {}, n_boot=n_boot)
    return claim_tables(summary, tasks, {}, cells, histories or {}, transfer, n_boot=n_boot)


def scratch_and(pretrained: dict) -> dict:
    cells = {("m", "scratch", f): v for f, v in SCRATCH_CURVE.items()}
    return cells | {("m", "pretrained", f): v for f, v in pretrained.items()}


def one(claims: pd.DataFrame, claim: str, **where) -> pd.Series:
    rows = claims[claims["claim"] == claim]
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# ---------------------------------------------------------------- less data


def test_crossing_on_the_scratch_curve_is_linear_in_log_fraction():
    fractions, means = list(SCRATCH_CURVE), list(SCRATCH_CURVE.values())
    assert crossing(fractions, means, 0.7, higher=True) == pytest.approx(0.2)
    # halfway from 0.5 to 0.7 is halfway from log 0.05 to log 0.2: sqrt(0.05 * 0.2) = 0.1
    assert crossing(fractions, means, 0.6, higher=True) == pytest.approx(0.1)
    assert crossing(fractions, means, 0.4, higher=True) == 0.05  # already there
    assert crossing(fractions, means, 0.9, higher=True) == math.inf
    # lower is better (a loss): the curve must come down to the target
    assert crossing(fractions, [0.5, 0.3, 0.2], 0.3, higher=False) == pytest.approx(0.2)
    assert crossing(fractions, [0.5, float("nan"), 0.2], 0.35, higher=False) == pytest.approx(
        math.exp(math.log(0.05) + 0.5 * (math.log(1.0) - math.log(0.05)))
    )


def test_label_efficiency_of_a_hand_built_grid_is_the_fraction_scratch_needs():
    _, claims = claims_of(summary_of(scratch_and({0.05: 0.7, 0.2: 0.8, 1.0: 0.85})))
    row = one(claims, "less_data")
    assert row["label_fraction"] == 0.05 and row["estimate"] == pytest.approx(0.2)
    # every seed has the same values: resampling seeds leaves the curve where it is
    assert row["ci_low"] == pytest.approx(0.2) and row["ci_high"] == pytest.approx(0.2)
    assert row["evidence"] == "helps" and math.isnan(row["q_value"])
    assert "scratch needs 0.2 of the labels" in row["verdict"]
    assert "4.0× as many" in row["verdict"]
    assert "without" not in row["ci_method"] and "seeds" in row["ci_method"]


def test_scratch_that_never_matches_needs_more_than_the_grid():
    _, claims = claims_of(summary_of(scratch_and({0.05: 0.9, 1.0: 0.9})))
    row = one(claims, "less_data")
    assert math.isinf(row["estimate"]) and row["evidence"] == "helps"
    assert "more than 1.0 of the labels" in row["verdict"]
    assert "never within the grid" in row["verdict"]


def test_no_saving_when_scratch_already_matches_and_a_wide_ci_is_no_evidence():
    _, claims = claims_of(summary_of(scratch_and({0.05: 0.45, 1.0: 0.8})))
    assert one(claims, "less_data")["evidence"] == "none"
    assert "scratch already reaches" in one(claims, "less_data")["verdict"]
    # seeds disagree: one seed's pretrained run is no better than scratch at 5%
    noisy = scratch_and({0.05: [0.75, 0.75, 0.45], 1.0: 0.8})
    row = one(claims_of(summary_of(noisy))[1], "less_data")
    assert row["estimate"] > 0.05 and row["ci_low"] == pytest.approx(0.05)
    assert (
        row["evidence"] == "none"
        and "no evidence that pretraining saves labels" in (row["verdict"])
    )


# ---------------------------------------------------------------- faster convergence


def history(values: dict[int, float], every: int = 10) -> dict:
    log = [{"loss": 0.5, "step": s} for s in values]
    log += [{"eval_loss": 0.4, "eval_mcc": v, "step": s} for s, v in values.items()]
    return {"log_history": log, "eval_steps": every}


def rising(best_at: int, best: float = 0.8, steps: int = 100) -> dict[int, float]:
    """Validation MCC rising linearly to `best` at `best_at`, then flat."""
    return {s: best * min(1.0, s / best_at) for s in range(10, steps + 1, 10)}


def test_convergence_steps_are_read_from_the_validation_log():
    scratch, fast = history(rising(80)), history(rising(20, best=0.9))
    curve = validation_curve(scratch, "mcc")
    assert curve[0] == (10, 0.1) and len(curve) == 10  # train-loss entries are skipped
    steps = seed_steps(0, curve, validation_curve(fast, "mcc"), higher=True)
    # scratch's best 0.8 first at step 80; the fast run passes 0.8 at step 20 (0.9 there)
    assert (steps.best, steps.scratch_steps, steps.variant_steps) == (0.8, 80, 20)
    slow = seed_steps(1, curve, validation_curve(history(rising(50, best=0.7)), "mcc"), True)
    assert math.isinf(slow.variant_steps)
    assert pooled_ratio([steps]) == 0.25 and math.isinf(pooled_ratio([steps, slow]))


def convergence_grid(pretrained_best_at: list[int], scratch_best_at=(80, 100, 80)) -> dict:
    histories = {}
    for seed, (s_at, p_at) in enumerate(zip(scratch_best_at, pretrained_best_at, strict=True)):
        for variant, at in (("scratch", s_at), ("pretrained", p_at)):
            best = 0.8 if variant == "scratch" else 0.85
            histories[CellKey("t", "m", variant, 1.0, seed)] = history(rising(at, best))
    return histories


def test_convergence_ratio_pools_the_seeds_and_says_faster():
    summary = summary_of({("m", "scratch", 1.0): 0.8, ("m", "pretrained", 1.0): 0.85})
    # pretrained reaches 0.8 at step ceil(at * 0.8 / 0.85) rounded up to the next evaluation
    _, claims = claims_of(summary, convergence_grid([20, 40, 20]))
    row = one(claims, "faster_convergence")
    assert row["estimate"] == pytest.approx((20 + 40 + 20) / (80 + 100 + 80))
    assert row["ci_high"] < 1 and row["evidence"] == "helps"
    assert "converges faster at 100% labels" in row["verdict"] and "0.31×" in row["verdict"]
    assert "validation every 10 steps" in row["note"]
    # a seed that never reaches scratch's best: the pooled ratio is 'never'
    histories = convergence_grid([20, 40, 20])
    histories[CellKey("t", "m", "pretrained", 1.0, 1)] = history(rising(40, best=0.6))
    row = one(claims_of(summary, histories)[1], "faster_convergence")
    assert math.isinf(row["estimate"]) and row["evidence"] == "none"
    assert (
        "does not reach scratch's best validation MCC within its run in 1 of 3 seeds"
        in (row["verdict"])
    )


def test_missing_or_empty_history_leaves_the_claim_absent_with_its_reason():
    summary = summary_of({("m", "scratch", 1.0): 0.8, ("m", "pretrained", 1.0): 0.85})
    histories = convergence_grid([20, 40, 20])
    del histories[CellKey("t", "m", "scratch", 1.0, 2)]
    row = one(claims_of(summary, histories)[1], "faster_convergence")
    assert row["evidence"] == "absent" and math.isnan(row["estimate"])
    assert "history.json of scratch s2 at 100% labels not read" in row["verdict"]
    histories = convergence_grid([20, 40, 20])
    histories[CellKey("t", "m", "pretrained", 1.0, 0)] = {"log_history": [{"loss": 1, "step": 5}]}
    row = one(claims_of(summary, histories)[1], "faster_convergence")
    assert row["evidence"] == "absent" and "logs no validation MCC (eval_mcc)" in row["verdict"]


# ---------------------------------------------------------------- better scores and bad grids


def test_a_grid_without_scratch_or_baselines_states_each_absent_claim():
    summary = summary_of({("m", "pretrained", 0.05): 0.6, ("m", "pretrained", 1.0): 0.8})
    transfer, claims = claims_of(summary)
    assert transfer.empty
    assert set(claims["evidence"]) == {"absent"}
    assert len(claims) == 2 * 2 + 1 + 2  # better x (scratch, baseline) x 2, less data, 2 speeds
    assert one(claims, "less_data")["verdict"].startswith("no scratch cells in the grid")
    scratch = one(claims, "better_scores", reference="scratch", label_fraction=0.05)
    assert scratch["verdict"].startswith("no scratch cells at 5% labels")
    base = one(claims, "better_scores", reference="best baseline", label_fraction=1.0)
    assert "add cnn and/or kmer_lr to finetune.variants" in base["verdict"]


def baseline_cells(cnn: list, kmer_lr: list, fraction: float = 1.0) -> dict:
    return {("baseline", "cnn", fraction): cnn, ("baseline", "kmer_lr", fraction): kmer_lr}


def val_histories(val: dict[str, float], fraction: float = 1.0) -> dict:
    return {
        CellKey("t", "baseline", v, fraction, s): {"log_history": [], "val_metrics": {"mcc": x}}
        for v, x in val.items()
        for s in SEEDS
    }


def test_best_baseline_is_chosen_on_validation_and_joins_the_fdr_family():
    cells = scratch_and({1.0: [0.9, 0.92, 0.91]}) | baseline_cells([0.86] * 3, [0.7] * 3)
    summary = summary_of({k: v for k, v in cells.items() if k[2] == 1.0})
    # kmer_lr is the better baseline on validation, though cnn scores higher on test
    transfer, claims = claims_of(summary, val_histories({"cnn": 0.6, "kmer_lr": 0.65}))
    row = one(claims, "better_scores", reference="kmer_lr")
    assert row["estimate"] == pytest.approx(0.91 - 0.7)
    assert "chosen on mean validation MCC: cnn 0.600, kmer_lr 0.650" in row["note"]
    assert row["evidence"] == "helps"
    assert row["verdict"].startswith("pretraining (against the kmer_lr baseline) helps: +0.21 MCC")
    # one Benjamini-Hochberg family: the scratch and the baseline comparison together
    scratch = one(claims, "better_scores", reference="scratch")
    p = [scratch_p := read_p(transfer.iloc[0]), seed_t_p(summary, "kmer_lr")]
    q = scipy_stats.false_discovery_control(p, method="bh")
    assert transfer.iloc[0]["q_value"] == pytest.approx(q[0]) == scratch["q_value"]
    assert row["q_value"] == pytest.approx(q[1]) and scratch_p == p[0]
    # without validation metrics the choice falls back to test, and says what that means
    _, claims = claims_of(summary)
    row = one(claims, "better_scores", reference="cnn")
    assert "chosen on mean test MCC" in row["note"] and "understated" in row["note"]


def read_p(row) -> float:
    return row["p_bootstrap"] if not math.isnan(row["p_bootstrap"]) else row["p_ttest"]


def seed_t_p(summary: pd.DataFrame, baseline: str) -> float:
    values = summary.pivot(index="seed", columns="variant", values="value")
    return scipy_stats.ttest_rel(values["pretrained"], values[baseline]).pvalue


# ---------------------------------------------------------------- through the stats and report


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    grid = make_grid(
        tmp_path_factory.mktemp("claims"),
        variants=("scratch", "pretrained", "cnn", "kmer_lr"),
        fractions=(0.05, 0.2, 1.0),
        seeds=(0, 1, 2),
        n_test=100,
    )
    grid.write_summary_and_stats(n_boot=200)
    return grid


def test_stats_stage_writes_every_claim_of_the_fixture_grid(grid):
    claims = read_claims(grid.stats.claims)
    per_task = 2 * len(grid.fractions) + 1 + len(grid.fractions)
    assert len(claims) == len(grid.tasks) * per_task
    assert set(claims["evidence"]) <= {"helps", "hurts", "none", "calibration", "neither"}
    better = claims[claims["claim"] == "better_scores"]
    assert set(better["reference"]) <= {"scratch", "cnn", "kmer_lr"}
    assert better["q_value"].notna().all() and claims["ci_method"].notna().all()
    # transfer.tsv's q-values are the ones of the joint family
    transfer = read_transfer(grid.stats.transfer)
    merged = better[better["reference"] == "scratch"].merge(
        transfer, on=["task", "model", "variant", "label_fraction"]
    )
    assert np.allclose(merged["q_value_x"], merged["q_value_y"]) and len(merged) == len(transfer)
    # the fixture's pre-trained model is far ahead at 5% labels: a test-example bootstrap
    efficiency = claims[claims["claim"] == "less_data"]
    assert (efficiency["estimate"] > 0.05).all()
    assert efficiency["ci_method"].str.contains("test examples").all()


def test_report_shows_the_three_claims_per_task_and_at_a_glance(grid):
    page, _ = build_report(grid.report_inputs(), grid.config, n_boot=200)
    claims = read_claims(grid.stats.claims)
    glance = page.split('id="glance"')[1].split("</section>")[0]
    assert glance.count('<ul class="claims">') == len(grid.tasks)
    assert "better than the best baseline:" in glance and "faster convergence:" in glance
    for task in grid.tasks:
        section = page.split(f'id="task-{task}"')[1].split("</section>")[0]
        assert "<h3>Three claims: better scores, less data, faster convergence</h3>" in section
        for verdict in claims[claims["task"] == task]["verdict"]:
            assert str(escape(verdict)) in section  # as Jinja2 escapes
