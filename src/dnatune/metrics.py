"""Per-task-type metrics (scikit-learn) with bootstrap confidence intervals.

Scores come in one layout per task type:
  binary      labels (n,) in {0, 1}, scores (n,) = P(class 1)
  multiclass  labels (n,) class index, scores (n, C) class probabilities
  multilabel  labels (n, C) multi-hot, scores (n, C) per-label probabilities
  regression  labels (n,), scores (n,) predictions

Point estimates call scikit-learn / scipy. The bootstrap recomputes every
metric on many resamples at once: those are vectorised numpy versions of the
same formulas (a Python loop over scikit-learn would take seconds per cell);
tests check them against scikit-learn resample by resample.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as skm

METRICS = {
    "binary": ("accuracy", "f1", "mcc", "auroc", "auprc"),
    "multiclass": ("accuracy", "macro_f1", "mcc"),
    "multilabel": ("micro_f1", "macro_f1", "macro_auroc"),
    "regression": ("mse", "mae", "r2", "pearson", "spearman"),
}
DEFAULT_HEADLINE = {
    "binary": "mcc",
    "multiclass": "mcc",
    "multilabel": "macro_f1",
    "regression": "pearson",
}
LOWER_IS_BETTER = frozenset({"mse", "mae"})
THRESHOLD = 0.5  # the fixed decision threshold of binary and multilabel scores
THRESHOLD_RULES = ("fixed", "max_mcc", "max_f1")


def headline_metric(task_type: str, metric: str | None = None, where: str = "metric") -> str:
    """The metric a task is judged (and early-stopped) on; validates a configured name."""
    if task_type not in METRICS:
        raise ValueError(f"unknown task type '{task_type}'; expected one of {sorted(METRICS)}")
    if metric is None:
        return DEFAULT_HEADLINE[task_type]
    if metric not in METRICS[task_type]:
        raise ValueError(
            f"key '{where}': metric '{metric}' is not computed for {task_type} tasks; "
            f"use one of {', '.join(METRICS[task_type])}"
        )
    return metric


def greater_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def compute_metrics(
    task_type: str, labels, scores, threshold: float = THRESHOLD
) -> dict[str, float]:
    """Point estimates with scikit-learn (and scipy for the correlations).

    `threshold` is the binary decision threshold (score >= threshold is class 1).
    """
    labels, scores = _as_arrays(task_type, labels, scores)
    if task_type == "binary":
        pred = (scores >= threshold).astype(int)
        return {
            "accuracy": skm.accuracy_score(labels, pred),
            "f1": skm.f1_score(labels, pred, zero_division=0),
            "mcc": skm.matthews_corrcoef(labels, pred),
            "auroc": _safe(skm.roc_auc_score, labels, scores),
            "auprc": _safe(skm.average_precision_score, labels, scores),
        }
    if task_type == "multiclass":
        pred = scores.argmax(axis=1)
        return {
            "accuracy": skm.accuracy_score(labels, pred),
            "macro_f1": skm.f1_score(labels, pred, average="macro", zero_division=0),
            "mcc": skm.matthews_corrcoef(labels, pred),
        }
    if task_type == "multilabel":
        pred = (scores >= THRESHOLD).astype(int)
        aurocs = [
            skm.roc_auc_score(labels[:, c], scores[:, c])
            for c in range(labels.shape[1])
            if 0 < labels[:, c].sum() < len(labels)
        ]
        return {
            "micro_f1": skm.f1_score(labels, pred, average="micro", zero_division=0),
            "macro_f1": skm.f1_score(labels, pred, average="macro", zero_division=0),
            # sklearn's average="macro" raises when one label is constant; average the defined ones
            "macro_auroc": float(np.mean(aurocs)) if aurocs else float("nan"),
        }
    constant = np.ptp(labels) == 0 or np.ptp(scores) == 0
    return {
        "mse": skm.mean_squared_error(labels, scores),
        "mae": skm.mean_absolute_error(labels, scores),
        "r2": skm.r2_score(labels, scores),
        "pearson": float("nan") if constant else stats.pearsonr(labels, scores).statistic,
        "spearman": float("nan") if constant else stats.spearmanr(labels, scores).statistic,
    }


def metrics_with_ci(
    task_type: str,
    labels,
    scores,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    threshold: float = THRESHOLD,
) -> dict[str, dict[str, float | None]]:
    """{name: {"value", "ci_low", "ci_high"}}; CIs are bootstrap percentiles over examples."""
    point = compute_metrics(task_type, labels, scores, threshold)
    if n_resamples > 0:
        intervals = bootstrap_ci(
            task_type, labels, scores, n_resamples, confidence, seed, threshold
        )
    else:
        intervals = {name: (float("nan"), float("nan")) for name in point}
    return {
        name: {
            "value": _json_float(value),
            "ci_low": _json_float(intervals[name][0]),
            "ci_high": _json_float(intervals[name][1]),
        }
        for name, value in point.items()
    }


def bootstrap_ci(
    task_type: str,
    labels,
    scores,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    threshold: float = THRESHOLD,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals; resamples where a metric is undefined are skipped."""
    values = bootstrap_values(task_type, labels, scores, n_resamples, seed, threshold)
    alpha = (1.0 - confidence) / 2.0
    out = {}
    for name, samples in values.items():
        finite = samples[np.isfinite(samples)]
        if finite.size == 0:
            out[name] = (float("nan"), float("nan"))
        else:
            low, high = np.quantile(finite, [alpha, 1.0 - alpha])
            out[name] = (float(low), float(high))
    return out


