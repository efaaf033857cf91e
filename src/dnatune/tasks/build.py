"""Labelled task datasets: read a task's source, check it, split it, write TASK_DIR.

Output (results/tasks/{task}/): train.parquet, val.parquet, test.parquet with
`id` (unique within the task, it joins predictions back to the input; the
readers in tasks.sources and tasks.from_genome say where it comes from), `sequence`
(upper-case ACGTN), `label` (int64 class index for binary and multiclass,
float64 for regression, list<int8> multi-hot for multilabel) and, for examples
with coordinates, chrom, start, end, strand; plus meta.json with the task, its
type, label names, where the ids come from, split method and where each
chromosome or region went, counts per split and the warnings raised while checking.

Source readers live in tasks.sources (files), tasks.suites and tasks.from_genome (bed,
annotation); the checks on the examples in tasks.checks, the split in tasks.split, the
config block's defaults and checks in tasks.spec. Bad input raises TaskInputError naming
the file, line or column and the fix; recoverable oddities become counted warnings.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dnatune.atomic import atomic_path
from dnatune.tasks.checks import (
    CLASSIFICATION,
    Warnings,
    check_labels_present,
    check_splits,
    check_unique_ids,
    clean_sequences,
    encode_labels,
    label_names_for,
)
from dnatune.tasks.folds import FOLD_COLUMN, fold_splits
from dnatune.tasks.from_genome import annotation_examples, bed_examples
from dnatune.tasks.sources import (
    FILE_KINDS,
    SPLITS,
    SUITE_SOURCE_KINDS,
    TaskInputError,
    read_file_source,
    source_kind,
    split_files,
)
from dnatune.tasks.spec import GENOME_KINDS, task_genomes, with_defaults
from dnatune.tasks.split import carve, genome_split, random_split
from dnatune.tasks.suites import read_suite

logger = logging.getLogger(__name__)

GC_GAP_WARNING = 0.02  # mean GC difference between positives and negatives worth a warning
SKIPPED = {
    "features_on_unknown_contigs": "feature(s) on contigs the genome lacks",
    "skipped_out_of_bounds": "positive window(s) reaching past a chromosome end",
    "skipped_n_rich": "positive window(s) with more N than max_n_fraction",
}
ANNOTATION_IDS = (
    "annotation windows name@chrom:start-end (background@chrom:start-end, shuffled<i>:<id>)"
)


def _read(task_type: str, spec: dict, inputs: dict, warnings: Warnings):
    """The task's examples: frames (per split, or one "table"), fixed names or None, stats,
    and a description of where each frame came from."""
    source = spec["source"]
    kind = source_kind(source)
    seed = source["split"]["seed"]
    if kind in FILE_KINDS:
        files = {k: v for k, v in inputs.items() if k in ("table", *SPLITS)}
        files = files or split_files(source[kind])
        data = read_file_source(kind, files, source)
        frames = data if isinstance(data, dict) else {"table": data}
        fixed = next(iter(frames.values())).attrs.get("label_names")
        return frames, fixed, {"kind": kind}, files
    if kind in SUITE_SOURCE_KINDS:
        names = task_genomes(source)
        genomes = {n: inputs.get(f"genome_{n}", inputs.get("genome")) for n in names}
        frames, origins = read_suite(kind, source, genomes)
        return frames, None, {"kind": kind}, origins
    if kind == "bed":
        path = inputs.get("bed", source["bed"]["path"])
        frame = bed_examples(path, inputs["genome"], source["bed"])
        return {"table": frame}, None, {"kind": kind}, {"table": path}
    frame, names, stats = annotation_examples(
        inputs["annotation"], inputs["genome"], source["annotation"], task_type, seed
    )
    if stats.get("negatives_short_by"):
        warnings.add(
            f"only {stats['negatives']} background windows avoid the features "
            f"({stats['negatives_short_by']} fewer than positives)"
        )
    if stats.get("features_without_label_attribute"):
        warnings.add(
            f"{stats['features_without_label_attribute']} feature(s) lack the attribute "
            f"{source['annotation'].get('label_attribute')!r} and were skipped"
        )
    gap = abs((stats["gc_positive_mean"] or 0) - (stats["gc_negative_mean"] or 0))
    if stats["negatives"] and source["annotation"].get("gc_match") and gap > GC_GAP_WARNING:
        warnings.add(
            f"GC matching incomplete: mean GC {stats['gc_positive_mean']:.3f} in positives, "
            f"{stats['gc_negative_mean']:.3f} in negatives (too few background windows of "
            "that GC); GC content alone partly separates the classes"
        )
    for key, why in SKIPPED.items():
        if stats.get(key):
            warnings.add(f"{stats[key]} {why}, skipped")
    origin = f"{source['annotation']['feature']} windows from {inputs['annotation']}"
    return {"table": frame}, names, {"kind": kind, **stats}, {"table": origin}


def _id_source(frames: dict) -> str:
    """Where the ids of file and BED sources come from, as their readers said."""
    return "; ".join(dict.fromkeys(f.attrs["id_source"] for f in frames.values()))


def _split_table(frame, spec, task_type, kind) -> tuple[dict, str, dict]:
    split = spec["source"]["split"]
    val, test, seed, by = split["val"], split["test"], split["seed"], split["by"]
    has_coordinates = {"chrom", "start", "end"} <= set(frame.columns)
    if kind in GENOME_KINDS or (has_coordinates and by in ("chromosome", "region")):
        frame = frame.assign(
            start=pd.to_numeric(frame["start"]).astype("int64"),
            end=pd.to_numeric(frame["end"]).astype("int64"),
        )
        names, method, detail = genome_split(
            frame, val, test, seed, by, split.get("block_size"), split.get("chromosomes")
        )
    elif by in ("chromosome", "region"):
        raise TaskInputError(
            f"source.split.by = {by} needs chrom, start and end columns in the file; "
            f"it has {[c for c in frame.columns if not c.startswith('_')]}"
        )
    else:
        strata = _strata(frame["label"], task_type)
        names = random_split(len(frame), val, test, seed, strata)
        method, detail = ("stratified" if strata is not None else "random"), {"seed": seed}
    return {s: frame[names == s].reset_index(drop=True) for s in SPLITS}, method, detail


def _strata(labels: pd.Series, task_type: str) -> np.ndarray | None:
    if task_type in CLASSIFICATION:
        return np.asarray(labels.tolist())
    if task_type == "regression" and len(labels) >= 50:
        return pd.qcut(np.asarray(labels.tolist()), q=5, labels=False, duplicates="drop")
    return None


def _label_names(spec: dict, kind: str, frames: dict, fixed: list | None, origins: dict) -> list:
    """Class names in index order: configured, fixed by the source, or the train labels sorted."""
    task_type, source = spec["type"], spec["source"]
    if task_type == "regression":
        return [str(source["bed"]["label"] if kind == "bed" else source["label_column"])]
    names = [str(x) for x in spec["labels"]] if spec.get("labels") else fixed
    if names is None:
        names = label_names_for(frames.get("train", frames.get("table")), task_type)
    if task_type in CLASSIFICATION and len(names) < 2:
        raise TaskInputError(
            f"{origins.get('train', origins.get('table'))} holds a single class {names}; "
            f"a {task_type} task needs at least two. Fix: add examples of the other class(es)"
        )
    if task_type == "binary" and len(names) > 2:
        raise TaskInputError(
            f"a binary task has two classes, but the labels are {names}. "
            "Fix: use type multiclass, or correct the labels"
        )
    return names


def _user_splits(frames: dict, split: dict, task_type: str) -> tuple[dict, str, dict]:
    """The user's own splits; val carved from train (stratified) when there is no val file."""
    if "val" in frames:
        return dict(frames), "user", {}
    train = frames["train"]
    moved = carve(len(train), split["val"], split["seed"], _strata(train["label"], task_type))
    splits = {"train": train[~moved], "val": train[moved], "test": frames["test"]}
    detail = {"val_fraction": split["val"], "seed": split["seed"], "stratified": True}
    return splits, "user, val carved from train", detail


