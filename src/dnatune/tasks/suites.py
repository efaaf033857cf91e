"""Readers for public benchmark layouts, read as published with the suite's own splits.

- `gue`: a GUE / GUE+ task folder: train.csv, dev.csv, test.csv with `sequence,label`
  (dev is the validation split).
- `nt`: a Nucleotide Transformer downstream-task folder: train.fna, test.fna, each header
  `>name|label` (val is carved from train later).
- `genomic_benchmarks`: a Genomic Benchmarks folder: metadata.yaml listing the classes, and
  train/<class>.csv.gz, test/<class>.csv.gz with id, region, start, end, strand; sequences
  are cut from the configured genome (val is carved from train later).
- `regions`: a table of coordinates over a genome with a header line naming the columns
  chrom (or chromosome), start, end, label and optionally strand, split, id (or name).
- `bend`: a BEND task BED (header `chromosome start end [strand] split label`), read as
  `regions` whose split column is required.

Coordinates are 0-based and end-exclusive everywhere, as in BED, BEND and Genomic
Benchmarks (which slices `genome[region][start:end]`). Every reader returns frames per split
("train", "val" when the suite has one, "test"), or one "table" frame for a `regions` file
without a split column; the frames carry `id` and `_where` like task_sources' readers.
"""

from __future__ import annotations

import logging
import os
import re

import pandas as pd
import pysam
import yaml

from dnatune.compressed import InputFormatError, open_input
from dnatune.genome.bed import bed_interval
from dnatune.tasks.genome_sequences import cut_sequences
from dnatune.tasks.sources import (
    SPLITS,
    TaskInputError,
    read_fasta,
    read_file_source,
)

logger = logging.getLogger(__name__)

COORDINATE_SUITES = ("genomic_benchmarks", "bend", "regions")
GUE_FILES = {"train": "train.csv", "val": "dev.csv", "test": "test.csv"}
NT_FILES = {"train": "train.fna", "test": "test.fna"}
SUITE_NAMES = {"gue": "GUE", "nt": "Nucleotide Transformer"}
SUITE_EXAMPLES = {"gue": "GUE/prom/prom_300_all", "nt": "promoter_all"}
GB_COLUMNS = ("id", "region", "start", "end", "strand")
# Genomic Benchmarks renames the contigs of some references before cutting (metadata.yaml
# `extra_processing`): Ensembl chromosomes get a 'chr' prefix, transcripts lose their version
GB_CONTIG_RENAMES = {
    "ENSEMBL_HUMAN_GENOME": lambda name: "chr" + name,
    "ENSEMBL_MOUSE_GENOME": lambda name: "chr" + name,
    "ENSEMBL_HUMAN_TRANSCRIPTOME": lambda name: re.sub(r"^(ENST\d*)\.\d+$", r"\1", name),
}
# header names of a regions file (lower case) -> the frame's column
REGION_HEADER = {
    "chrom": "chrom",
    "chromosome": "chrom",
    "chr": "chrom",
    "seqid": "chrom",
    "start": "start",
    "chromstart": "start",
    "end": "end",
    "chromend": "end",
    "strand": "strand",
    "split": "split",
    "id": "id",
    "name": "id",
}
SPLIT_VALUES = {
    "train": "train",
    **dict.fromkeys(("val", "valid", "validation", "dev"), "val"),
    "test": "test",
}


def suite_folder_files(kind: str, folder: str) -> dict[str, str]:
    """The split files of a gue or nt folder (listed even when missing: Snakemake says so)."""
    names = GUE_FILES if kind == "gue" else NT_FILES
    return {split: os.path.join(folder, name) for split, name in names.items()}


def suite_files(kind: str, source: dict) -> dict[str, str]:
    """The user files a suite source reads: the rule's inputs."""
    if kind in ("gue", "nt"):
        return suite_folder_files(kind, source[kind])
    if kind == "genomic_benchmarks":
        folder = source[kind]["path"]
        files = {"metadata": os.path.join(folder, "metadata.yaml")}
        if os.path.exists(files["metadata"]):
            for split, _, path in gb_class_files(folder):
                files[f"{split}_{len(files)}"] = path
        return files
    return {kind: source[kind]["path"]}


