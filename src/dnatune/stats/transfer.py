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

Without predictions the CI falls back to a t interval over seeds. Where the
headline metric depends on a decision threshold (MCC, F1, accuracy) the same
bootstrap also gives the gain of the task's ranking metric (AUROC, macro-AUROC),
and each row counts the seeds whose cells learned nothing (dnatune.evaluate.degenerate).
The standard error of the gain (sd of the bootstrap gains, or of the seed mean)
gives the smallest gain the comparison could detect. dnatune.stats.verdicts turns the
rows into evidence and words, with the false discovery rate controlled across them.

Only the pre-trained variants (WHAT) are compared with scratch; other variants
of the grid (baselines) are left out of this family.
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
from dnatune.evaluate.degenerate import cell_flags
from dnatune.evaluate.readers import CellKey, ReportInputError, read_test_predictions
from dnatune.metrics import batched_metrics, compute_metrics, greater_is_better
from dnatune.stats.verdicts import WHAT, decide

logger = logging.getLogger(__name__)

BASELINE = "scratch"
RESAMPLE_BUDGET = 4_000_000  # resampled values held at once (resamples x examples x classes)
RANKING = {"binary": "auroc", "multilabel": "macro_auroc"}  # threshold-free metric per type
THRESHOLD_METRICS = frozenset({"accuracy", "f1", "mcc", "macro_f1", "micro_f1"})
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
    "gain_se",
    "ranking_metric",
    "ranking_gain",
    "ranking_ci_low",
    "ranking_ci_high",
    "degenerate_variant",
    "degenerate_scratch",
]