def build_task(task: str, spec: dict, out_dir: str | Path, inputs: dict | None = None) -> dict:
    """Build TASK_DIR for one task from its config block; return the meta dict.

    `inputs`: the rule's input files (train/val/test or table for file sources,
    bed, genome and annotation for genome-derived ones); file sources fall back
    to the paths in `spec`.
    """
    spec = with_defaults(spec)
    task_type, source = spec["type"], spec["source"]
    kind = source_kind(source)
    warnings = Warnings()
    frames, fixed_names, source_stats, origins = _read(
        task_type, spec, dict(inputs or {}), warnings
    )
    id_source = ANNOTATION_IDS if kind == "annotation" else _id_source(frames)
    check_unique_ids(frames, kind, id_source)

    frames = _checked_frames(frames, task_type, warnings)
    names = _label_names(spec, kind, frames, fixed_names, origins)
    for name, frame in frames.items():
        frames[name] = frame.assign(label=encode_labels(frame, name, task_type, names))
    folds = source["split"].get("val_folds")
    if folds:
        splits, method, detail = fold_splits(
            frames, source["split"], task_type, names, origins, warnings
        )
    elif "table" in frames:
        splits, method, detail = _split_table(frames["table"], spec, task_type, kind)
    else:
        splits, method, detail = _user_splits(frames, source["split"], task_type)
    class_counts = check_splits(splits, task_type, names, warnings, origins)

    counts = _write_splits(splits, task_type, source["split"]["seed"], Path(out_dir))
    meta = {
        "task": task,
        "type": task_type,
        "num_labels": 1 if task_type == "regression" else len(names),
        "label_names": names,
        "ids": id_source,
        "split_method": method,
        "val_folds": folds,
        "counts": {s: n for s, n in counts.items() if s in splits},
        "warnings": list(warnings),
        "split_detail": detail,
        "class_counts": class_counts,
        "sequence_length": _length_stats(splits),
        "source": source_stats,
        "spec": spec,
    }
    with atomic_path(Path(out_dir) / "meta.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n")
    _log_built(task, task_type, kind, counts, method, warnings)
    return meta


