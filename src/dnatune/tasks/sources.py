"""Readers for user-supplied task files: csv, tsv, parquet and FASTA.

Each reader returns a DataFrame with the columns `sequence` and `label` (raw,
as in the file), `id` (see below), any of `chrom`, `start`, `end`, `strand` the
file carries, and `_where`: the file and line (or row, or record) of each
example, so that every later check can point at the exact place to fix.

The id joins predictions back to the input: a table's id column (`id`, or
source.id_column), a FASTA record's name, else `<file name>:<line>` for csv/tsv
(the header is line 1) and `<file name>:<row>` for parquet (rows from 0); the
file's path stands for its name when two split files share a name. The frame's
attrs["id_source"] says which.

A path may contain `{split}`: it then names the user's own train, val (or dev,
as in GUE) and test files. Without it, the file is split automatically later.
"""

from __future__ import annotations

import logging
import os
import re

import numpy as np
import pandas as pd
import pysam

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
TABLE_KINDS = ("csv", "tsv", "parquet")
FILE_KINDS = (*TABLE_KINDS, "fasta")
COORDINATE_COLUMNS = ("chrom", "start", "end", "strand")
ID_COLUMN = "id"  # a table column read as the examples' ids unless source.id_column says otherwise


class TaskInputError(ValueError):
    """Bad task input; the message names the file, line or column and the fix."""


GENOME_SOURCE_KINDS = ("bed", "annotation")
SUITE_SOURCE_KINDS = ("gue", "nt", "genomic_benchmarks", "bend", "regions")  # suite_sources
SOURCE_KINDS = (*FILE_KINDS, *GENOME_SOURCE_KINDS, *SUITE_SOURCE_KINDS)


def source_kind(source: dict) -> str:
    for kind in SOURCE_KINDS:
        if kind in source:
            return kind
    raise TaskInputError(f"task source {source} names none of {SOURCE_KINDS}")


def split_files(path: str) -> dict[str, str]:
    """Files of a task path: {"train","val","test"} when it holds `{split}`, else {"table"}.

    `val` falls back to `dev` (GUE's name). When neither exists but train and
    test do, val is left out and carved from train later. Missing files are
    still listed so that Snakemake reports them as missing input.
    """
    if "{split}" not in path:
        return {"table": path}
    files = {"train": path.replace("{split}", "train")}
    val, dev = path.replace("{split}", "val"), path.replace("{split}", "dev")
    test = path.replace("{split}", "test")
    if os.path.exists(val):
        files["val"] = val
    elif os.path.exists(dev):
        files["val"] = dev
    elif not (os.path.exists(files["train"]) and os.path.exists(test)):
        files["val"] = val
    files["test"] = test
    return files


# ---------------------------------------------------------------- tables


def read_table(path: str, kind: str, source: dict, file_name: str | None = None) -> pd.DataFrame:
    """Read one csv/tsv/parquet file into the common frame (see module docstring).

    `file_name` names the file in line-number ids (default: its base name).
    """
    if kind == "parquet":
        frame = pd.read_parquet(path)
        where = [f"{path} row {i}" for i in range(len(frame))]
        numbers = range(len(frame))
    else:
        try:
            frame = pd.read_csv(
                path, sep="," if kind == "csv" else "\t", dtype=str, skipinitialspace=True
            )
        except pd.errors.EmptyDataError:
            raise TaskInputError(f"{path}: the file is empty; expected a header line") from None
        except pd.errors.ParserError as err:
            raise TaskInputError(f"{path}: not a valid {kind.upper()} file ({err})") from None
        # line 1 is the header
        numbers = range(2, len(frame) + 2)
        where = [f"{path} line {i}" for i in numbers]
    frame.columns = [str(c).strip() for c in frame.columns]
    sequence_column = source.get("sequence_column", "sequence")
    label_columns = source.get("label_columns")
    needed = [sequence_column, *(label_columns or [source.get("label_column", "label")])]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise TaskInputError(
            f"{path}: missing column(s) {missing}; columns present: {list(frame.columns)}. "
            f"Fix: rename the column(s) in the file, or set the task's source.sequence_column / "
            f"source.label_column{'s' if label_columns else ''} to the names used in the file"
        )
    if frame.empty:
        raise TaskInputError(
            f"{path}: the file has no rows{' below its header' if kind != 'parquet' else ''}. "
            "Fix: add the examples to it"
        )
    out = pd.DataFrame({"sequence": frame[sequence_column].to_numpy(dtype=object)})
    if label_columns:
        out["label"] = _multi_hot_columns(frame, label_columns, where, path)
        out.attrs["label_names"] = list(label_columns)
    else:
        out["label"] = frame[source.get("label_column", "label")].to_numpy(dtype=object)
    for column in COORDINATE_COLUMNS:
        if column in frame.columns and column not in needed:
            out[column] = frame[column].to_numpy()
    out["_where"] = where
    column = _id_column(frame, path, source)
    if column:
        out["id"] = _column_ids(frame[column], path, column, where)
        out.attrs["id_source"] = f"column '{column}'"
    else:
        file_name = file_name or os.path.basename(path)
        out["id"] = [f"{file_name}:{i}" for i in numbers]
        out.attrs["id_source"] = (
            "row numbers ('<file>:<row>', from 0)"
            if kind == "parquet"
            else "line numbers ('<file>:<line>', the header is line 1)"
        )
    return out


