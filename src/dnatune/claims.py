"""The three claims of transfer learning, per task x model x pre-trained variant, as numbers
with bootstrap CIs and a plain verdict (results/stats/claims.tsv, one row per claim):

* better_scores, per label fraction, twice: the headline-metric gain over `scratch` (the
  transfer table's row, dnatune.transfer) and over the best baseline of the grid (`cnn`,
  `kmer_lr`: the one with the better mean validation metric at that fraction, from the
  cells' history.json; on test only where no validation metric was logged, which the
  row's note says). Both are paired two-level bootstraps over seeds and test examples,
  and both kinds of comparison form one Benjamini-Hochberg family (dnatune.verdicts);
* less_data, at the smallest label fraction: the fraction of labels scratch needs to match
  the variant there (dnatune.label_efficiency); `inf` when scratch never does within the
  grid;
* faster_convergence, per label fraction: steps to reach scratch's best validation metric
  as a ratio of scratch's own steps to it (dnatune.convergence_ratio); `inf` when never.

Evidence words as in dnatune.verdicts; less_data and faster_convergence are judged on
their CI alone (helps: it excludes "no saving" / "as fast"), not FDR-controlled (no
q-value). A claim the grid cannot measure (no scratch or no baseline cells, missing or
empty history.json) is a row with evidence `absent` whose verdict says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from dnatune.atomic import atomic_path
from dnatune.cell_outputs import Predictions
from dnatune.config import BASELINE_MODEL
from dnatune.convergence_ratio import (
    SeedSteps,
    pooled_ratio,
    ratio_draws,
    seed_steps,
    validation_curve,
)
from dnatune.label_efficiency import Curve, crossing, efficiency_draws, resampled_cells
from dnatune.metrics import greater_is_better
from dnatune.report_inputs import CellKey
from dnatune.transfer import BASELINE, Pair, paired_gain
from dnatune.transfer import COLUMNS as TRANSFER_COLUMNS
from dnatune.verdicts import WHAT, decide, display_name

CLAIMS = ("better_scores", "less_data", "faster_convergence")
ABSENT = "absent"
COLUMNS = [
    "task",
    "model",
    "variant",
    "label_fraction",
    "claim",
    "reference",
    "metric",
    "n_seeds",
    "estimate",
    "ci_low",
    "ci_high",
    "ci_method",
    "q_value",
    "evidence",
    "verdict",
    "note",
]


@dataclass
class Grid:
    """What every claim reads: summary.tsv, test predictions, degenerate flags, histories."""

    summary: pd.DataFrame
    predictions: Mapping[CellKey, Predictions]
    degenerate: Mapping[CellKey, bool]
    histories: Mapping[CellKey, dict]
    n_boot: int
    confidence: float
    seed: int

    def values(self, task, model, variant, metric, fraction=None) -> pd.DataFrame:
        s = self.summary
        rows = s[
            (s["task"] == task)
            & (s["model"] == model)
            & (s["variant"] == variant)
            & (s["metric"] == metric)
        ]
        return rows if fraction is None else rows[rows["label_fraction"] == fraction]

    @property
    def level(self) -> str:
        return f"{self.confidence * 100:g}%"


@dataclass
class Subject:
    """One pre-trained variant of a model on a task: what the claims are about."""

    task: str
    model: str
    variant: str
    metric: str
    task_type: str

    @property
    def what(self) -> str:
        return WHAT[self.variant]

    @property
    def higher(self) -> bool:
        return greater_is_better(self.metric)

    def row(self, claim: str, fraction: float, reference: str, **values) -> dict:
        return {
            "task": self.task,
            "model": self.model,
            "variant": self.variant,
            "label_fraction": fraction,
            "claim": claim,
            "reference": reference,
            "metric": self.metric,
            **values,
        }

    def absent(self, claim: str, fraction: float, reference: str, reason: str) -> dict:
        return self.row(claim, fraction, reference, evidence=ABSENT, verdict=reason)


def claim_tables(
    summary: pd.DataFrame,
    tasks: pd.DataFrame,
    predictions: Mapping[CellKey, Predictions],
    cells: pd.DataFrame,
    histories: Mapping[CellKey, dict],
    transfer: pd.DataFrame,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the transfer table re-judged with the baseline comparisons in its FDR family, the
    claims table). `tasks` is the stats tasks table, `cells` dnatune.degenerate.cell_flags."""
    degenerate = cells.set_index(list(CellKey._fields))["degenerate"].to_dict()
    grid = Grid(summary, predictions, degenerate, histories, n_boot, confidence, seed)
    subjects = [
        Subject(t.task, model, variant, t.headline, t.type)
        for t in tasks.itertuples()
        for model, variant in summary[summary["task"] == t.task][["model", "variant"]]
        .drop_duplicates()
        .itertuples(index=False)
        if variant in WHAT and model != BASELINE_MODEL
    ]
    choices = {}
    for subject in subjects:
        for fraction in _fractions(grid, subject, subject.variant):
            key = (subject.task, fraction)
            if key not in choices:
                choices[key] = best_baseline(grid, subject, fraction)
    against_baselines = [
        r for s in subjects for r in baseline_gains(grid, s, choices) if r is not None
    ]
    # one FDR family: every comparison with scratch and with a best baseline
    frames = [transfer[TRANSFER_COLUMNS], pd.DataFrame(against_baselines, columns=TRANSFER_COLUMNS)]
    frames = [f for f in frames if not f.empty] or frames[:1]
    joint = decide(pd.concat(frames, ignore_index=True).infer_objects(), confidence)
    rows = []
    for subject in subjects:
        rows += better_scores(grid, subject, joint, choices)
        rows.append(less_data(grid, subject))
        rows += [faster_convergence(grid, subject, f) for f in _fractions(grid, subject)]
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = {"_claim": table["claim"].map(CLAIMS.index), "_ref": table["reference"] != BASELINE}
    table = table.assign(**order).sort_values(
        ["task", "model", "variant", "_claim", "label_fraction", "_ref"], kind="stable"
    )
    rescored = joint[joint["baseline"] == BASELINE].reset_index(drop=True)
    return rescored, table.drop(columns=list(order)).reset_index(drop=True)


