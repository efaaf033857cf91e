"""A task's config block: the schema's defaults filled in, the checks the schema cannot
express (raised as ConfigError naming the key and the fix), and the user files and genomes
its rule reads."""

from __future__ import annotations

import copy

from dnatune.config import ConfigError
from dnatune.genome.source import genome_has_annotation
from dnatune.settings import fill_defaults, schema_node
from dnatune.tasks.folds import check_val_folds
from dnatune.tasks.sources import (
    FILE_KINDS,
    SUITE_SOURCE_KINDS,
    TABLE_KINDS,
    source_kind,
    split_files,
)
from dnatune.tasks.suites import COORDINATE_SUITES, suite_files, suite_genomes

GENOME_KINDS = ("bed", "annotation", *COORDINATE_SUITES)


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
        check_val_folds(where, kind, source)
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
