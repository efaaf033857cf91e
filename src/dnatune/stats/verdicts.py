"""The verdict of each transfer comparison, in one of five words and a plain sentence.

Each row of the transfer table (dnatune.stats.transfer) gets exactly one `evidence`:

* `neither`: every cell of both variants learned nothing (dnatune.evaluate.degenerate), so
  no difference is judged; the sentence names the likely causes.
* `helps` / `hurts`: the gain is significant after false discovery rate control
  (Benjamini-Hochberg, scipy.stats.false_discovery_control, over every comparison of
  the table that is judged, i.e. all but the `neither` rows), its CI excludes 0 and
  every seed moves the same way.
* `calibration`: as helps / hurts, but the headline depends on a decision threshold
  and the threshold-free ranking metric's CI covers 0: what moved is where the
  threshold falls, not how the model ranks sequences.
* `none`: no evidence of a difference. The sentence states the smallest gain the
  comparison could have detected: (z(1 - alpha/2) + z(POWER)) x the standard
  error of the gain, 2.8 x SE for 80% power at alpha 0.05 (two-sided, uncorrected).
  The SE is the sd of the bootstrap gains (test sequences and seeds resampled),
  or the standard error of the seed mean without predictions.

`q_value` is the Benjamini-Hochberg adjusted p-value; `p_bootstrap` and `p_ttest`
stay uncorrected. The test behind q is the bootstrap's, or the t-test's without it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from dnatune.metrics import greater_is_better

DISPLAY = {
    "accuracy": "accuracy",
    "mcc": "MCC",
    "f1": "F1",
    "auroc": "AUROC",
    "auprc": "AUPRC",
    "macro_f1": "macro-F1",
    "micro_f1": "micro-F1",
    "macro_auroc": "macro-AUROC",
    "mse": "MSE",
    "mae": "MAE",
    "r2": "R²",
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
}
WHAT = {"pretrained": "pretraining", "continued": "continued pretraining"}
EVIDENCE = ("helps", "hurts", "none", "calibration", "neither")
POWER = 0.8


def display_name(metric: str) -> str:
    """How the report writes a metric name (MCC, macro-F1, ...)."""
    return DISPLAY.get(metric, metric)


def detectable_factor(confidence: float, power: float = POWER) -> float:
    """z(1 - alpha/2) + z(power): 2.80 for a 95% level and 80% power."""
    return float(stats.norm.ppf(1 - (1 - confidence) / 2) + stats.norm.ppf(power))


def decide(table: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """The transfer table with q_value, detectable_gain, evidence and verdict added."""
    table = table.copy()
    neither = (table["n_seeds"] > 0) & (
        (table["degenerate_variant"] >= table["n_seeds"])
        & (table["degenerate_scratch"] >= table["n_seeds"])
    )
    p = table["p_bootstrap"].astype(float).fillna(table["p_ttest"].astype(float))
    family = p.notna() & ~neither
    q = pd.Series(np.nan, index=table.index)
    if family.any():
        q[family] = stats.false_discovery_control(p[family].to_numpy(), method="bh")
    table["q_value"] = q
    table["detectable_gain"] = table["gain_se"].astype(float) * detectable_factor(confidence)
    words = [
        _verdict(row, bool(skip), confidence, int(family.sum()))
        for row, skip in zip(table.to_dict("records"), neither, strict=True)
    ]
    table["evidence"] = [w[0] for w in words]
    table["verdict"] = [w[1] for w in words]
    return table


def _verdict(r: dict, neither: bool, confidence: float, family: int) -> tuple[str, str]:
    what = WHAT.get(r["variant"], r["variant"])
    against = r.get("baseline", "scratch")
    if against != "scratch":  # a baseline of the grid (dnatune.stats.claims), not the same model
        what = f"{what} (against the {against} baseline)"
    metric = display_name(r["metric"])
    level = f"{confidence * 100:g}%"
    at = f"at {r['label_fraction'] * 100:g}% labels"
    amount = f"{r['gain']:+.2f} {metric} {at}"
    if neither:
        return "neither", (
            f"neither variant learned this task {at}: every run of {against} and of {what} "
            "predicted (nearly) one class or scored at chance, so no difference is judged; "
            "likely causes: too few training steps or labels, or an unsuitable learning rate"
        )
    if _nan(r["ci_low"]):
        return "none", (
            f"no evidence of a difference from {what}: {amount} from {_seeds(r['n_seeds'])}, "
            "not enough data to judge or to size a detectable gain; add seeds or keep the "
            "test predictions"
        )
    detail = (
        f"({level} CI {r['ci_low']:.2f} to {r['ci_high']:.2f}, {_p(r)}; "
        f"better in {r['seeds_better']} of {_seeds(r['n_seeds'])})"
    )
    excludes_zero = not r["ci_low"] <= 0 <= r["ci_high"]
    significant = excludes_zero and r["q_value"] <= 1 - confidence
    improves = (r["ci_low"] > 0) == greater_is_better(r["metric"])
    agreeing = r["seeds_better"] if improves else r["n_seeds"] - r["seeds_better"]
    if not (significant and agreeing == r["n_seeds"]):
        reason = (
            "; seeds disagree"
            if significant
            else f"; not significant once {family} comparisons are corrected for"
            if excludes_zero
            else ""
        )
        return "none", (
            f"no evidence of a difference from {what}: {amount} {detail}{reason}; "
            f"{_detectable(r, metric)}"
        )
    ranking = _ranking(r, level)
    if ranking and r["ranking_ci_low"] <= 0 <= r["ranking_ci_high"]:
        return "calibration", (
            f"calibration only: {what} moves {metric} by {r['gain']:+.2f} {at} {detail} "
            f"but not {ranking}: the change is in where the decision threshold falls, "
            "not in how the model ranks sequences"
        )
    word = "helps" if improves else "hurts"
    return word, f"{what} {word}: {amount} {detail}" + (f"; {ranking}" if ranking else "")


def _ranking(r: dict, level: str) -> str:
    """'AUROC +0.01 (95% CI -0.02 to 0.03)', or '' without a ranking gain and its CI."""
    if not isinstance(r["ranking_metric"], str) or _nan(r["ranking_ci_low"]):
        return ""
    return (
        f"{display_name(r['ranking_metric'])} {r['ranking_gain']:+.2f} "
        f"({level} CI {r['ranking_ci_low']:.2f} to {r['ranking_ci_high']:.2f})"
    )


def _detectable(r: dict, metric: str) -> str:
    if _nan(r["detectable_gain"]):
        return "the detectable gain is unknown (no spread of the gain)"
    tests = "" if _nan(r["n_test"]) else f"{int(r['n_test'])} test sequences and "
    return (
        f"{tests}{_seeds(r['n_seeds'])} could detect a gain of ±{r['detectable_gain']:.2f} "
        f"{metric} or more (80% power)"
    )


def _p(r: dict) -> str:
    p = r["p_bootstrap"] if not _nan(r["p_bootstrap"]) else r["p_ttest"]
    text = "p<0.001" if p < 0.001 else f"p={p:.2g}"
    return f"{text}, FDR q={r['q_value']:.2g}"


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def _nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
