"""K-fold validation for tasks whose source ships train and test only (`source.split.val_folds`).

The Nucleotide Transformer protocol trains each model K times, each time validating on a
different fold of train, and scores every run on the published test set. Here the folds are
grid cells: the task folder keeps train and test as published, train.parquet carries each
row's `fold` (0..K-1; stratified by class for classification, seeded by source.split.seed),
val.parquet is empty, and the cell with seed s validates on fold s mod K and trains on the
other folds. Summaries then aggregate folds exactly as they aggregate seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from dnatune.config import ConfigError
from dnatune.tasks.sources import FILE_KINDS, TaskInputError, split_files

FOLD_COLUMN = "fold"
KEY = "source.split.val_folds"
FIX_OWN_VAL = (
    f"Fix: drop {KEY} (the source's val split is used), or drop the val split from the source"
)


def check_val_folds(where: str, kind: str, source: dict) -> None:
    """Config check: folds need a source with its own train and test but no val split."""
    folds = source.get("split", {}).get("val_folds")
    if folds is None:
        return
    if kind == "gue":
        raise ConfigError(
            f"key '{where}.{KEY}': a GUE folder has its own val split (dev.csv); {FIX_OWN_VAL}"
        )
    if kind in ("bed", "annotation"):
        splits_otherwise = f"the {kind} source's examples are split by chromosome or region"
    elif kind in FILE_KINDS and "table" in split_files(source[kind]):
        splits_otherwise = f"one {kind} file (no '{{split}}' in its path) is split by source.split"
    else:
        return
    raise ConfigError(
        f"key '{where}.{KEY}': needs a source with its own train and test splits (nt, "
        "genomic_benchmarks, a '{split}' path with train and test files, or a regions/bend "
        f"file with a split column), but {splits_otherwise}. Fix: drop {KEY}"
    )


def assign_folds(n: int, k: int, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """Fold index (0..k-1) of each of n examples; stratified on `strata` when given."""
    splitter = (
        KFold(n_splits=k, shuffle=True, random_state=seed)
        if strata is None
        else StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    )
    folds = np.empty(n, dtype=np.int64)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros(n), strata)):
        folds[held_out] = fold
    return folds


def fold_splits(
    frames: dict, split: dict, task_type: str, names: list, origins: dict, warnings
) -> tuple[dict, str, dict]:
    """(train with its fold column and test, as published; the split method; its detail).

    `frames` hold encoded labels (class indices; `names` are the classes'); `warnings.add`
    receives a line when a sequence lies in several folds.
    """
    k, seed = split["val_folds"], split["seed"]
    if "val" in frames:
        raise TaskInputError(
            f"{KEY} = {k}, but the source has its own val split ({origins.get('val')}); "
            f"{FIX_OWN_VAL}"
        )
    if "table" in frames:
        raise TaskInputError(
            f"{KEY} = {k} needs the source's own train and test splits, but "
            f"{origins.get('table')} has none (no split column); it is split by "
            f"source.split.val and .test instead. Fix: drop {KEY}, or add a split column"
        )
    train = frames["train"]
    strata = train["label"].to_numpy() if task_type in ("binary", "multiclass") else None
    _check_enough(train, k, strata, names, origins.get("train"))
    folds = assign_folds(len(train), k, seed, strata)
    spread = pd.Series(folds).groupby(train["sequence"].to_numpy()).nunique()
    if (spread > 1).any():
        warnings.add(
            f"train: {int((spread > 1).sum())} sequence(s) occur in more than one fold, so a "
            "cell may validate on sequences it trains on (possible leakage)"
        )
    detail = {
        "val_folds": k,
        "seed": seed,
        "stratified": strata is not None,
        "fold_sizes": np.bincount(folds, minlength=k).tolist(),
    }
    method = f"user, val: fold (seed mod {k}) of {k} folds of train"
    return {"train": train.assign(**{FOLD_COLUMN: folds}), "test": frames["test"]}, method, detail


def _check_enough(train: pd.DataFrame, k: int, strata, names: list, origin) -> None:
    if strata is None:
        smallest, what = len(train), "train examples"
    else:
        classes, counts = np.unique(strata, return_counts=True)
        smallest = int(counts.min())
        what = f"train examples of class {names[classes[counts.argmin()]]!r}"
    if smallest < k:
        raise TaskInputError(
            f"{KEY} = {k}, but {origin} holds only {smallest} {what}: every fold's val needs "
            f"at least one. Fix: set {KEY} to at most {smallest}, or add examples"
        )


def fold_of_seed(train: pd.DataFrame, k: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, val) of the grid cell with this seed: val is fold seed mod k of train."""
    held_out = (train[FOLD_COLUMN] == seed % k).to_numpy()
    return train[~held_out].reset_index(drop=True), train[held_out].reset_index(drop=True)
