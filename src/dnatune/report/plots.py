"""Figures of the report (matplotlib, Agg backend), each returned as PNG bytes.

Every figure has a title, axis labels with units and a legend; the report adds
a caption. Colours and labels come from dnatune.figure_style (Okabe-Ito, readable with
colour-vision deficiency), one fixed colour per variant across all figures.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from dnatune.figure_style import VARIANT_COLOURS, colour, percent, to_png, variant_label  # noqa: E402
from dnatune.metrics import greater_is_better  # noqa: E402
from dnatune.stats.verdicts import display_name  # noqa: E402

STAGE_LABELS = {"pretrained": "pre-training", "continued": "continued pre-training"}


def to_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _metric_axis_label(metric: str) -> str:
    better = "higher" if greater_is_better(metric) else "lower"
    return f"test {display_name(metric)} ({better} is better)"


def _fraction_axis(ax, fractions: Sequence[float]) -> None:
    fractions = sorted(set(fractions))
    if len(fractions) > 1 and max(fractions) / min(fractions) >= 4:
        ax.set_xscale("log")
    if len(fractions) == 1:  # one point: keep the dodged variants close together
        ax.set_xlim(fractions[0] * 0.85, fractions[0] * 1.15)
    ax.set_xticks(fractions)
    ax.set_xticklabels([percent(f) for f in fractions])
    ax.minorticks_off()
    ax.set_xlabel("labelled training examples used (% of the training set)")


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _variant_rank(variant: str) -> int:
    order = list(VARIANT_COLOURS)
    return order.index(variant) if variant in order else len(order)


def _variant_order(variants) -> list[str]:
    known = [v for v in VARIANT_COLOURS if v in set(variants)]
    return known + sorted(set(variants) - set(known))


# ---------------------------------------------------------------- data efficiency


def data_efficiency(summary: pd.DataFrame, task: str, metric: str) -> bytes:
    """Headline metric vs label fraction, one line per variant, mean ± sd over seeds."""
    rows = summary[(summary["task"] == task) & (summary["metric"] == metric)]
    models = sorted(rows["model"].unique())
    fig, axes = plt.subplots(
        1, len(models), figsize=(5.5 * len(models), 4), squeeze=False, layout="constrained"
    )
    for ax, model in zip(axes[0], models, strict=True):
        data = rows[rows["model"] == model]
        variants = _variant_order(data["variant"].unique())
        for i, variant in enumerate(variants):
            dodge = 1 + 0.025 * (i - (len(variants) - 1) / 2)  # keep error bars apart
            stats = (
                data[data["variant"] == variant]
                .groupby("label_fraction")["value"]
                .agg(["mean", "std", "count"])
                .reset_index()
            )
            ax.errorbar(
                stats["label_fraction"] * dodge,
                stats["mean"],
                yerr=stats["std"].fillna(0),
                marker="o",
                capsize=4,
                color=colour(variant),
                label=f"{variant_label(variant)} ({_seeds(int(stats['count'].max()))})",
            )
        _fraction_axis(ax, data["label_fraction"])
        ax.set_ylabel(_metric_axis_label(metric))
        ax.set_title(f"{task} · {model}: {display_name(metric)} vs amount of labelled data")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return to_png(fig)


# ---------------------------------------------------------------- convergence


def _series(log_history: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    points = [(e["step"], e[key]) for e in log_history if key in e and "step" in e]
    points = [(s, v) for s, v in points if v is not None and math.isfinite(float(v))]
    if not points:
        return np.array([]), np.array([])
    steps, values = zip(*sorted(points), strict=True)
    return np.asarray(steps, float), np.asarray(values, float)


def convergence(
    histories: Mapping[tuple[str, float, int], list[dict]], task: str, model: str, metric: str
) -> bytes | None:
    """Validation loss (and metric, if logged) vs training step per variant and label fraction.

    `histories` maps (variant, label_fraction, seed) to history.json's log_history.
    """
    keys = [("eval_loss", "validation loss (cross-entropy)")]
    metric_key = f"eval_{metric}"
    if any(_series(h, metric_key)[0].size for h in histories.values()):
        keys.append((metric_key, f"validation {display_name(metric)}"))
    fractions = sorted({f for _, f, _ in histories})
    if not any(_series(h, "eval_loss")[0].size for h in histories.values()):
        return None
    fig, axes = plt.subplots(
        len(keys),
        len(fractions),
        figsize=(max(7.0, 4.8 * len(fractions)), 3.4 * len(keys)),
        squeeze=False,
        layout="constrained",
    )
    for col, fraction in enumerate(fractions):
        for row, (key, label) in enumerate(keys):
            ax = axes[row][col]
            labelled = set()
            ordered = sorted(
                histories.items(), key=lambda item: (_variant_rank(item[0][0]), item[0][2])
            )
            for (variant, f, _seed), history in ordered:
                if f != fraction:
                    continue
                steps, values = _series(history, key)
                if not steps.size:
                    continue
                ax.plot(
                    steps,
                    values,
                    marker=".",
                    color=colour(variant),
                    alpha=0.8,
                    label=None if variant in labelled else variant_label(variant),
                )
                labelled.add(variant)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("training step (batches)")
            ax.set_ylabel(label)
            ax.set_title(f"{percent(fraction)} of training labels")
            ax.grid(alpha=0.3)
            if labelled:
                ax.legend(fontsize=8)
    fig.suptitle(f"{task} · {model}: learning curves on the validation set\n(one line per seed)")
    return to_png(fig)


# ---------------------------------------------------------------- pre-training


def pretraining_curves(states: Mapping[tuple[str, str], list[dict]]) -> bytes | None:
    """Training (and validation) loss vs step for every pre-trained model stage."""
    curves = {k: v for k, v in states.items() if _series(v, "loss")[0].size}
    if not curves:
        return None
    fig, axes = plt.subplots(
        1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False, layout="constrained"
    )
    for ax, ((model, stage), history) in zip(axes[0], sorted(curves.items()), strict=True):
        steps, loss = _series(history, "loss")
        ax.plot(steps, loss, color="#0072B2", label="training loss")
        eval_steps, eval_loss = _series(history, "eval_loss")
        if eval_steps.size:
            ax.plot(eval_steps, eval_loss, "o--", color="#D55E00", label="validation loss")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("pre-training step (batches)")
        ax.set_ylabel("loss (cross-entropy per token, nats)")
        ax.set_title(f"{model}: {STAGE_LABELS.get(stage, stage)}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return to_png(fig)


# ---------------------------------------------------------------- ROC and PR


def _with_mean(label: str, name: str, values: list[float]) -> str:
    if not values:
        return label
    text = f"{label}, {name} {np.mean(values):.2f}"
    return text + (f" ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else "")


def roc_pr(curves: pd.DataFrame, task: str, model: str) -> bytes:
    """ROC and precision-recall curves of a binary task, per label fraction and variant.

    `curves` holds one model's rows of the stats stage's curves table
    (dnatune.evaluate.diagnostics): per cell, its ROC and PR points, areas and prevalence.
    """
    fractions = sorted(curves["label_fraction"].unique())
    fig, axes = plt.subplots(
        len(fractions), 2, figsize=(10, 4.2 * len(fractions)), squeeze=False, layout="constrained"
    )
    for row, fraction in enumerate(fractions):
        roc_ax, pr_ax = axes[row]
        cells = curves[curves["label_fraction"] == fraction]
        for variant in _variant_order(cells["variant"].unique()):
            runs = cells[cells["variant"] == variant]
            for ax, curve, name in ((roc_ax, "roc", "AUROC"), (pr_ax, "pr", "AUPRC")):
                _plot_runs(ax, runs[runs["curve"] == curve], variant, name)
        prevalence = float(cells["prevalence"].iloc[0])
        roc_ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
        pr_ax.axhline(prevalence, linestyle=":", color="grey", label=f"chance ({prevalence:.2f})")
        roc_ax.set(
            xlabel="false positive rate (1 − specificity)",
            ylabel="true positive rate (sensitivity)",
            title=f"ROC, {percent(fraction)} of training labels",
            xlim=(0, 1),
            ylim=(0, 1.02),
        )
        pr_ax.set(
            xlabel="recall (sensitivity)",
            ylabel="precision (positive predictive value)",
            title=f"precision-recall, {percent(fraction)} of training labels",
            xlim=(0, 1),
            ylim=(0, 1.02),
        )
        for ax in (roc_ax, pr_ax):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc="lower right" if ax is roc_ax else "lower left")
    fig.suptitle(f"{task} · {model}: test-set ROC and precision-recall curves\n(one line per seed)")
    return to_png(fig)


def _plot_runs(ax, points: pd.DataFrame, variant: str, area_name: str) -> None:
    """One line per seed; the first carries the legend with the mean ± sd area over seeds."""
    runs = [group for _, group in points.groupby("seed", sort=True)]
    areas = [float(r["area"].iloc[0]) for r in runs if not math.isnan(r["area"].iloc[0])]
    for i, run in enumerate(runs):
        ax.plot(
            run["x"].to_numpy(),
            run["y"].to_numpy(),
            color=colour(variant),
            alpha=0.75,
            label=_with_mean(variant_label(variant), area_name, areas) if i == 0 else None,
        )


# ---------------------------------------------------------------- confusion matrix


def confusion(
    counts: pd.DataFrame,
    task: str,
    model: str,
    label_names: Sequence[str] | None = None,
) -> bytes:
    """Row-normalised confusion matrices summed over seeds, per variant and label fraction.

    `counts` holds one model's rows of the stats stage's confusion table: per cell
    the full classes x classes matrix of counts.
    """
    fractions = sorted(counts["label_fraction"].unique())
    variants = _variant_order(counts["variant"].unique())
    n_classes = int(counts["true"].max()) + 1
    names = list(label_names or [])
    if len(names) != n_classes:
        names = [str(i) for i in range(n_classes)]
    size = max(3.2, 0.55 * n_classes + 2)
    fig, axes = plt.subplots(
        len(fractions),
        len(variants),
        figsize=(size * len(variants), size * len(fractions)),
        squeeze=False,
        layout="constrained",
    )
    for row, fraction in enumerate(fractions):
        for col, variant in enumerate(variants):
            cells = counts[(counts["variant"] == variant) & (counts["label_fraction"] == fraction)]
            matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
            np.add.at(matrix, (cells["true"], cells["predicted"]), cells["count"])
            _confusion_panel(axes[row][col], matrix, names)
            axes[row][col].set_title(
                f"{variant_label(variant)}\n{percent(fraction)} labels, "
                f"{cells['seed'].nunique()} seed(s) pooled",
                fontsize=9,
            )
    fig.suptitle(f"{task} · {model}: confusion matrices on the test set")
    return to_png(fig)


def _confusion_panel(ax, counts: np.ndarray, names: list[str]) -> None:
    n_classes = len(names)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(n_classes):
        for j in range(n_classes):
            ax.text(
                j,
                i,
                f"{share[i, j] * 100:.0f}%\n({counts[i, j]})",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(n_classes), names, rotation=45 if n_classes > 3 else 0)
    ax.set_yticks(range(n_classes), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