def _fractions(grid: Grid, subject: Subject, variant: str | None = None) -> list[float]:
    rows = grid.values(subject.task, subject.model, variant or subject.variant, subject.metric)
    return sorted(float(f) for f in rows["label_fraction"].unique())


# ---------------------------------------------------------------- better scores


@dataclass
class BaselineChoice:
    variant: str
    note: str


def best_baseline(grid: Grid, subject: Subject, fraction: float) -> BaselineChoice | None:
    """The baseline with the better seed-mean validation metric at `fraction` (test metric
    where a cell's history.json has no validation metric), or None without baselines."""
    s = grid.summary
    rows = s[
        (s["task"] == subject.task)
        & (s["model"] == BASELINE_MODEL)
        & (s["label_fraction"] == fraction)
        & (s["metric"] == subject.metric)
    ]
    if rows.empty:
        return None
    on_val, on_test = {}, {}
    for variant, group in rows.groupby("variant", sort=True):
        on_test[variant] = float(group["value"].mean())
        val = [
            (grid.histories.get(CellKey(*k)) or {}).get("val_metrics", {}).get(subject.metric)
            for k in group[list(CellKey._fields)].itertuples(index=False)
        ]
        on_val[variant] = float(np.mean(val)) if None not in val else math.nan
    use_val = all(math.isfinite(v) for v in on_val.values())
    scores = on_val if use_val else on_test
    pick = (max if subject.higher else min)(scores, key=scores.get)
    listed = ", ".join(f"{v} {x:.3f}" for v, x in scores.items())
    name = display_name(subject.metric)
    if use_val:
        note = f"best baseline chosen on mean validation {name}: {listed}"
    else:
        note = (
            f"best baseline chosen on mean test {name} ({listed}): a history.json lacks "
            "val_metrics, and picking on test favours the baseline, so the gain over it "
            "is understated"
        )
    return BaselineChoice(pick, note)