def suite_genomes(kind: str, source: dict) -> list[str]:
    """Names of the configured genomes a suite source cuts its sequences from."""
    if kind not in COORDINATE_SUITES:
        return []
    genome = source[kind]["genome"]
    return sorted(set(genome.values())) if isinstance(genome, dict) else [genome]


def read_suite(kind: str, source: dict, genomes: dict[str, str]) -> tuple[dict, dict]:
    """(frames per split or {"table": frame}, where each came from) of a suite source.

    `genomes` maps each name of suite_genomes to its FASTA (bgzip, with .fai).
    """
    if kind in ("gue", "nt"):
        files = suite_folder_files(kind, source[kind])
        for path in files.values():
            if not os.path.exists(path):
                raise TaskInputError(
                    f"{path}: missing; a {SUITE_NAMES[kind]} task folder holds "
                    f"{', '.join(os.path.basename(p) for p in files.values())}. Fix: point "
                    f"source.{kind} at one task's folder (for example {SUITE_EXAMPLES[kind]})"
                )
        if kind == "gue":
            frames = read_file_source("csv", files, source)
        else:
            frames = {split: read_fasta(path, source) for split, path in files.items()}
        return frames, files
    if kind == "genomic_benchmarks":
        return read_genomic_benchmarks(source[kind], genomes)
    spec = source[kind]
    frame = read_regions(spec["path"], spec.get("label", "label"))
    frame["sequence"] = cut_sequences(frame, genomes[spec["genome"]], spec["genome"])
    frames = frames_by_split(frame, spec["path"], required=kind == "bend")
    return frames, dict.fromkeys(frames, spec["path"])


# ---------------------------------------------------------------- Genomic Benchmarks


def gb_metadata(folder: str) -> dict:
    path = os.path.join(folder, "metadata.yaml")
    if not os.path.exists(path):
        raise TaskInputError(
            f"{folder}: no metadata.yaml, so this is not a Genomic Benchmarks folder. Fix: "
            "point source.genomic_benchmarks.path at the dataset's folder (the one holding "
            "metadata.yaml, train/ and test/)"
        )
    with open(path) as handle:
        metadata = yaml.safe_load(handle)
    if not isinstance(metadata, dict) or not isinstance(metadata.get("classes"), dict):
        raise TaskInputError(
            f"{path}: expected a 'classes:' mapping (class name -> reference); "
            "the file is not a Genomic Benchmarks metadata.yaml"
        )
    return metadata


def gb_class_files(folder: str) -> list[tuple[str, str, str]]:
    """(split, class, path) of every train/test class file metadata.yaml implies."""
    classes = gb_metadata(folder)["classes"]
    return [
        (split, str(name), os.path.join(folder, split, f"{name}.csv.gz"))
        for split in ("train", "test")
        for name in classes
    ]


def read_genomic_benchmarks(spec: dict, genomes: dict[str, str]) -> tuple[dict, dict]:
    """Train and test frames, one class file each per class; label = the class name."""
    folder = spec["path"]
    metadata = gb_metadata(folder)
    classes = [str(name) for name in metadata["classes"]]
    frames: dict[str, list] = {"train": [], "test": []}
    for split, class_name, path in gb_class_files(folder):
        if not os.path.exists(path):
            raise TaskInputError(
                f"{path}: missing class file; {folder}/metadata.yaml lists the classes "
                f"{classes}, each with train/<class>.csv.gz and test/<class>.csv.gz. "
                "Fix: unpack the whole dataset folder"
            )
        genome = _class_genome(spec, class_name, classes)
        frame = _gb_class_frame(path, split, class_name)
        rename = GB_CONTIG_RENAMES.get(metadata["classes"][class_name].get("extra_processing"))
        contigs = _renamed_contigs(genomes[genome], rename) if rename else None
        frame["sequence"] = cut_sequences(frame, genomes[genome], genome, contigs)
        frames[split].append(frame)
    out = {split: pd.concat(parts, ignore_index=True) for split, parts in frames.items()}
    for frame in out.values():
        frame.attrs["id_source"] = "'<split>/<class>/<id>' from the class files' id column"
    logger.info(
        "Genomic Benchmarks %s: classes %s, %d train and %d test examples",
        folder,
        classes,
        len(out["train"]),
        len(out["test"]),
    )
    return out, {split: f"{folder}/{split}/<class>.csv.gz" for split in out}


