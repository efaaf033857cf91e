"""Labelled task datasets: read a task's source, check it, split it, write TASK_DIR.

Output (results/tasks/{task}/): train.parquet, val.parquet, test.parquet with
`id` (unique within the task, it joins predictions back to the input; the
readers in task_sources and genome_tasks say where it comes from), `sequence`
(upper-case ACGTN), `label` (int64 class index for binary and multiclass,
float64 for regression, list<int8> multi-hot for multilabel) and, for examples
with coordinates, chrom, start, end, strand; plus meta.json with the task, its
type, label names, where the ids come from, split method and where each
chromosome or region went, counts per split and the warnings raised while checking.

Source readers live in task_sources (files) and genome_tasks (bed, annotation);
the split in task_split. Bad input raises TaskInputError naming the file, line
or column and the fix; recoverable oddities become counted warnings.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dnatune.atomic import atomic_path
from dnatune.config import ConfigError
from dnatune.genome.source import genome_has_annotation
from dnatune.settings import fill_defaults, schema_node
from dnatune.tasks.from_genome import annotation_examples, bed_examples
from dnatune.tasks.sources import (
    FILE_KINDS,
    SPLITS,
    SUITE_SOURCE_KINDS,
    TABLE_KINDS,
    TaskInputError,
    read_file_source,
    source_kind,
    split_files,
)
from dnatune.tasks.split import carve, genome_split, random_split
from dnatune.tasks.suites import (
    COORDINATE_SUITES,
    read_suite,
    suite_files,
    suite_genomes,
)

logger = logging.getLogger(__name__)

CLASSIFICATION = ("binary", "multiclass")
GENOME_KINDS = ("bed", "annotation", *COORDINATE_SUITES)
MULTILABEL_SEPARATOR = re.compile(r"[;,]")
SHOWN = 3  # locations quoted in an error message
GC_GAP_WARNING = 0.02  # mean GC difference between positives and negatives worth a warning
SKIPPED = {
    "features_on_unknown_contigs": "feature(s) on contigs the genome lacks",
    "skipped_out_of_bounds": "positive window(s) reaching past a chromosome end",
    "skipped_n_rich": "positive window(s) with more N than max_n_fraction",
}
ANNOTATION_IDS = (
    "annotation windows name@chrom:start-end (background@chrom:start-end, shuffled<i>:<id>)"
)
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


# ---------------------------------------------------------------- config


def with_defaults(spec: dict) -> dict:
    """A task's config block with the schema's defaults filled in (schema = single source)."""
    spec = copy.deepcopy(spec)
    spec.setdefault("source", {}).setdefault("split", {})
    return fill_defaults(spec, schema_node("definitions/task"))


def check_task_specs(config: dict) -> None:
    """Config checks the schema cannot express; raise ConfigError naming the key and fix."""
    for task, spec in config.get("tasks", {}).items():
        where = f"tasks.{task}"
        source, task_type = spec["source"], spec["type"]
        kind = source_kind(source)
        split = source.get("split", {})
        if split.get("val", 0.1) + split.get("test", 0.1) >= 0.9:
            raise ConfigError(f"key '{where}.source.split': val + test leave under 10% for train")
        if kind in GENOME_KINDS and split.get("by") == "random":
            raise ConfigError(
                f"key '{where}.source.split.by': genome-derived ({kind}) tasks are split by "
                "chromosome or region, never at random (overlapping windows would leak); "
                "use auto, chromosome or region"
            )
        labels = spec.get("labels")
        if labels is not None:
            if task_type == "regression":
                raise ConfigError(f"key '{where}.labels': a regression task has no class names")
            if len({str(x) for x in labels}) != len(labels):
                raise ConfigError(f"key '{where}.labels': names must be unique, got {labels}")
            if task_type == "binary" and len(labels) != 2:
                raise ConfigError(
                    f"key '{where}.labels': a binary task has 2 labels (negative, positive), "
                    f"got {labels}; use type multiclass for more"
                )
        if source.get("label_columns") and task_type != "multilabel":
            raise ConfigError(
                f"key '{where}.source.label_columns': only for multilabel tasks; "
                "use label_column for one label column"
            )
        if "id_column" in source and kind not in (*TABLE_KINDS, "gue"):
            raise ConfigError(
                f"key '{where}.source.id_column': only for csv, tsv and parquet sources; "
                f"a {kind} source's ids are "
                + {
                    "fasta": "its record names",
                    "bed": "its name column (else chrom:start-end)",
                    "annotation": "built from the features",
                    "nt": "its record names",
                    "genomic_benchmarks": "'<split>/<class>/<id>' from its class files",
                }.get(kind, "its id (or name) column, else chrom:start-end")
            )
        _check_suite_genomes(config, where, kind, source)
        if kind == "annotation":
            _check_annotation_task(config, where, source["annotation"], task_type)


def _check_suite_genomes(config: dict, where: str, kind: str, source: dict) -> None:
    for genome in suite_genomes(kind, source) if kind in SUITE_SOURCE_KINDS else []:
        if genome not in config["genomes"]:
            raise ConfigError(
                f"key '{where}.source.{kind}.genome': unknown genome '{genome}'; defined "
                f"genomes: {sorted(config['genomes'])}. Fix: add it under genomes (for example "
                "{path: /data/hg38.fa.gz}) or name one of those"
            )


def _check_annotation_task(config, where, annotation, task_type) -> None:
    genome = annotation["genome"]
    if genome in config["genomes"] and not genome_has_annotation(config["genomes"][genome]):
        raise ConfigError(
            f"key '{where}.source.annotation.genome': genome '{genome}' has no annotation. "
            f"Fix: add genomes.{genome}.annotation (GFF3, GTF or BED), or use a bed source"
        )
    if task_type == "regression":
        raise ConfigError(
            f"key '{where}.type': annotation tasks are binary, multiclass or multilabel; "
            "for regression use a bed source with a score column (source.bed.label: score)"
        )
    negatives = annotation.get("negatives", "background")
    if task_type == "binary" and negatives == "none":
        raise ConfigError(
            f"key '{where}.source.annotation.negatives': a binary task needs negatives; "
            "use background or shuffled"
        )
    types = [t for t in str(annotation["feature"]).split("|") if t.strip()]
    if task_type != "binary" and not annotation.get("label_attribute") and len(types) < 2:
        raise ConfigError(
            f"key '{where}.source.annotation': a {task_type} task needs several classes: set "
            "label_attribute (for example 'class') or join several feature types with '|'"
        )


def task_source_files(source: dict) -> dict[str, str]:
    """The user files a task reads (input of its rule); genome inputs are added by the rule."""
    kind = source_kind(source)
    if kind in FILE_KINDS:
        return split_files(source[kind])
    if kind == "bed":
        return {"bed": source["bed"]["path"]}
    if kind in SUITE_SOURCE_KINDS:
        return suite_files(kind, source)
    return {}


def task_genomes(source: dict) -> list[str]:
    """Names of the configured genomes a task's sequences are cut from (or derived from).

    The rule passes one genome as its input `genome`, several as `genome_<name>`.
    """
    kind = source_kind(source)
    if kind in ("bed", "annotation"):
        return [source[kind]["genome"]]
    return suite_genomes(kind, source) if kind in SUITE_SOURCE_KINDS else []


# ---------------------------------------------------------------- checks


class _Warnings(list):
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


def clean_sequences(frame: pd.DataFrame, name: str, warnings: _Warnings) -> pd.DataFrame:
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
    splits: dict, task_type: str, names: list[str], warnings: _Warnings, origins: dict
) -> dict:
    """Every split non-empty; classification splits hold at least two classes."""
    counts = {}
    for split in SPLITS:
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
    for split in ("val", "test"):
        shared = int(splits[split]["sequence"].isin(train).sum())
        if shared:
            warnings.add(f"{split}: {shared} sequence(s) also occur in train (possible leakage)")
    return counts


# ---------------------------------------------------------------- build


def _read(task_type: str, spec: dict, inputs: dict, warnings: _Warnings):
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
    warnings = _Warnings()
    frames, fixed_names, source_stats, origins = _read(
        task_type, spec, dict(inputs or {}), warnings
    )
    id_source = ANNOTATION_IDS if kind == "annotation" else _id_source(frames)
    check_unique_ids(frames, kind, id_source)

    for name, frame in frames.items():
        label = "the file" if name == "table" else f"the {name} split"
        check_labels_present(frame, label, task_type)
        frames[name] = clean_sequences(frame, name if name != "table" else "input", warnings)

    names = _label_names(spec, kind, frames, fixed_names, origins)
    for name, frame in frames.items():
        frames[name] = frame.assign(label=encode_labels(frame, name, task_type, names))
    if "table" in frames:
        splits, method, detail = _split_table(frames["table"], spec, task_type, kind)
    else:
        splits, method, detail = _user_splits(frames, source["split"], task_type)
    class_counts = check_splits(splits, task_type, names, warnings, origins)

    seed = source["split"]["seed"]
    counts = {}
    for split in SPLITS:
        frame = splits[split].sample(frac=1.0, random_state=seed).reset_index(drop=True)
        counts[split] = len(frame)
        _write_split(frame, task_type, Path(out_dir) / f"{split}.parquet")
    lengths = pd.concat([splits[s]["sequence"].str.len() for s in SPLITS])
    meta = {
        "task": task,
        "type": task_type,
        "num_labels": 1 if task_type == "regression" else len(names),
        "label_names": names,
        "ids": id_source,
        "split_method": method,
        "counts": counts,
        "warnings": list(warnings),
        "split_detail": detail,
        "class_counts": class_counts,
        "sequence_length": {
            "min": int(lengths.min()),
            "max": int(lengths.max()),
            "mean": round(float(lengths.mean()), 1),
        },
        "source": source_stats,
        "spec": spec,
    }
    with atomic_path(Path(out_dir) / "meta.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n")
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
    return meta


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
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(columns), tmp)
