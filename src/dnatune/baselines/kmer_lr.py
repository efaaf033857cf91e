"""k-mer spectrum baseline: canonical k-mer frequencies -> scaling -> a linear model (scikit-learn).

Each sequence becomes the frequencies of its overlapping k-mers with both strands folded:
a k-mer and its reverse complement share one column (the canonical, smaller index), so a
sequence and its reverse complement get the same features. k-mers holding an N are skipped.
The pipeline is StandardScaler then LogisticRegression (binary, multiclass), one
LogisticRegression per label (multilabel, OneVsRestClassifier) or Ridge (regression, with
alpha = 1 / (2 C), the correspondence scikit-learn's Ridge documentation gives). The inverse
regularisation C is chosen on the validation split among `C` (one value: fixed).
"""

from __future__ import annotations

import logging
import pickle
from functools import cache
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from dnatune.baselines.fit import BaselineFit, CellData
from dnatune.genome.kmer import as_bytes, base_digits, has_n_in_kmer, kmer_index

logger = logging.getLogger(__name__)

DEFAULTS = {"k": 4, "C": [0.001, 0.01, 0.1, 1.0], "max_iter": 1000}


@cache
def canonical_columns(k: int) -> tuple[np.ndarray, int]:
    """(column of each of the 4**k k-mer indices, number of columns): a k-mer and its reverse
    complement map to one column."""
    index = np.arange(4**k, dtype=np.int64)
    shifts = 2 * np.arange(k - 1, -1, -1)
    digits = (index[:, None] >> shifts) & 3  # first base most significant, as kmer_index
    reverse = ((digits[:, ::-1] ^ 1) << shifts).sum(axis=1)  # complement flips the low bit
    _, columns = np.unique(np.minimum(index, reverse), return_inverse=True)
    return columns, int(columns.max()) + 1


def kmer_spectrum(sequences, k: int) -> np.ndarray:
    """(n, columns) float32 canonical k-mer frequencies; a row without any k-mer is all 0."""
    columns, width = canonical_columns(k)
    rows, cols = [], []
    for i, sequence in enumerate(sequences):
        digits, is_n = base_digits(as_bytes(sequence))
        if len(digits) < k:
            continue
        index = kmer_index(digits, k)
        with_n = has_n_in_kmer(is_n, k)
        if with_n is not None:
            index = index[~with_n]
        cols.append(columns[index])
        rows.append(np.full(len(index), i, dtype=np.int64))
    n = len(sequences)
    flat = np.concatenate(rows) * width + np.concatenate(cols) if rows else np.array([], int)
    counts = np.bincount(flat, minlength=n * width).reshape(n, width).astype(np.float32)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def fit_kmer_lr(cell: CellData, settings: dict, seed: int) -> BaselineFit:
    """Fit one pipeline per C on the train split, keep the best on val, score val and test."""
    settings = {**DEFAULTS, **settings}
    features = {
        split: kmer_spectrum(frame["sequence"].tolist(), settings["k"])
        for split, frame in cell.frames.items()
    }
    log_history, best, best_value, best_c = [], None, None, None
    for c in settings["C"]:
        model = _pipeline(cell.task_type, float(c), settings["max_iter"], seed)
        model.fit(features["train"], cell.labels["train"])
        values = cell.selection.evaluate(
            _scores(model, features["val"], cell.task_type, cell.num_labels)
        )
        log_history.append({"C": float(c), **values})
        value = values[f"eval_{cell.selection.headline}"]
        if best is None or cell.selection.better(value, best_value):
            best, best_value, best_c = model, value, float(c)
    logger.info(
        "k-mer spectrum (k=%d, %d features): C=%g chosen on val",
        settings["k"],
        features["train"].shape[1],
        best_c,
    )

    def save(directory: Path) -> None:
        # a pickle, as scikit-learn persists models: load it only from a trusted run
        with open(directory / "pipeline.pkl", "wb") as handle:
            pickle.dump(best, handle)

    return BaselineFit(
        scores={
            split: _scores(best, features[split], cell.task_type, cell.num_labels)
            for split in ("val", "test")
        },
        log_history=log_history,
        train_steps=None,
        best_step=None,
        best_metric=best_value,
        parameters=_coefficients(best),
        save=save,
        details={"k": settings["k"], "features": features["train"].shape[1], "C": best_c},
    )


def _pipeline(task_type: str, c: float, max_iter: int, seed: int) -> Pipeline:
    if task_type == "regression":
        return make_pipeline(StandardScaler(), Ridge(alpha=1 / (2 * c)))
    linear = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
    if task_type == "multilabel":
        linear = OneVsRestClassifier(linear)
    return make_pipeline(StandardScaler(), linear)


def _scores(model: Pipeline, features: np.ndarray, task_type: str, num_labels: int) -> np.ndarray:
    """Scores in the layout of dnatune.metrics; a class the train subsample lacks scores 0."""
    if task_type == "regression":
        return model.predict(features)
    probabilities = model.predict_proba(features)
    if task_type == "multilabel":
        return probabilities
    classes = model[-1].classes_
    if task_type == "binary":
        return probabilities[:, list(classes).index(1)]
    full = np.zeros((len(features), num_labels))
    full[:, classes] = probabilities
    return full


def _coefficients(model: Pipeline) -> int:
    last = model[-1]
    estimators = getattr(last, "estimators_", [last])
    return int(
        sum(np.size(e.coef_) + np.size(e.intercept_) for e in estimators if hasattr(e, "coef_"))
    )