def baseline_gains(grid: Grid, subject: Subject, choices: Mapping) -> list[dict | None]:
    """Undecided transfer-table rows of the variant against the best baseline per fraction."""
    out = []
    for fraction in _fractions(grid, subject):
        choice = choices.get((subject.task, fraction))
        if choice is None:
            continue
        pair = Pair(
            subject.task,
            subject.model,
            subject.variant,
            fraction,
            subject.metric,
            subject.task_type,
            reference=(BASELINE_MODEL, choice.variant),
        )
        s = grid.summary
        at = s[(s["task"] == subject.task) & (s["label_fraction"] == fraction)]
        out.append(
            paired_gain(
                pair,
                at[at["model"] == subject.model],
                at[at["model"] == BASELINE_MODEL],
                grid.predictions,
                grid.degenerate,
                grid.n_boot,
                grid.confidence,
                grid.seed,
            )
        )
    return out


def better_scores(grid: Grid, subject: Subject, joint: pd.DataFrame, choices) -> list[dict]:
    rows = []
    for fraction in _fractions(grid, subject):
        mine = joint[
            (joint["task"] == subject.task)
            & (joint["model"] == subject.model)
            & (joint["variant"] == subject.variant)
            & (joint["label_fraction"] == fraction)
        ]
        choice = choices.get((subject.task, fraction))
        for reference, note in (
            (BASELINE, ""),
            (choice.variant if choice else "best baseline", choice.note if choice else ""),
        ):
            found = mine[mine["baseline"] == reference]
            if not found.empty:
                rows.append(_from_transfer(subject, found.iloc[0], note))
            else:
                reason = _no_comparison(grid, subject, fraction, reference, choice)
                rows.append(subject.absent("better_scores", fraction, reference, reason))
    return rows


def _from_transfer(subject: Subject, r: pd.Series, note: str) -> dict:
    return subject.row(
        "better_scores",
        float(r["label_fraction"]),
        r["baseline"],
        n_seeds=int(r["n_seeds"]),
        estimate=r["gain"],
        ci_low=r["ci_low"],
        ci_high=r["ci_high"],
        ci_method=r["ci_method"],
        q_value=r["q_value"],
        evidence=r["evidence"],
        verdict=r["verdict"],
        note=note,
    )


def _no_comparison(grid, subject, fraction, reference, choice) -> str:
    at = f"at {fraction * 100:g}% labels"
    if (
        reference == BASELINE
        and grid.values(subject.task, subject.model, BASELINE, subject.metric, fraction).empty
    ):
        return f"no scratch cells {at}: add scratch to finetune.variants to measure this gain"
    if reference != BASELINE and choice is None:
        return (
            f"no baseline cells {at}: add cnn and/or kmer_lr to finetune.variants to compare "
            "with a baseline"
        )
    return f"{subject.variant} and {reference} share no seed {at}; run the same seeds for both"


# ---------------------------------------------------------------- less data


def less_data(grid: Grid, subject: Subject) -> dict:
    """Label efficiency at the variant's smallest fraction, read on scratch's curve."""
    f0 = _fractions(grid, subject)[0]
    claim = partial(subject.absent, "less_data", f0, BASELINE)
    scratch = grid.values(subject.task, subject.model, BASELINE, subject.metric)
    if scratch.empty:
        return claim("no scratch cells in the grid: add scratch to finetune.variants")
    fractions = sorted(float(f) for f in scratch["label_fraction"].unique())
    if f0 not in fractions:
        return claim(f"scratch has no cells at {f0 * 100:g}% labels, the variant's smallest")
    points = {("scratch", f): _by_seed(scratch, f) for f in fractions}
    treated = grid.values(subject.task, subject.model, subject.variant, subject.metric, f0)
    points[(subject.variant, f0)] = _by_seed(treated, f0)
    curve = Curve(points)
    target = curve.mean((subject.variant, f0))
    estimate = crossing(
        fractions, [curve.mean(("scratch", f)) for f in fractions], target, subject.higher
    )
    keys = [
        CellKey(subject.task, subject.model, v, f, s) for (v, f), by in points.items() for s in by
    ]
    values = {k: points[(k.variant, k.label_fraction)][k.seed] for k in keys}
    rng = np.random.default_rng(grid.seed)
    draws, examples = resampled_cells(
        keys, values, grid.predictions, subject.task_type, subject.metric, grid.n_boot, rng
    )
    n_seeds = len(curve.seeds())
    if (n_seeds < 2 and not examples) or grid.n_boot <= 0:
        low = high = math.nan
        method = "none (1 seed, no test predictions)"
    else:
        samples = efficiency_draws(
            curve,
            {(k.variant, k.label_fraction, k.seed): d for k, d in draws.items()},
            (subject.variant, f0),
            fractions,
            subject.higher,
            rng,
        )
        low, high = interval(samples, grid.confidence)
        method = _bootstrap_method(grid.n_boot, examples)
    degenerate = all(grid.degenerate.get(k, False) for k in keys)
    numbers = Efficiency(subject, f0, max(fractions), target, estimate, low, high)
    evidence, verdict = numbers.verdict(grid.level, degenerate)
    return subject.row(
        "less_data",
        f0,
        BASELINE,
        n_seeds=n_seeds,
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        ci_method=method,
        evidence=evidence,
        verdict=verdict,
        note="scratch's seed-mean curve interpolated linearly in log label fraction",
    )


