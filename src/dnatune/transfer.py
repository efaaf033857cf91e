"""Transfer gain: how much `pretrained` / `continued` beat `scratch`, with uncertainty.

For each task x model x label fraction and each pre-trained variant, the gain
is the headline metric of the variant minus that of `scratch`, averaged over
the seeds both have. Two paired analyses quantify it:

* across seeds: a paired t-test (scipy) on the per-seed differences, which
  captures training randomness but has little power with 2-3 seeds;
* a paired two-level bootstrap over seeds and test examples, computed from the
  saved test predictions. Each resample draws test examples with replacement
  (the same draw for both variants and every seed, which is what pairs them)
  and draws seeds with replacement, then recomputes the seed-averaged gain. So
  the interval carries both test-set sampling noise and training noise. Its
  percentile interval is the reported CI, and its two-sided tail the p-value.

The verdict says "helps" or "hurts" only when the bootstrap CI excludes zero
*and* every seed moves in the same direction; otherwise it says there is no
evidence, or that the seeds disagree. Without predictions the CI falls back to
a t interval over seeds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from dnatune.atomic import atomic_path
from dnatune.cell_outputs import Predictions
from dnatune.metrics import batched_metrics, compute_metrics, greater_is_better
from dnatune.report_inputs import CellKey, ReportInputError, read_test_predictions

logger = logging.getLogger(__name__)

BASELINE = "scratch"
RESAMPLE_BUDGET = 4_000_000  # resampled values held at once (resamples x examples x classes)
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
COLUMNS = [
    "task",
    "model",
    "variant",
    "baseline",
    "label_fraction",
    "metric",
    "n_seeds",
    "gain",
    "seed_sd",
    "ci_low",
    "ci_high",
    "ci_method",
    "p_bootstrap",
    "p_ttest",
    "seeds_better",
    "n_test",
    "evidence",
    "verdict",
]


def transfer_gains(
    summary: pd.DataFrame,
    headlines: Mapping[str, str],
    task_types: Mapping[str, str],
    predictions: Mapping[CellKey, str | Path | Predictions] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per task x model x fraction x non-scratch variant; see COLUMNS."""
    predictions = dict(predictions or {})
    cache: dict[CellKey, Predictions] = {}
    records = []
    for task, metric in headlines.items():
        rows = summary[(summary["task"] == task) & (summary["metric"] == metric)]
        for (model, fraction), group in rows.groupby(["model", "label_fraction"], sort=True):
            base = group[group["variant"] == BASELINE].set_index("seed")["value"]
            if base.empty:
                continue
            for variant in sorted(set(group["variant"]) - {BASELINE}):
                treated = group[group["variant"] == variant].set_index("seed")["value"]
                seeds = sorted(set(base.dropna().index) & set(treated.dropna().index))
                if not seeds:
                    logger.warning(
                        "%s/%s f%g: %s and scratch share no seed", task, model, fraction, variant
                    )
                    continue
                pair = _Pair(task, model, variant, float(fraction), metric, task_types[task])
                records.append(
                    pair.analyse(
                        treated.loc[seeds].to_numpy(float),
                        base.loc[seeds].to_numpy(float),
                        seeds,
                        _load_pairs(pair, seeds, predictions, cache),
                        n_boot,
                        confidence,
                        seed,
                    )
                )
    return pd.DataFrame(records, columns=COLUMNS)


def _load_pairs(pair, seeds, predictions, cache):
    """[(treated, scratch)] test predictions per seed, or None when any is not available."""
    loaded = []
    for s in seeds:
        both = []
        for variant in (pair.variant, BASELINE):
            key = CellKey(pair.task, pair.model, variant, pair.fraction, int(s))
            if key not in predictions:
                return None
            if key not in cache:
                source = predictions[key]
                cache[key] = (
                    source
                    if isinstance(source, Predictions)
                    else read_test_predictions(source, pair.task_type)
                )
            both.append(cache[key])
        if not np.array_equal(both[0].rows, both[1].rows):
            raise ReportInputError(
                f"test predictions of {pair.task}/{pair.model} f{pair.fraction:g} s{s}: "
                f"'{pair.variant}' and 'scratch' cover different test rows; a paired "
                "comparison needs the same test set, rerun both cells"
            )
        loaded.append(tuple(both))
    rows = loaded[0][0].rows
    if any(not np.array_equal(a.rows, rows) for a, _ in loaded):
        raise ReportInputError(
            f"test predictions of {pair.task}/{pair.model} f{pair.fraction:g}: seeds cover "
            "different test rows; the test set must not depend on the seed"
        )
    return loaded