def _log_built(task, task_type, kind, counts, method, warnings) -> None:
    logger.info(
        "task %s (%s, %s): train %d, val %d, test %d examples, split by %s, %d warning(s)",
        task,
        task_type,
        kind,
        counts["train"],
        counts["val"],
        counts["test"],
        method,
        len(warnings),
    )


def _checked_frames(frames: dict, task_type: str, warnings: Warnings) -> dict:
    """Each frame with its labels checked present and its sequences cleaned."""
    checked = {}
    for name, frame in frames.items():
        label = "the file" if name == "table" else f"the {name} split"
        check_labels_present(frame, label, task_type)
        checked[name] = clean_sequences(frame, name if name != "table" else "input", warnings)
    return checked


def _write_splits(splits: dict, task_type: str, seed: int, out_dir: Path) -> dict[str, int]:
    """Each split shuffled (seeded) and written; returns the count per split."""
    counts = {}
    for split in SPLITS:
        if split not in splits:  # val of a task with val folds: empty, train holds the folds
            frame = splits["train"].iloc[:0].drop(columns=FOLD_COLUMN)
        else:
            frame = splits[split]
        frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        counts[split] = len(frame)
        _write_split(frame, task_type, out_dir / f"{split}.parquet")
    return counts


def _length_stats(splits: dict) -> dict:
    lengths = pd.concat([frame["sequence"].str.len() for frame in splits.values()])
    return {
        "min": int(lengths.min()),
        "max": int(lengths.max()),
        "mean": round(float(lengths.mean()), 1),
    }


def _write_split(frame: pd.DataFrame, task_type: str, path: Path) -> None:
    label_type = {
        "regression": pa.float64(),
        "multilabel": pa.list_(pa.int8()),
    }.get(task_type, pa.int64())
    columns = {
        "id": pa.array(frame["id"].astype(str).tolist(), type=pa.string()),
        "sequence": pa.array(frame["sequence"].tolist(), type=pa.string()),
        "label": pa.array(frame["label"].tolist(), type=label_type),
    }
    if "chrom" in frame.columns:
        columns["chrom"] = pa.array(frame["chrom"].astype(str).tolist(), type=pa.string())
        for column in ("start", "end"):
            columns[column] = pa.array(pd.to_numeric(frame[column]).tolist(), type=pa.int64())
        if "strand" in frame.columns:
            columns["strand"] = pa.array(frame["strand"].astype(str).tolist(), type=pa.string())
    if FOLD_COLUMN in frame.columns:
        columns[FOLD_COLUMN] = pa.array(frame[FOLD_COLUMN].tolist(), type=pa.int64())
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(columns), tmp)