def bootstrap_values(
    task_type: str, labels, scores, n_resamples: int, seed: int = 0, threshold: float = THRESHOLD
) -> dict[str, np.ndarray]:
    """Every metric on `n_resamples` resamples of the examples (with replacement)."""
    labels, scores = _as_arrays(task_type, labels, scores)
    n = len(labels)
    width = int(np.prod(scores.shape[1:])) if scores.ndim > 1 else 1
    chunk = max(1, min(n_resamples, 20_000_000 // max(1, n * width)))  # bound memory
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in METRICS[task_type]}
    for start in range(0, n_resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
        batch = batched_metrics(task_type, labels[idx], scores[idx], threshold)
        for name, value in batch.items():
            parts[name].append(value)
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def batched_metrics(
    task_type: str, labels: np.ndarray, scores: np.ndarray, threshold: float = THRESHOLD
) -> dict[str, np.ndarray]:
    """The metrics of compute_metrics, vectorised over a leading resample axis."""
    if task_type == "binary":
        return _binary_batched(labels.astype(bool), scores, threshold)
    if task_type == "multiclass":
        return _multiclass_batched(labels, scores)
    if task_type == "multilabel":
        return _multilabel_batched(labels.astype(bool), scores)
    return _regression_batched(labels.astype(float), scores.astype(float))


def choose_threshold(labels, scores, rule: str) -> float:
    """The binary decision threshold `rule` picks on (validation) predictions.

    "fixed" is 0.5; "max_mcc" / "max_f1" take the score, among those seen, at which
    predicting class 1 for score >= threshold maximises MCC / F1 (the first, i.e. the
    highest, on ties). Raises ValueError when the predictions hold one class only.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule '{rule}'; use one of {THRESHOLD_RULES}")
    if rule == "fixed":
        return THRESHOLD
    labels, scores = _as_arrays("binary", labels, scores)
    if len(np.unique(labels)) < 2:
        raise ValueError("a threshold cannot be chosen on predictions of one class")
    # every distinct score is a candidate; roc_curve counts the positives above each
    fpr, tpr, thresholds = skm.roc_curve(labels, scores, drop_intermediate=False)
    pos = labels.sum()
    neg = len(labels) - pos
    tp, fp = tpr * pos, fpr * neg
    fn, tn = pos - tp, neg - fp
    if rule == "max_f1":
        value = _ratio(2 * tp, 2 * tp + fp + fn)
    else:
        value = _ratio(tp * tn - fp * fn, np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    value = np.where(np.isfinite(thresholds), value, -np.inf)  # roc_curve starts at +inf
    return float(thresholds[int(np.argmax(value))])


# ---------------------------------------------------------------- vectorised formulas


def _binary_batched(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, np.ndarray]:
    n = y.shape[1]
    pred = s >= threshold
    tp = (y & pred).sum(1).astype(float)
    fp = (~y & pred).sum(1).astype(float)
    fn = (y & ~pred).sum(1).astype(float)
    tn = n - tp - fp - fn
    mcc_den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "accuracy": (tp + tn) / n,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "mcc": _ratio(tp * tn - fp * fn, mcc_den),
        "auroc": _auroc(y, s),
        "auprc": _average_precision(y, s),
    }


def _multiclass_batched(y: np.ndarray, s: np.ndarray) -> dict[str, np.ndarray]:
    b, n, c = s.shape
    pred = s.argmax(axis=2)
    flat = (np.arange(b)[:, None] * c + y) * c + pred
    confusion = np.bincount(flat.ravel(), minlength=b * c * c).reshape(b, c, c).astype(float)
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    true_sum = confusion.sum(2)
    pred_sum = confusion.sum(1)
    present = (true_sum + pred_sum) > 0  # sklearn's macro average runs over labels seen
    f1 = _ratio(2 * tp, true_sum + pred_sum)
    correct = tp.sum(1)
    cov_tp = correct * n - (true_sum * pred_sum).sum(1)
    cov_pp = n * n - (pred_sum**2).sum(1)
    cov_tt = n * n - (true_sum**2).sum(1)
    return {
        "accuracy": correct / n,
        "macro_f1": (f1 * present).sum(1) / present.sum(1),
        "mcc": _ratio(cov_tp, np.sqrt(cov_tt * cov_pp)),
    }


def _multilabel_batched(y: np.ndarray, s: np.ndarray) -> dict[str, np.ndarray]:
    pred = s >= THRESHOLD
    tp = (y & pred).sum(1).astype(float)  # (B, C)
    fp = (~y & pred).sum(1).astype(float)
    fn = (y & ~pred).sum(1).astype(float)
    per_label = [_auroc(y[:, :, c], s[:, :, c]) for c in range(y.shape[2])]
    aurocs = np.stack(per_label, axis=1)
    with np.errstate(invalid="ignore"):
        defined = np.isfinite(aurocs)
        macro_auroc = np.where(
            defined.any(1), np.nansum(aurocs, 1) / np.maximum(defined.sum(1), 1), np.nan
        )
    return {
        "micro_f1": _ratio(2 * tp.sum(1), (2 * tp + fp + fn).sum(1)),
        "macro_f1": _ratio(2 * tp, 2 * tp + fp + fn).mean(1),
        "macro_auroc": macro_auroc,
    }


def _regression_batched(y: np.ndarray, p: np.ndarray) -> dict[str, np.ndarray]:
    err = p - y
    ss_res = (err**2).sum(1)
    ss_tot = ((y - y.mean(1, keepdims=True)) ** 2).sum(1)
    # sklearn's force_finite: a constant target scores 1.0 when fitted exactly, else 0.0
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), (ss_res == 0) * 1.0)
    return {
        "mse": (err**2).mean(1),
        "mae": np.abs(err).mean(1),
        "r2": r2,
        "pearson": _pearson(y, p),
        "spearman": _pearson(stats.rankdata(y, axis=1), stats.rankdata(p, axis=1)),
    }


def _auroc(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Mann-Whitney U with average ranks for ties: equals roc_auc_score; NaN for one class."""
    ranks = stats.rankdata(s, axis=1)
    n_pos = y.sum(1).astype(float)
    n_neg = y.shape[1] - n_pos
    u = (ranks * y).sum(1) - n_pos * (n_pos + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def _average_precision(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """sklearn's average_precision_score: sum over distinct thresholds of dRecall * precision."""
    order = np.argsort(-s, axis=1, kind="stable")
    s_sorted = np.take_along_axis(s, order, 1)
    y_sorted = np.take_along_axis(y, order, 1)
    tp = np.cumsum(y_sorted, 1).astype(float)
    seen = np.arange(1, y.shape[1] + 1)
    # a threshold ends where the next score differs (tied scores form one threshold)
    last = np.ones_like(y_sorted, dtype=bool)
    last[:, :-1] = s_sorted[:, 1:] != s_sorted[:, :-1]
    tp_at_last = np.where(last, tp, 0.0)
    previous = np.zeros_like(tp)
    previous[:, 1:] = np.maximum.accumulate(tp_at_last, 1)[:, :-1]
    n_pos = tp[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (last * (tp - previous) * (tp / seen)).sum(1) / n_pos
    return np.where(n_pos > 0, ap, np.nan)


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(1, keepdims=True)
    yc = y - y.mean(1, keepdims=True)
    den = np.sqrt((xc**2).sum(1) * (yc**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (xc * yc).sum(1) / den, np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0)."""
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den != 0)
    return out


# ---------------------------------------------------------------- helpers


def _as_arrays(task_type: str, labels, scores) -> tuple[np.ndarray, np.ndarray]:
    if task_type not in METRICS:
        raise ValueError(f"unknown task type '{task_type}'; expected one of {sorted(METRICS)}")
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=float)
    if task_type == "multilabel" and labels.dtype == object:
        labels = np.stack([np.asarray(row) for row in labels])
    expected = {"binary": 1, "multiclass": 2, "multilabel": 2, "regression": 1}[task_type]
    if scores.ndim != expected or len(scores) != len(labels):
        raise ValueError(
            f"{task_type} metrics need {expected}-d scores with one row per label; "
            f"got labels {labels.shape} and scores {scores.shape}"
        )
    if len(labels) == 0:
        raise ValueError(f"{task_type} metrics need at least one example; got none")
    if task_type in ("binary", "multiclass", "multilabel"):
        labels = labels.astype(int)
    return labels, scores


def _safe(fn, labels, scores) -> float:
    """A ranking metric on a single-class sample is undefined: NaN instead of an exception."""
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(fn(labels, scores))


def _json_float(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