def _by_seed(rows: pd.DataFrame, fraction: float) -> dict[int, float]:
    at = rows[rows["label_fraction"] == fraction].dropna(subset=["value"])
    return dict(zip(at["seed"].astype(int), at["value"].astype(float), strict=True))


@dataclass
class Efficiency:
    subject: Subject
    smallest: float
    largest: float
    target: float
    estimate: float
    low: float
    high: float

    def verdict(self, level: str, degenerate: bool) -> tuple[str, str]:
        s, f0 = self.subject, fraction_text(self.smallest, self.largest)
        name = display_name(s.metric)
        reach = f"the {name} {self.target:.2f} that {s.what} reaches with {f0} of the labels"
        needs = f"scratch needs {fraction_text(self.estimate, self.largest)} of the labels"
        never = "never within the grid; " if math.isinf(self.estimate) else ""
        ci = (
            f" ({never}{level} CI {fraction_text(self.low, self.largest)} to "
            f"{fraction_text(self.high, self.largest)})"
            if not math.isnan(self.low)
            else f" ({never}no CI: add seeds or keep the test predictions)"
        )
        if degenerate:
            return "neither", (
                "neither variant learned this task at any label fraction, so no label saving "
                "is judged; likely causes: too few training steps or labels"
            )
        if self.estimate <= self.smallest:
            return "none", (
                f"no label saving within the grid: scratch already reaches {reach}; "
                f"the grid cannot say whether scratch would need fewer than {f0}"
            )
        if not math.isnan(self.low) and self.low > self.smallest:
            times = (
                f", {self.estimate / self.smallest:.1f}× as many"
                if math.isfinite(self.estimate)
                else ""
            )
            return "helps", f"{s.what} saves labels: {needs}{ci} to match {reach}{times}"
        return "none", (
            f"no evidence that {s.what} saves labels: {needs}{ci} to match {reach}; "
            f"the CI reaches {f0}, no saving"
        )


def fraction_text(value: float, largest: float) -> str:
    """0.20, or 'more than 1.0' when scratch never gets there within the grid."""
    if math.isnan(value):
        return "–"
    if math.isinf(value):
        return f"more than {_decimal(largest)}"
    return _decimal(value)


def _decimal(value: float) -> str:
    text = f"{value:.2g}"
    return text if "." in text or "e" in text else f"{text}.0"


# ---------------------------------------------------------------- faster convergence