def _class_genome(spec: dict, class_name: str, classes: list[str]) -> str:
    genome = spec["genome"]
    if not isinstance(genome, dict):
        return genome
    if class_name not in genome:
        raise TaskInputError(
            f"source.genomic_benchmarks.genome names no genome for class {class_name!r} "
            f"(classes in metadata.yaml: {classes}). Fix: add '{class_name}: <genome>' to it"
        )
    return genome[class_name]


def _gb_class_frame(path: str, split: str, class_name: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, OSError, EOFError) as err:
        raise TaskInputError(f"{path}: cannot read as a gzip CSV file ({err})") from None
    missing = [c for c in GB_COLUMNS if c not in table.columns]
    if missing:
        raise TaskInputError(
            f"{path}: missing column(s) {missing}; Genomic Benchmarks class files have the "
            f"columns {list(GB_COLUMNS)}, this one {list(table.columns)}"
        )
    if table.empty:
        raise TaskInputError(f"{path}: the class file has no rows below its header")
    where = [f"{path} line {i}" for i in range(2, len(table) + 2)]  # line 1 is the header
    intervals = [
        bed_interval(["", s, e], w, TaskInputError, allow_empty=False)
        for s, e, w in zip(table["start"], table["end"], where, strict=True)
    ]
    return pd.DataFrame(
        {
            "chrom": table["region"].astype(str).to_numpy(),
            "start": [start for start, _ in intervals],
            "end": [end for _, end in intervals],
            "strand": table["strand"].where(table["strand"].isin(["+", "-"]), "+").to_numpy(),
            "label": class_name,
            "id": [f"{split}/{class_name}/{i}" for i in table["id"].astype(str)],
            "_where": where,
        }
    )


def _renamed_contigs(genome_fa: str, rename) -> dict[str, str]:
    """Names a suite's files use -> the genome's contig names (the genome's own names kept)."""
    with pysam.FastaFile(genome_fa) as fasta:
        names = list(fasta.references)
    return {rename(name): name for name in names if rename(name) not in names}


# ---------------------------------------------------------------- regions and BEND


