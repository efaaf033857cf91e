"""One task's section of the report: facts, verdicts, tables and figures, as template data.

Everything comes precomputed from the summary and the statistics stage (transfer
gains, ROC/PR points, confusion counts) or from the cells' history.json; nothing
is scored here. Words and markup live in templates/task.html.j2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from dnatune.evaluate.readers import CellKey
from dnatune.evaluate.summary import VARIANT_ORDER
from dnatune.metrics import greater_is_better
from dnatune.report import plots
from dnatune.report.claims import ClaimLine, claim_lines, claim_rows
from dnatune.report.formatting import DASH, Figure, Figures, Styled, fmt, fmt_int, fmt_p
from dnatune.stats.verdicts import display_name


@dataclass
class ReportData:
    """What every task section draws on, read once by the report."""

    summary: pd.DataFrame
    tasks: pd.DataFrame  # stats tasks.tsv: task, type, headline, n_test
    transfer: pd.DataFrame
    curves: pd.DataFrame
    confusion: pd.DataFrame
    cells: pd.DataFrame  # stats cells.tsv: threshold and degenerate flags per cell
    histories: dict[CellKey, dict]
    long_sequences: dict[tuple[str, str], dict]
    task_meta: dict[str, dict]
    claims: pd.DataFrame  # stats claims.tsv: the three claims per task x model x variant


@dataclass
class LongSequences:
    """'tiny: train 48, val 24, test 24 sequences longer than its 160 tokens, truncated'."""

    model: str
    per_split: str
    max_length: str
    handling: str


@dataclass
class TaskSection:
    task: str
    type: str
    metric: str  # display name of the headline metric
    higher_is_better: bool
    n_test: str
    facts: dict[str, str]  # counts, classes, split, threshold: '' when unknown
    long_sequences: list[LongSequences]
    warnings: list[str]
    verdicts: list[dict]  # the task's transfer.tsv rows: model, evidence, verdict, ...
    transfer: list[list]
    metric_headers: list
    metrics: list[list]
    data_efficiency: Figure
    convergence: list[Figure]
    predictions: list[PredictionFigures] = field(default_factory=list)
    claims: list[list] = field(default_factory=list)  # report_claims.claim_rows
    claim_lines: list[ClaimLine] = field(default_factory=list)


@dataclass
class PredictionFigures:
    """One model's figures of its test predictions: ROC/PR curves (binary) and confusion."""

    roc_pr: Figure | None
    confusion: Figure


def task_section(task: str, data: ReportData, figures: Figures) -> TaskSection:
    info = data.tasks.set_index("task").loc[task]
    metric = info["headline"]
    transfer = data.transfer[data.transfer["task"] == task]
    models = sorted(data.summary[data.summary["task"] == task]["model"].unique())
    meta = data.task_meta.get(task, {})
    name = display_name(metric)
    section = TaskSection(
        task=task,
        type=info["type"],
        metric=name,
        higher_is_better=greater_is_better(metric),
        n_test=fmt_int(info["n_test"]),
        facts=task_facts(meta)
        | {"threshold": threshold_fact(info, data.cells[data.cells["task"] == task])},
        long_sequences=[
            long_sequence_fact(model, counts)
            for (of_task, model), counts in sorted(data.long_sequences.items())
            if of_task == task and any(counts["long"].values())
        ],
        warnings=list(meta.get("warnings") or []),
        verdicts=transfer.to_dict("records"),
        transfer=transfer_rows(transfer),
        metric_headers=[Styled(name, "bold")]
        + [display_name(m) for m in other_metrics(data, task)],
        metrics=metric_rows(data, task),
        data_efficiency=figures.add(
            f"{task}_data_efficiency",
            plots.data_efficiency(data.summary, task, metric),
            f"{task} data efficiency",
        ),
        convergence=[convergence_figure(data, task, m, figures) for m in models],
    )
    if info["type"] in ("binary", "multiclass"):
        add_prediction_figures(section, data, models, figures)
    claims = data.claims[data.claims["task"] == task]
    largest = float(data.summary[data.summary["task"] == task]["label_fraction"].max())
    section.claims = claim_rows(claims, largest)
    section.claim_lines = claim_lines(claims, largest)
    return section


def task_facts(meta: dict) -> dict[str, str]:
    """Examples per split, class names and split method from the task's meta.json ('' if absent)."""
    counts = meta.get("counts") or {}
    return {
        "counts": ", ".join(f"{k} {fmt_int(v)}" for k, v in counts.items()),
        "classes": ", ".join(meta.get("label_names") or []),
        "split": meta.get("split_method") or "",
    }


def threshold_fact(info: pd.Series, cells: pd.DataFrame) -> str:
    """How a binary task's decision threshold was set, with the range the cells used."""
    rule = info.get("threshold_rule")
    if info["type"] != "binary" or not isinstance(rule, str):
        return ""
    if rule == "fixed":
        return "0.5 (fixed)"
    used = cells["threshold"].dropna()
    span = f"{used.min():.2f} to {used.max():.2f}" if len(used) else DASH
    return f"chosen per run on the validation split to maximise {rule[4:].upper()} ({span})"


def degenerate_flags(cells: pd.DataFrame) -> str:
    """'one class 2 of 3 seeds, at chance 1 of 3' for one model x variant x fraction."""
    n = len(cells)
    parts = [
        f"{label} {int(cells[column].sum())} of {n}"
        for column, label in (("one_class", "one class"), ("at_chance", "at chance"))
        if n and cells[column].any()
    ]
    return ", ".join(parts) or DASH