def _id_column(frame: pd.DataFrame, path: str, source: dict) -> str | None:
    """The column holding the ids: source.id_column (false: none), else `id` when present."""
    column = source.get("id_column")
    if column is False:
        return None
    if column is None:
        return ID_COLUMN if ID_COLUMN in frame.columns else None
    if column not in frame.columns:
        raise TaskInputError(
            f"{path}: no id column {column!r} (source.id_column); columns present: "
            f"{list(frame.columns)}. Fix: set source.id_column to the column naming each "
            "example, or leave it out to number the examples by line"
        )
    return column


def _column_ids(values: pd.Series, path: str, column: str, where: list[str]) -> list[str]:
    text = values.astype(str).str.strip()
    missing = (values.isna() | (text == "")).to_numpy()
    if missing.any():
        first = where[int(np.flatnonzero(missing)[0])]
        raise TaskInputError(
            f"{path}: {int(missing.sum())} example(s) without an id in column '{column}' "
            f"(first: {first}). Fix: fill in the ids, or set source.id_column: false to "
            "number the examples by line"
        )
    return text.tolist()


def _multi_hot_columns(frame: pd.DataFrame, columns: list[str], where, path) -> list:
    values = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise TaskInputError(
            f"{where[row]}: column '{columns[col]}' holds {frame[columns[col]].iloc[row]!r}; "
            f"multilabel columns (source.label_columns) must be 0 or 1 "
            f"({int(bad.sum())} such cells in {path})"
        )
    return [[columns[i] for i in np.flatnonzero(r)] for r in values]


# ---------------------------------------------------------------- FASTA

_LABEL_PIPE = re.compile(r"\|([^|\s]*)$")


def read_fasta(path: str, source: dict) -> pd.DataFrame:
    """Read a FASTA file whose headers carry the label.

    Header formats, tried in this order:
      `>id label=1 ...`  a `KEY=VALUE` token, KEY being source.label_column (default `label`);
      `>id|1`            the last `|`-separated field of the id.
    """
    key = source.get("label_column", "label")
    rows, labels, where, ids = [], [], [], []
    try:
        with pysam.FastxFile(path) as handle:
            for number, record in enumerate(handle, start=1):
                label = _header_label(record.name, record.comment, key)
                if label is None:
                    raise TaskInputError(
                        f"{path} record {number} (>{record.name}): no label in the header. "
                        f"Fix: write the header as '>ID {key}=VALUE' or '>ID|VALUE'"
                    )
                rows.append(record.sequence or "")
                labels.append(label)
                ids.append(record.name)
                where.append(f"{path} record {number} (>{record.name})")
    except OSError as err:
        raise TaskInputError(f"{path}: cannot read as FASTA ({err})") from None
    if not rows:
        raise TaskInputError(f"{path}: no FASTA records found; expected '>ID {key}=VALUE' headers")
    frame = pd.DataFrame({"sequence": rows, "label": labels, "id": ids, "_where": where})
    frame.attrs["id_source"] = "FASTA record names"
    return frame


def _header_label(name: str, comment: str | None, key: str) -> str | None:
    for token in (comment or "").split():
        if token.startswith(key + "="):
            return token[len(key) + 1 :]
    match = _LABEL_PIPE.search(name)
    return match.group(1) if match else None


# ---------------------------------------------------------------- entry point


def read_file_source(kind: str, files: dict[str, str], source: dict):
    """Read the user's files: a dict split -> frame for `{split}` paths, else one frame."""
    names = {split: os.path.basename(path) for split, path in files.items()}
    if len(set(names.values())) < len(names):  # e.g. train/seqs.csv, test/seqs.csv
        names = dict(files)
    frames = {
        split: read_fasta(path, source)
        if kind == "fasta"
        else read_table(path, kind, source, names[split])
        for split, path in files.items()
    }
    for split, frame in frames.items():
        logger.info("read %d examples from %s (%s)", len(frame), files[split], split)
    if "table" in frames:
        return frames["table"]
    return frames