class _Pair:
    def __init__(self, task, model, variant, fraction, metric, task_type):
        self.task, self.model, self.variant = task, model, variant
        self.fraction, self.metric, self.task_type = fraction, metric, task_type

    def analyse(self, treated, base, seeds, pairs, n_boot, confidence, seed) -> dict:
        diffs = treated - base
        n = len(diffs)
        gain = float(np.mean(diffs))
        sd = float(np.std(diffs, ddof=1)) if n >= 2 else math.nan
        p_ttest = _paired_ttest(treated, base)
        p_boot, n_test = math.nan, None
        if pairs is not None and n_boot > 0:
            lo, hi, p_boot = self._bootstrap(pairs, diffs, n_boot, confidence, seed)
            method = f"paired bootstrap over seeds and test examples ({n_boot} resamples)"
            n_test = len(pairs[0][0].rows)
        elif n >= 2:
            lo, hi = _t_interval(diffs, confidence)
            method = "t interval over seeds"
        else:
            lo, hi, method = math.nan, math.nan, "none (1 seed, no predictions)"
        better = diffs > 0 if greater_is_better(self.metric) else diffs < 0
        record = {
            "task": self.task,
            "model": self.model,
            "variant": self.variant,
            "baseline": BASELINE,
            "label_fraction": self.fraction,
            "metric": self.metric,
            "n_seeds": n,
            "gain": gain,
            "seed_sd": sd,
            "ci_low": lo,
            "ci_high": hi,
            "ci_method": method,
            "p_bootstrap": p_boot,
            "p_ttest": p_ttest,
            "seeds_better": int(better.sum()),
            "n_test": n_test,
        }
        record["evidence"], record["verdict"] = self.verdict(record, confidence)
        return record

    def _bootstrap(self, pairs, diffs, n_boot, confidence, seed):
        for (treated, base), expected in zip(pairs, diffs, strict=True):
            point = self._metric(treated) - self._metric(base)
            if not math.isclose(point, expected, abs_tol=1e-6):
                logger.warning(
                    "%s/%s f%g %s: gain recomputed from test predictions (%.4f) differs "
                    "from the one in metrics.json (%.4f)",
                    self.task,
                    self.model,
                    self.fraction,
                    self.variant,
                    point,
                    expected,
                )
        # first level: the same resampled test examples for both variants and every seed
        n = len(pairs[0][0].rows)
        width = pairs[0][0].scores[0].size
        chunk = max(1, min(n_boot, RESAMPLE_BUDGET // (n * width)))
        rng = np.random.default_rng(seed)
        per_chunk = []
        for start in range(0, n_boot, chunk):
            index = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
            per_chunk.append(
                [
                    self._batched(treated, index) - self._batched(base, index)
                    for treated, base in pairs
                ]
            )
        gains = np.hstack([np.vstack(part) for part in per_chunk])  # seeds x resamples
        # second level: resample the seeds too, so the interval also carries training noise
        seed_draws = rng.multinomial(len(gains), np.full(len(gains), 1 / len(gains)), n_boot).T
        seed_draws = np.where(np.isfinite(gains), seed_draws, 0)
        with np.errstate(all="ignore"):
            samples = np.nansum(gains * seed_draws, axis=0) / seed_draws.sum(axis=0)
        samples = samples[np.isfinite(samples)]
        if samples.size == 0:
            return math.nan, math.nan, math.nan
        alpha = 1 - confidence
        lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
        # two-sided bootstrap p-value, (k + 1) / (B + 1) so that it is never 0
        tail = min(np.sum(samples <= 0), np.sum(samples >= 0))
        p = min(1.0, 2 * (tail + 1) / (samples.size + 1))
        return float(lo), float(hi), float(p)

    def _metric(self, predictions: Predictions) -> float:
        values = compute_metrics(self.task_type, predictions.labels, predictions.scores)
        return float(values[self.metric])

    def _batched(self, predictions: Predictions, index: np.ndarray) -> np.ndarray:
        labels, scores = predictions.labels[index], predictions.scores[index]
        return batched_metrics(self.task_type, labels, scores)[self.metric]

    def verdict(self, r: dict, confidence: float) -> tuple[str, str]:
        what = WHAT.get(self.variant, self.variant)
        metric = display_name(self.metric)
        level = f"{confidence * 100:g}%"
        amount = f"{r['gain']:+.2f} {metric} at {self.fraction * 100:g}% labels"
        n = r["n_seeds"]
        seeds = f"{n} seed{'s' if n != 1 else ''}"
        if math.isnan(r["ci_low"]):
            return "insufficient", (
                f"not enough data to judge {what}: {amount} from {seeds}; "
                "add seeds or keep the test predictions"
            )
        p = r["p_bootstrap"] if not math.isnan(r["p_bootstrap"]) else r["p_ttest"]
        p_text = f", {_format_p(p)}" if not math.isnan(p) else ""
        detail = (
            f"({level} CI {r['ci_low']:.2f} to {r['ci_high']:.2f}{p_text}; "
            f"better in {r['seeds_better']} of {seeds})"
        )
        if r["ci_low"] <= 0 <= r["ci_high"]:
            return "none", f"no evidence of a difference from {what}: {amount} {detail}"
        improves = (r["ci_low"] > 0) == greater_is_better(self.metric)
        agreeing = r["seeds_better"] if improves else n - r["seeds_better"]
        if agreeing < n:
            return "inconclusive", f"inconclusive, seeds disagree on {what}: {amount} {detail}"
        if improves:
            return "helps", f"{what} helps: {amount} {detail}"
        return "hurts", f"{what} hurts: {amount} {detail}"


def display_name(metric: str) -> str:
    """How the report writes a metric name (MCC, macro-F1, ...)."""
    return DISPLAY.get(metric, metric)


def _paired_ttest(treated: np.ndarray, base: np.ndarray) -> float:
    if len(treated) < 2:
        return math.nan
    diffs = treated - base
    if np.allclose(diffs, diffs[0]):
        # zero spread: t is infinite (or undefined when all differences are 0)
        return 1.0 if diffs[0] == 0 else 0.0
    return float(stats.ttest_rel(treated, base).pvalue)


def _t_interval(diffs: np.ndarray, confidence: float) -> tuple[float, float]:
    mean, sem = float(np.mean(diffs)), float(stats.sem(diffs))
    if sem == 0:
        return mean, mean
    lo, hi = stats.t.interval(confidence, len(diffs) - 1, loc=mean, scale=sem)
    return float(lo), float(hi)


def _format_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def write_transfer(table: pd.DataFrame, out_tsv: str | Path) -> None:
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    for verdict in table["verdict"]:
        logger.info("transfer: %s", verdict)
