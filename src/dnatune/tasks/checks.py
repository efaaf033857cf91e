"""Checks on a task's examples as read: sequences cleaned, ids unique, labels present and
encoded, every split non-empty with enough classes. Bad input raises TaskInputError naming
the file, line or column and the fix; recoverable oddities become counted warnings."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from dnatune.tasks.sources import SPLITS, TABLE_KINDS, TaskInputError

logger = logging.getLogger(__name__)

CLASSIFICATION = ("binary", "multiclass")
MULTILABEL_SEPARATOR = re.compile(r"[;,]")
SHOWN = 3  # locations quoted in an error message
DUPLICATE_ID_FIX = {
    "fasta": "give every FASTA record its own name",
    "bed": "remove the repeated intervals, or give every interval its own name in column 4 "
    "(and its label in another column, source.bed.label)",
    **dict.fromkeys(
        ("regions", "bend"),
        "remove the repeated intervals, or add an id column naming each row",
    ),
    **dict.fromkeys(
        (*TABLE_KINDS, "gue"),
        "make the ids unique, or set source.id_column to a column with unique values "
        "(false: number the examples by line)",
    ),
}


class Warnings(list):
    """Recoverable oddities of a task's input: logged, and kept for meta.json."""

    def add(self, message: str) -> None:
        logger.warning(message)
        self.append(message)


def _first(where: pd.Series, mask: np.ndarray) -> str:
    shown = where[mask].iloc[:SHOWN].tolist()
    return "; ".join(shown) + (" ..." if mask.sum() > SHOWN else "")


def _is_missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return np.isnan(value)
    return isinstance(value, str) and not value.strip()


def clean_sequences(frame: pd.DataFrame, name: str, warnings: Warnings) -> pd.DataFrame:
    """Upper-case, drop whitespace, non-ACGTN -> N (counted); empty sequences are errors."""
    raw = frame["sequence"]
    empty = raw.map(_is_missing).to_numpy(dtype=bool)
    if empty.any():
        raise TaskInputError(
            f"{int(empty.sum())} empty sequence(s) in {name}: {_first(frame['_where'], empty)}. "
            "Fix: remove these rows or fill in their sequences"
        )
    sequences = raw.astype(str).str.replace(r"\s+", "", regex=True).str.upper()
    bad = sequences.str.count("[^ACGTN]").to_numpy()
    if bad.sum():
        sequences = sequences.str.replace("[^ACGTN]", "N", regex=True)
        warnings.add(
            f"{name}: {int(bad.sum())} non-ACGTN character(s) in {int((bad > 0).sum())} "
            f"sequence(s) replaced by N (first: {_first(frame['_where'], bad > 0)})"
        )
    return frame.assign(sequence=sequences.to_numpy(dtype=object))


def _label_text(value) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _sorted_names(values) -> list[str]:
    names = set(values)
    try:
        return sorted(names, key=float)
    except ValueError:
        return sorted(names)


def _multilabel_names(value) -> tuple:
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_label_text(v) for v in value)
    if _is_missing(value):
        return ()
    return tuple(t.strip() for t in MULTILABEL_SEPARATOR.split(str(value)) if t.strip())


def check_unique_ids(frames: dict, kind: str, id_source: str) -> None:
    """Ids join predictions back to the input, so no two examples of a task share one."""
    rows = pd.concat([f[["id", "_where"]] for f in frames.values()], ignore_index=True)
    repeated = rows["id"].duplicated(keep=False).to_numpy()
    if repeated.any():
        first = rows["id"][repeated].iloc[0]
        places = rows["id"].to_numpy() == first
        raise TaskInputError(
            f"id {first!r} ({id_source}) occurs {int(places.sum())} times: "
            f"{_first(rows['_where'], places)}; {rows['id'][repeated].nunique()} id(s) repeat. "
            f"Ids join predictions back to the input, so each example needs its own. "
            f"Fix: {DUPLICATE_ID_FIX.get(kind, 'make the ids unique')}"
        )


def check_labels_present(frame: pd.DataFrame, name: str, task_type: str) -> None:
    if task_type == "multilabel":
        return  # no labels is a valid multilabel example
    missing = frame["label"].map(_is_missing).to_numpy(dtype=bool)
    if missing.any():
        raise TaskInputError(
            f"{int(missing.sum())} missing (NaN or empty) label(s) in {name}: "
            f"{_first(frame['_where'], missing)}. Fix: fill in the labels or remove these rows"
        )