def _lines(path: str):
    """(line number, text) of a plain or gzip text file, blank, track and browser lines skipped."""
    try:
        handle = open_input(path, path)
    except InputFormatError as err:
        raise TaskInputError(str(err)) from None
    with handle:
        for number, raw in enumerate(handle, 1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.strip() and not line.startswith(("track", "browser")):
                yield number, line


def _split_fields(line: str, separator: str | None) -> list[str]:
    return [field.strip() for field in line.split(separator)]


def _header(path: str, number: int, line: str, label: str) -> tuple[dict, str | None]:
    """Column index of each known field, and the separator (tab, comma, else whitespace)."""
    separator = "\t" if "\t" in line else "," if "," in line else None
    names = [n.lower() for n in _split_fields(line.lstrip("#"), separator)]
    if len(names) > 1 and names[1].isdigit():
        raise TaskInputError(
            f"{path} line {number}: no header line; a coordinates file starts with one naming "
            "its columns, e.g. 'chrom<TAB>start<TAB>end<TAB>label' (strand, split and id "
            "optional). Fix: add the header, or read a plain BED with source.bed"
        )
    index = {REGION_HEADER[n]: i for i, n in reversed(list(enumerate(names))) if n in REGION_HEADER}
    if label.lower() in names:
        index["label"] = names.index(label.lower())
        if index.get("id") == index["label"]:
            del index["id"]
    missing = [c for c in ("chrom", "start", "end", "label") if c not in index]
    if missing:
        raise TaskInputError(
            f"{path} line {number}: the header {names} lacks {missing} (label column: "
            f"{label!r}). Fix: name the columns chrom (or chromosome), start, end and "
            "label; set the source's label key when the labels are in another column"
            + (
                " (BEND tasks whose labels live in an hdf5 file are not supported)"
                if "label" in missing
                else ""
            )
        )
    return index, separator


def read_regions(path: str, label: str = "label") -> pd.DataFrame:
    """Read a coordinates table (see module docstring) into chrom, start, end, strand,
    label[, split], id, _where; start and end 0-based, end exclusive."""
    rows, index, separator = [], None, None
    for number, line in _lines(path):
        if index is None:
            index, separator = _header(path, number, line, label)
            continue
        if line.startswith("#"):
            continue
        where = f"{path} line {number}"
        fields = _split_fields(line, separator)
        if len(fields) <= max(index.values()):
            raise TaskInputError(
                f"{where}: {len(fields)} field(s), the header names {max(index.values()) + 1}; "
                "fix the line"
            )
        start, end = bed_interval(
            [fields[index["chrom"]], fields[index["start"]], fields[index["end"]]],
            where,
            TaskInputError,
            allow_empty=False,
        )
        row = {c: fields[i] for c, i in index.items()}
        rows.append({**row, "start": start, "end": end, "_where": where})
    if not rows:
        raise TaskInputError(f"{path}: no regions below the header; add the examples to it")
    frame = pd.DataFrame(rows)
    strand = frame["strand"] if "strand" in frame else pd.Series("+", index=frame.index)
    frame["strand"] = strand.where(strand.isin(["+", "-"]), "+")
    if "id" in frame and frame["id"].ne("").all() and frame["id"].ne(".").all():
        frame.attrs["id_source"] = "the file's id (or name) column"
    else:
        frame["id"] = (
            frame["chrom"] + ":" + frame["start"].astype(str) + "-" + frame["end"].astype(str)
        )
        frame.attrs["id_source"] = "coordinates chrom:start-end"
    logger.info("read %d regions from %s", len(frame), path)
    return frame


def frames_by_split(frame: pd.DataFrame, path: str, required: bool) -> dict:
    """The suite's own splits from the split column; {"table": frame} when it has none."""
    if "split" not in frame:
        if required:
            raise TaskInputError(
                f"{path}: no 'split' column; BEND task files name each example's split "
                "(train, valid, test). Fix: add the column, or use source.regions to have the "
                "examples split by chromosome or region"
            )
        return {"table": frame}
    names = frame["split"].str.lower().map(SPLIT_VALUES)
    unknown = names.isna().to_numpy()
    if unknown.any():
        first = int(unknown.argmax())
        raise TaskInputError(
            f"{frame['_where'].iloc[first]}: split {frame['split'].iloc[first]!r} is not one "
            f"of {sorted(SPLIT_VALUES)} ({int(unknown.sum())} such line(s)). Fix: correct the "
            "split names"
        )
    frames = {s: frame[(names == s).to_numpy()].reset_index(drop=True) for s in SPLITS}
    missing = [s for s in ("train", "test") if frames[s].empty]
    if missing:
        present = sorted(frame["split"].unique())
        raise TaskInputError(
            f"{path}: the split column holds {present}, no {' or '.join(missing)} example; "
            "the suite's own splits need train and test (val, valid or dev is carved from "
            "train when absent). Fix: add the missing split's examples"
        )
    if frames["val"].empty:
        del frames["val"]
    for part in frames.values():
        part.attrs.update(frame.attrs)
    return frames