def faster_convergence(grid: Grid, subject: Subject, fraction: float) -> dict:
    """Steps to scratch's best validation metric, the variant's over scratch's, at `fraction`."""
    claim = partial(subject.absent, "faster_convergence", fraction, BASELINE)
    scratch = _by_seed(grid.values(subject.task, subject.model, BASELINE, subject.metric), fraction)
    treated = _by_seed(
        grid.values(subject.task, subject.model, subject.variant, subject.metric), fraction
    )
    seeds = sorted(set(scratch) & set(treated))
    at = f"at {fraction * 100:g}% labels"
    if not seeds:
        return claim(f"no scratch cells sharing a seed with {subject.variant} {at}")
    keys = {
        (v, s): CellKey(subject.task, subject.model, v, fraction, s)
        for v in (BASELINE, subject.variant)
        for s in seeds
    }
    missing = [f"{v} s{s}" for (v, s), k in keys.items() if k not in grid.histories]
    if missing:
        return claim(f"history.json of {', '.join(missing)} {at} not read; rerun those cells")
    curves = {vs: validation_curve(grid.histories[k], subject.metric) for vs, k in keys.items()}
    empty = [f"{v} s{s}" for (v, s), c in curves.items() if not c]
    if empty:
        return claim(
            f"history.json of {', '.join(empty)} {at} logs no validation "
            f"{display_name(subject.metric)} (eval_{subject.metric}); rerun those cells"
        )
    steps = [
        seed_steps(s, curves[(BASELINE, s)], curves[(subject.variant, s)], subject.higher)
        for s in seeds
    ]
    estimate = pooled_ratio(steps)
    if len(steps) >= 2 and grid.n_boot > 0:
        draws = ratio_draws(steps, grid.n_boot, np.random.default_rng(grid.seed))
        low, high = interval(draws, grid.confidence)
        method = f"bootstrap over seeds ({grid.n_boot} resamples)"
    else:
        low = high = math.nan
        method = "none (1 seed)"
    degenerate = all(grid.degenerate.get(k, False) for k in keys.values())
    evidence, verdict = convergence_verdict(
        subject, fraction, steps, estimate, low, high, grid.level, degenerate
    )
    return subject.row(
        "faster_convergence",
        fraction,
        BASELINE,
        n_seeds=len(seeds),
        estimate=estimate,
        ci_low=low,
        ci_high=high,
        ci_method=method,
        evidence=evidence,
        verdict=verdict,
        note=resolution_note(grid, keys.values(), steps),
    )


def resolution_note(grid: Grid, keys, steps: list[SeedSteps]) -> str:
    """'validation every 12 steps; scratch's best at 90 steps on average: ratio resolved to ~0.13'."""
    every = [grid.histories[k].get("eval_steps") for k in keys]
    every = [e for e in every if isinstance(e, (int, float)) and e > 0]
    mean_steps = float(np.mean([s.scratch_steps for s in steps]))
    if not every:
        return (
            f"scratch's best at {mean_steps:.0f} steps on average; evaluation interval not recorded"
        )
    interval_steps = max(every)
    return (
        f"validation every {interval_steps:g} steps; scratch's best at {mean_steps:.0f} steps on "
        f"average: the ratio is resolved to about {interval_steps / mean_steps:.2g}"
    )


def convergence_verdict(subject, fraction, steps, estimate, low, high, level, degenerate):
    at = f"at {fraction * 100:g}% labels"
    best = f"scratch's best validation {display_name(subject.metric)}"
    never = sum(math.isinf(s.variant_steps) for s in steps)
    if math.isfinite(estimate):
        mean = [np.mean([getattr(s, f) for s in steps]) for f in ("variant_steps", "scratch_steps")]
        reached = (
            f"reaches {best} in {ratio_text(estimate)} scratch's steps "
            f"({mean[0]:.0f} vs {mean[1]:.0f}, mean over seeds)"
        )
    else:
        reached = f"does not reach {best} within its run in {never} of {len(steps)} seeds"
    ci = (
        f" ({level} CI {ratio_text(low)} to {ratio_text(high)})"
        if not math.isnan(low)
        else " (no CI: one seed)"
    )
    if degenerate:
        return "neither", (
            f"neither variant learned this task {at}, so convergence to scratch's best is not "
            "judged; likely causes: too few training steps or labels, or the learning rate"
        )
    if not math.isnan(high) and high < 1:
        return "helps", f"{subject.what} converges faster {at}: {reached}{ci}"
    if not math.isnan(low) and low > 1:
        return "hurts", f"{subject.what} converges slower {at}: {reached}{ci}"
    return "none", f"no evidence of faster convergence from {subject.what} {at}: {reached}{ci}"


def ratio_text(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.2f}×"


# ---------------------------------------------------------------- shared


def interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of bootstrap draws that may be infinite ('never'): empirical
    quantiles (inverted CDF), so no interpolation mixes a finite draw with an infinite one."""
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    alpha = 1 - confidence
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return float(lo), float(hi)


def _bootstrap_method(n_boot: int, examples: bool) -> str:
    if examples:
        return f"bootstrap over seeds and test examples ({n_boot} resamples)"
    return f"bootstrap over seeds ({n_boot} resamples; test predictions not available)"


def write_claims(table: pd.DataFrame, out_tsv: str | Path) -> None:
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