def transfer_gains(
    summary: pd.DataFrame,
    headlines: Mapping[str, str],
    task_types: Mapping[str, str],
    predictions: Mapping[CellKey, str | Path | Predictions] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    cells: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per task x model x fraction x pre-trained variant, with its verdict.

    `cells` is dnatune.evaluate.degenerate.cell_flags of the summary (computed when not given).
    """
    predictions = loaded_predictions(predictions or {}, task_types)
    if cells is None:
        cells = cell_flags(summary, task_types, predictions)
    degenerate = cells.set_index(list(CellKey._fields))["degenerate"].to_dict()
    records = []
    for task, metric in headlines.items():
        rows = summary[summary["task"] == task]
        for (model, fraction), group in rows.groupby(["model", "label_fraction"], sort=True):
            if not (group["variant"] == BASELINE).any():
                continue
            for variant in sorted(set(group["variant"]) & set(WHAT)):
                pair = Pair(task, model, variant, float(fraction), metric, task_types[task])
                record = paired_gain(
                    pair, group, group, predictions, degenerate, n_boot, confidence, seed
                )
                if record is not None:
                    records.append(record)
    return decide(pd.DataFrame(records, columns=COLUMNS), confidence)


def paired_gain(
    pair: Pair,
    treated: pd.DataFrame,
    reference: pd.DataFrame,
    predictions: Mapping[CellKey, Predictions],
    degenerate: Mapping[CellKey, bool],
    n_boot: int,
    confidence: float,
    seed: int,
) -> dict | None:
    """One undecided row: `pair`'s variant (summary rows `treated`) against its reference
    (summary rows `reference`) over the seeds both have; None when they share no seed."""
    ref_model, ref_variant = pair.reference
    ranking = _ranking_metric(pair.task_type, pair.metric)
    seeds = sorted(
        set(_per_seed(treated, pair.variant, pair.metric).dropna().index)
        & set(_per_seed(reference, ref_variant, pair.metric).dropna().index)
    )
    if not seeds:
        logger.warning(
            "%s/%s f%g: %s and %s share no seed",
            pair.task,
            pair.model,
            pair.fraction,
            pair.variant,
            ref_variant,
        )
        return None
    values = {
        m: (
            _per_seed(treated, pair.variant, m).reindex(seeds),
            _per_seed(reference, ref_variant, m).reindex(seeds),
        )
        for m in (pair.metric, ranking)
        if m
    }
    pairs = _load_pairs(pair, seeds, predictions)
    record = pair.analyse(values, seeds, pairs, n_boot, confidence, seed)
    record["degenerate_variant"] = sum(
        degenerate.get(pair.key(pair.variant, s), False) for s in seeds
    )
    record["degenerate_scratch"] = sum(degenerate.get(pair.ref_key(s), False) for s in seeds)
    return record


def _ranking_metric(task_type: str, headline: str) -> str | None:
    """The threshold-free metric read beside a threshold-based headline, if the type has one."""
    return RANKING.get(task_type) if headline in THRESHOLD_METRICS else None


def _per_seed(group: pd.DataFrame, variant: str, metric: str) -> pd.Series:
    rows = group[(group["variant"] == variant) & (group["metric"] == metric)]
    return rows.set_index("seed")["value"].astype(float)


def loaded_predictions(
    predictions: Mapping, task_types: Mapping[str, str]
) -> dict[CellKey, Predictions]:
    """Every cell's test predictions in memory (read from disk where given as a path)."""
    return {
        key: source
        if isinstance(source, Predictions)
        else read_test_predictions(source, task_types[key.task])
        for key, source in predictions.items()
        if key.task in task_types
    }


def _load_pairs(pair, seeds, predictions):
    """[(treated, scratch)] test predictions per seed, or None when any is not available."""
    loaded = []
    for s in seeds:
        both = []
        for key in (pair.key(pair.variant, s), pair.ref_key(s)):
            if key not in predictions:
                return None
            both.append(predictions[key])
        if not np.array_equal(both[0].rows, both[1].rows):
            raise ReportInputError(
                f"test predictions of {pair.task}/{pair.model} f{pair.fraction:g} s{s}: "
                f"'{pair.variant}' and '{pair.reference[1]}' cover different test rows; a paired "
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


class Pair:
    """A variant of a model and the (model, variant) it is compared with, at one fraction."""

    def __init__(self, task, model, variant, fraction, metric, task_type, reference=None):
        self.task, self.model, self.variant = task, model, variant
        self.fraction, self.metric, self.task_type = fraction, metric, task_type
        self.reference = reference or (model, BASELINE)

    def key(self, variant: str, seed) -> CellKey:
        return CellKey(self.task, self.model, variant, self.fraction, int(seed))

    def ref_key(self, seed) -> CellKey:
        return CellKey(self.task, *self.reference, self.fraction, int(seed))

    def analyse(self, values, seeds, pairs, n_boot, confidence, seed) -> dict:
        """`values`: {metric: (treated per seed, scratch per seed)}, headline first."""
        diffs = {m: (t - b).to_numpy(float) for m, (t, b) in values.items()}
        head = diffs[self.metric]
        n = len(head)
        if pairs is not None and n_boot > 0:
            samples = self._bootstrap(pairs, diffs, n_boot, seed)
            method = f"paired bootstrap over seeds and test examples ({n_boot} resamples)"
            spread = {m: _percentile_summary(s, confidence) for m, s in samples.items()}
        elif n >= 2:
            method = "t interval over seeds"
            spread = {m: _t_summary(d, confidence) for m, d in diffs.items()}
        else:
            method = "none (1 seed, no predictions)"
            spread = {m: (math.nan,) * 4 for m in diffs}
        lo, hi, p_boot, se = spread[self.metric]
        if not method.startswith("paired"):
            p_boot = math.nan
        better = head > 0 if greater_is_better(self.metric) else head < 0
        ranking = next((m for m in diffs if m != self.metric), None)
        rank = spread.get(ranking, (math.nan,) * 4)
        return {
            "task": self.task,
            "model": self.model,
            "variant": self.variant,
            "baseline": self.reference[1],
            "label_fraction": self.fraction,
            "metric": self.metric,
            "n_seeds": n,
            "gain": float(np.mean(head)),
            "seed_sd": float(np.std(head, ddof=1)) if n >= 2 else math.nan,
            "ci_low": lo,
            "ci_high": hi,
            "ci_method": method,
            "p_bootstrap": p_boot,
            "p_ttest": _paired_ttest(*(v.to_numpy(float) for v in values[self.metric])),
            "seeds_better": int(better.sum()),
            "n_test": len(pairs[0][0].rows) if pairs is not None and n_boot > 0 else None,
            "gain_se": se,
            "ranking_metric": ranking,
            "ranking_gain": _mean(diffs[ranking]) if ranking else math.nan,
            "ranking_ci_low": rank[0],
            "ranking_ci_high": rank[1],
        }

    def _bootstrap(self, pairs, diffs, n_boot, seed) -> dict[str, np.ndarray]:
        """Bootstrap samples of the seed-averaged gain of each metric of `diffs`."""
        self._check_points(pairs, diffs[self.metric])
        # first level: the same resampled test examples for both variants and every seed
        n = len(pairs[0][0].rows)
        width = pairs[0][0].scores[0].size
        chunk = max(1, min(n_boot, RESAMPLE_BUDGET // (n * width)))
        rng = np.random.default_rng(seed)
        parts = {m: [] for m in diffs}
        for start in range(0, n_boot, chunk):
            index = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
            per_seed = [(self._batched(t, index), self._batched(b, index)) for t, b in pairs]
            for m in diffs:
                parts[m].append(np.vstack([t[m] - b[m] for t, b in per_seed]))
        # second level: resample the seeds too, so the interval also carries training noise
        n_seeds = len(pairs)
        seed_draws = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), n_boot).T
        samples = {}
        for m, chunks in parts.items():
            gains = np.hstack(chunks)  # seeds x resamples
            draws = np.where(np.isfinite(gains), seed_draws, 0)
            with np.errstate(all="ignore"):
                mean = np.nansum(gains * draws, axis=0) / draws.sum(axis=0)
            samples[m] = mean[np.isfinite(mean)]
        return samples

    def _check_points(self, pairs, expected_diffs):
        for (treated, base), expected in zip(pairs, expected_diffs, strict=True):
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

    def _metric(self, predictions: Predictions) -> float:
        values = compute_metrics(
            self.task_type, predictions.labels, predictions.scores, predictions.threshold
        )
        return float(values[self.metric])

    def _batched(self, predictions: Predictions, index: np.ndarray) -> dict[str, np.ndarray]:
        labels, scores = predictions.labels[index], predictions.scores[index]
        return batched_metrics(self.task_type, labels, scores, predictions.threshold)


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def _percentile_summary(samples: np.ndarray, confidence: float) -> tuple[float, ...]:
    """(CI low, CI high, two-sided p, standard error) of bootstrap gains."""
    if samples.size == 0:
        return (math.nan,) * 4
    alpha = 1 - confidence
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    # two-sided bootstrap p-value, (k + 1) / (B + 1) so that it is never 0
    tail = min(np.sum(samples <= 0), np.sum(samples >= 0))
    p = min(1.0, 2 * (tail + 1) / (samples.size + 1))
    se = float(np.std(samples, ddof=1)) if samples.size > 1 else math.nan
    return float(lo), float(hi), float(p), se


def _t_summary(diffs: np.ndarray, confidence: float) -> tuple[float, ...]:
    """(CI low, CI high, NaN, standard error of the mean) over seeds."""
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) < 2:
        return (math.nan,) * 4
    lo, hi = _t_interval(diffs, confidence)
    return lo, hi, math.nan, float(stats.sem(diffs))


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


def write_transfer(table: pd.DataFrame, out_tsv: str | Path) -> None:
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    for verdict in table["verdict"]:
        logger.info("transfer: %s", verdict)
