"""The three claims of transfer learning, per task x model x pre-trained variant, as numbers
with bootstrap CIs and a plain verdict (results/stats/claims.tsv, one row per claim):

* better_scores, per label fraction, twice: the headline-metric gain over `scratch` (the
  transfer table's row, dnatune.stats.transfer) and over the best baseline of the grid (`cnn`,
  `kmer_lr`: the one with the better mean validation metric at that fraction, from the
  cells' history.json; on test only where no validation metric was logged, which the
  row's note says). Both are paired two-level bootstraps over seeds and test examples,
  and both kinds of comparison form one Benjamini-Hochberg family (dnatune.stats.verdicts);
* less_data, at the smallest label fraction: the fraction of labels scratch needs to match
  the variant there (dnatune.stats.label_efficiency); `inf` when scratch never does within the
  grid;
* faster_convergence, per label fraction: steps to reach scratch's best validation metric
  as a ratio of scratch's own steps to it (dnatune.stats.convergence_ratio); `inf` when never.

Evidence words as in dnatune.stats.verdicts; less_data and faster_convergence are judged on
their CI alone (helps: it excludes "no saving" / "as fast"), not FDR-controlled (no
q-value). A claim the grid cannot measure (no scratch or no baseline cells, missing or
empty history.json) is a row with evidence `absent` whose verdict says why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dnatune.atomic import atomic_path
from dnatune.cell_outputs import Predictions
from dnatune.config import BASELINE_MODEL
from dnatune.evaluate.readers import CellKey
from dnatune.stats.claim_grid import Grid, Subject
from dnatune.stats.convergence_ratio import faster_convergence
from dnatune.stats.label_efficiency import less_data
from dnatune.stats.transfer import BASELINE, Pair, paired_gain
from dnatune.stats.transfer import COLUMNS as TRANSFER_COLUMNS
from dnatune.stats.verdicts import WHAT, decide, display_name

logger = logging.getLogger(__name__)

CLAIMS = ("better_scores", "less_data", "faster_convergence")
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
    claims table). `tasks` is the stats tasks table, `cells` dnatune.evaluate.degenerate.cell_flags."""
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
        for fraction in grid.fractions(subject):
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
        rows += [faster_convergence(grid, subject, f) for f in grid.fractions(subject)]
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = {"_claim": table["claim"].map(CLAIMS.index), "_ref": table["reference"] != BASELINE}
    table = table.assign(**order).sort_values(
        ["task", "model", "variant", "_claim", "label_fraction", "_ref"], kind="stable"
    )
    rescored = joint[joint["baseline"] == BASELINE].reset_index(drop=True)
    return rescored, table.drop(columns=list(order)).reset_index(drop=True)


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
    for fraction in grid.fractions(subject):
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
    for fraction in grid.fractions(subject):
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


# ---------------------------------------------------------------- the table


def write_claims(table: pd.DataFrame, out_tsv: str | Path) -> None:
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    for row in table.itertuples():
        logger.info("%s %s/%s %s: %s", row.claim, row.task, row.model, row.variant, row.verdict)