def long_sequence_fact(model: str, counts: dict) -> LongSequences:
    """How fine-tuning fitted one model's over-long sequences (history.json's counts)."""
    per_split = ", ".join(f"{s} {fmt_int(n)}" for s, n in counts["long"].items())
    if counts["mode"] != "slide":
        handling = "truncated (only their start was seen)"
    else:
        clipped = sum(counts["truncated"].values())
        windows = sum(counts["windows"].values())
        handling = f"slid over in {fmt_int(windows)} overlapping windows" + (
            f", of which {fmt_int(clipped)} truncated" if clipped else ""
        )
    return LongSequences(model, per_split, fmt_int(counts["max_length"]), handling)


def transfer_rows(transfer: pd.DataFrame) -> list[list]:
    return [
        [
            r.model,
            f"{r.variant} − scratch",
            plots.percent(r.label_fraction),
            f"{r.gain:+.3f}",
            f"{fmt(r.ci_low)} to {fmt(r.ci_high)}",
            fmt_p(r.p_bootstrap),
            fmt_p(r.p_ttest),
            fmt_p(r.q_value),
            f"{r.seeds_better} of {r.n_seeds}",
            ranking_gain(r),
            DASH if math.isnan(r.detectable_gain) else f"±{r.detectable_gain:.3f}",
            f"{r.degenerate_variant} / {r.degenerate_scratch} of {r.n_seeds}",
            Styled(r.evidence, "evidence"),
        ]
        for r in transfer.itertuples()
    ]


def ranking_gain(r) -> str:
    """'AUROC +0.012 (-0.02 to 0.04)' or a dash when the headline needs no threshold."""
    if not isinstance(r.ranking_metric, str):
        return DASH
    return (
        f"{display_name(r.ranking_metric)} {r.ranking_gain:+.3f} "
        f"({fmt(r.ranking_ci_low)} to {fmt(r.ranking_ci_high)})"
    )


def other_metrics(data: ReportData, task: str) -> list[str]:
    rows = data.summary[data.summary["task"] == task]
    return sorted(set(rows["metric"]) - {headline(data, task)})


def headline(data: ReportData, task: str) -> str:
    return data.tasks.set_index("task").loc[task, "headline"]


def metric_rows(data: ReportData, task: str) -> list[list]:
    """Per model x variant x fraction: metrics mean ± sd over seeds, CI, time, best step."""
    rows = data.summary[data.summary["task"] == task]
    metric = headline(data, task)
    names = [metric, *other_metrics(data, task)]
    groups = rows.groupby(["model", "variant", "label_fraction"], sort=False)
    ordered = sorted(groups.groups, key=lambda k: (k[0], VARIANT_ORDER.get(k[1], 9), k[2]))
    out = []
    for model, variant, fraction in ordered:
        group = groups.get_group((model, variant, fraction))
        cells = [mean_sd(group[group["metric"] == m]["value"]) for m in names]
        flags = data.cells[
            (data.cells["task"] == task)
            & (data.cells["model"] == model)
            & (data.cells["variant"] == variant)
            & (data.cells["label_fraction"] == fraction)
        ]
        head = group[group["metric"] == metric]
        best = [
            h.get("best_step")
            for k, h in data.histories.items()
            if k[:4] == (task, model, variant, fraction) and h.get("best_step") is not None
        ]
        out.append(
            [
                model,
                plots.variant_label(variant),
                plots.percent(fraction),
                fmt_int(group["seed"].nunique()),
                cells[0],
                f"{fmt(head['ci_low'].mean())} to {fmt(head['ci_high'].mean())}",
                *cells[1:],
                fmt(group.drop_duplicates("seed")["train_seconds"].mean(), 1),
                fmt(float(pd.Series(best, dtype=float).mean()), 0) if best else DASH,
                degenerate_flags(flags),
            ]
        )
    return out


def mean_sd(values: pd.Series) -> str:
    sd = values.std(ddof=1) if len(values) > 1 else math.nan
    return fmt(values.mean()) + ("" if math.isnan(sd) else f" ± {fmt(sd)}")


def convergence_figure(data: ReportData, task: str, model: str, figures: Figures) -> Figure:
    histories = {
        (k.variant, k.label_fraction, k.seed): h["log_history"]
        for k, h in data.histories.items()
        if k.task == task and k.model == model
    }
    metric = headline(data, task)
    png = plots.convergence(histories, task, model, metric) if histories else None
    return figures.add(f"{task}_{model}_convergence", png, f"{task} {model} convergence")


def add_prediction_figures(
    section: TaskSection, data: ReportData, models: list[str], figures: Figures
) -> None:
    """ROC/PR curves (binary) and confusion matrices per model, from the stats tables."""
    task = section.task
    label_names = data.task_meta.get(task, {}).get("label_names")
    for model in models:
        counts = _rows(data.confusion, task, model)
        if counts.empty:
            continue
        curves = _rows(data.curves, task, model)
        roc_pr = None
        if section.type == "binary" and not curves.empty:
            png = plots.roc_pr(curves, task, model)
            roc_pr = figures.add(f"{task}_{model}_roc_pr", png, f"{task} {model} ROC and PR curves")
        png = plots.confusion(counts, task, model, label_names)
        name = f"{task} {model} confusion matrices"
        section.predictions.append(
            PredictionFigures(roc_pr, figures.add(f"{task}_{model}_confusion", png, name))
        )


def _rows(table: pd.DataFrame, task: str, model: str) -> pd.DataFrame:
    return table[(table["task"] == task) & (table["model"] == model)]


def task_order(tasks: Mapping | list, found) -> list[str]:
    """Tasks in the config's order, then any others by name."""
    configured = list(tasks)
    return sorted(
        found,
        key=lambda t: (t not in configured, configured.index(t) if t in configured else 0, t),
    )
