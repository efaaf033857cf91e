"""A task folder's splits as training reads them: meta.json and the split files checked, the
val fold and label subsample of a grid cell, and labels as arrays.

Fine-tuning and the baselines share it, so that a cell at label fraction f and seed s trains
on the same examples whichever kind of cell it is.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from dnatune.metrics import METRICS
from dnatune.tasks.folds import FOLD_COLUMN, fold_of_seed

SPLITS = ("train", "val", "test")
logger = logging.getLogger(__name__)


class FinetuneInputError(ValueError):
    """A task or setting a cell cannot be trained on; the message names the file or key."""


@dataclass
class Task:
    name: str
    type: str
    num_labels: int
    label_names: list
    frames: dict[str, pd.DataFrame]
    paths: dict[str, Path]


def load_task(task_dir: str | Path, seed: int | None = None) -> Task:
    """The task's meta.json and splits, checked for what fine-tuning relies on.

    `seed`: the grid cell's; a task built with val folds (meta.json `val_folds` K) then
    validates on fold seed mod K of train and trains on the other folds.
    """
    task_dir = Path(task_dir)
    meta_path = task_dir / "meta.json"
    if not meta_path.exists():
        raise FinetuneInputError(f"{meta_path}: missing; the tasks stage writes it, rerun it")
    meta = json.loads(meta_path.read_text())
    for key in ("type", "num_labels"):
        if key not in meta:
            raise FinetuneInputError(f"{meta_path}: key '{key}' is missing; rerun the tasks stage")
    task_type = meta["type"]
    if task_type not in METRICS:
        raise FinetuneInputError(
            f"{meta_path}: type '{task_type}' is unknown; expected one of {sorted(METRICS)}"
        )
    folds = meta.get("val_folds")
    frames, paths = {}, {}
    for split in SPLITS:
        path = task_dir / f"{split}.parquet"
        if not path.exists():
            raise FinetuneInputError(f"{path}: missing; the tasks stage writes it, rerun it")
        frame = pd.read_parquet(path)
        if not (folds and split == "val"):  # with val folds, val.parquet is empty
            _check_frame(frame, path, task_type, int(meta["num_labels"]))
        frames[split], paths[split] = frame.reset_index(drop=True), path
    if folds:
        frames["train"], frames["val"] = _fold_of_seed(frames["train"], folds, seed, paths)
        paths["val"] = paths["train"]
    return Task(
        name=meta.get("task", task_dir.name),
        type=task_type,
        num_labels=int(meta["num_labels"]),
        label_names=list(meta.get("label_names") or []),
        frames=frames,
        paths=paths,
    )


def _fold_of_seed(train: pd.DataFrame, folds: int, seed: int | None, paths: dict):
    if seed is None or FOLD_COLUMN not in train.columns:
        raise FinetuneInputError(
            f"{paths['train']}: the task has {folds} val folds (meta.json val_folds), so a cell "
            f"needs its seed and the file its '{FOLD_COLUMN}' column"
            + ("" if seed is None else "; rerun the tasks stage")
        )
    train, val = fold_of_seed(train, folds, seed)
    logger.info("val: fold %d of %d of train (seed %d)", seed % folds, folds, seed)
    return train, val


def _check_frame(frame: pd.DataFrame, path: Path, task_type: str, num_labels: int) -> None:
    missing = [c for c in ("sequence", "label") if c not in frame.columns]
    if missing:
        raise FinetuneInputError(
            f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(frame.columns)}); "
            "a task split needs 'sequence' and 'label' - rerun the tasks stage or fix the file"
        )
    if frame.empty:
        raise FinetuneInputError(f"{path}: no examples; the split must not be empty")
    bad = frame["label"].isna()
    if bad.any():
        raise FinetuneInputError(
            f"{path}: row {int(np.flatnonzero(bad)[0])} has no label ({int(bad.sum())} rows); "
            "drop or label them"
        )
    lengths = frame["sequence"].str.len()
    if (lengths.fillna(0) == 0).any():
        raise FinetuneInputError(
            f"{path}: row {int(np.flatnonzero(lengths.fillna(0) == 0)[0])} has an empty sequence"
        )
    if task_type in ("binary", "multiclass"):
        labels = frame["label"].to_numpy()
        if (
            not np.issubdtype(labels.dtype, np.integer)
            or labels.min() < 0
            or labels.max() >= num_labels
        ):
            raise FinetuneInputError(
                f"{path}: column 'label' must hold class indices 0..{num_labels - 1} "
                f"(meta.json num_labels); found {sorted(pd.unique(labels))[:10]}"
            )
    elif task_type == "multilabel":
        widths = {len(v) for v in frame["label"]}
        if widths != {num_labels}:
            raise FinetuneInputError(
                f"{path}: column 'label' must hold multi-hot lists of length {num_labels}; "
                f"found lengths {sorted(widths)}"
            )


def label_subsample(
    frame: pd.DataFrame, task_type: str, fraction: float, seed: int, where: str | Path = "train"
) -> pd.DataFrame:
    """A stratified `fraction` of the training examples, the same for the same seed."""
    if not 0 < fraction <= 1:
        raise FinetuneInputError(f"label fraction {fraction} must be in (0, 1]")
    if fraction >= 1:
        return frame
    if task_type in ("binary", "multiclass"):
        strata = frame["label"]
    elif task_type == "multilabel":
        strata = frame["label"].map(lambda v: "".join(str(int(x)) for x in v))
        if strata.value_counts().min() < 2:
            strata = None  # label combinations too rare to stratify on
    else:
        strata = pd.qcut(frame["label"], q=min(5, len(frame) // 2), labels=False, duplicates="drop")
    try:
        keep, _ = train_test_split(
            frame, train_size=fraction, stratify=strata, random_state=seed, shuffle=True
        )
    except ValueError as err:
        raise FinetuneInputError(
            f"{where}: cannot draw a stratified label fraction {fraction:g} from "
            f"{len(frame)} examples ({err}); use a larger label fraction or more data"
        ) from None
    return keep.sort_index()


def check_classes(task: Task, frames: dict[str, pd.DataFrame]) -> None:
    """Every split of a classification cell must hold at least two classes."""
    if task.type not in ("binary", "multiclass"):
        return
    for split, frame in frames.items():
        classes = pd.unique(frame["label"])
        if len(classes) < 2:
            subsample = " after label subsampling" if split == "train" else ""
            raise FinetuneInputError(
                f"{task.paths[split]}: the {split} split has only class {classes[0]}{subsample} "
                f"({len(frame)} examples); a classifier needs at least two classes - "
                "rebuild the task with both classes in every split or raise the label fraction"
            )


def label_array(labels: pd.Series, task_type: str) -> np.ndarray:
    if task_type in ("binary", "multiclass"):
        return labels.to_numpy(dtype=np.int64)
    if task_type == "multilabel":
        return np.stack([np.asarray(v, dtype=np.float32) for v in labels])
    return labels.to_numpy(dtype=np.float32)  # float32: the model's MSE loss dtype