def label_names_for(frame: pd.DataFrame, task_type: str) -> list[str]:
    """Default class order: the sorted labels (numerically when they are numbers)."""
    if task_type == "multilabel":
        return _sorted_names(n for v in frame["label"] for n in _multilabel_names(v))
    return _sorted_names(frame["label"].map(_label_text))


def encode_labels(frame: pd.DataFrame, name: str, task_type: str, names: list[str]) -> list:
    """Labels as class indices, floats or multi-hot lists; unknown labels are errors."""
    where = frame["_where"]
    if task_type == "regression":
        values = pd.to_numeric(frame["label"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise TaskInputError(
                f"{int(bad.sum())} non-numeric label(s) in {name} of a regression task: "
                f"{_first(where, bad)}. Fix: labels must be numbers"
            )
        return values.tolist()
    index = {n: i for i, n in enumerate(names)}
    if task_type == "multilabel":
        hot = []
        for i, value in enumerate(frame["label"]):
            labels = _multilabel_names(value)
            row = np.zeros(len(names), dtype=np.int8)
            unknown = [n for n in labels if n not in index]
            if unknown:
                raise _unknown(name, where.iloc[i], unknown[0], names)
            row[[index[n] for n in labels]] = 1
            hot.append(row.tolist())
        return hot
    text = frame["label"].map(_label_text)
    unknown = ~text.isin(list(index)).to_numpy()
    if unknown.any():
        raise _unknown(name, _first(where, unknown), text[unknown].iloc[0], names)
    return text.map(index).astype("int64").tolist()


def _unknown(name, where, label, names) -> TaskInputError:
    return TaskInputError(
        f"unknown label {label!r} in {name} ({where}); known labels: {names} "
        "(from the task's `labels`, or those of the train split). Fix: correct the label, add "
        "training examples of it, or list it in the task's `labels`"
    )


def _class_counts(labels: list, task_type: str, names: list[str]) -> dict:
    if task_type == "regression":
        values = np.asarray(labels, dtype=float)
        return {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
        }
    if task_type == "multilabel":
        totals = np.asarray(labels, dtype=np.int64).reshape(len(labels), len(names)).sum(axis=0)
        return {n: int(t) for n, t in zip(names, totals, strict=True)}
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(names))
    return {n: int(c) for n, c in zip(names, counts, strict=True)}


def check_splits(
    splits: dict, task_type: str, names: list[str], warnings: Warnings, origins: dict
) -> dict:
    """Every split non-empty; classification splits hold at least two classes.

    A split absent from `splits` is none of the task's (val of a task with val folds).
    """
    counts = {}
    for split in (s for s in SPLITS if s in splits):
        frame, origin = splits[split], origins.get(split, origins.get("table"))
        if frame.empty:
            raise TaskInputError(
                f"the {split} split ({origin}) is empty; give it examples (or adjust source.split)"
            )
        counts[split] = _class_counts(frame["label"].tolist(), task_type, names)
        present = [n for n, c in counts[split].items() if c] if task_type != "regression" else []
        if task_type in CLASSIFICATION and len(present) < 2:
            raise TaskInputError(
                f"the {split} split ({origin}) holds a single class {present}; a {task_type} "
                "task needs examples of at least two classes in train, val and test. "
                "Fix: add examples of the other class(es) to it"
            )
        if task_type in CLASSIFICATION and split == "train":
            absent = [n for n, c in counts[split].items() if not c]
            if absent:
                warnings.add(f"train has no examples of class(es) {absent}")
        if task_type == "multilabel" and split == "train":
            absent = [n for n, c in counts[split].items() if not c]
            if absent:
                warnings.add(f"train has no positive example of label(s) {absent}")
        if task_type == "regression" and counts[split]["std"] == 0:
            warnings.add(f"{split}: every label is {counts[split]['mean']}")
    train = set(splits["train"]["sequence"])
    for split in (s for s in ("val", "test") if s in splits):
        shared = int(splits[split]["sequence"].isin(train).sum())
        if shared:
            warnings.add(f"{split}: {shared} sequence(s) also occur in train (possible leakage)")
    return counts
