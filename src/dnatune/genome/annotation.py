"""GFF3, GTF and BED annotations to one sorted feature table (annotation.parquet).

Columns: seqid (str), start (int64, 0-based), end (int64, exclusive),
strand ('+', '-', '.'), type (str), name (str, may be ''), attributes (str, the
raw GFF/GTF column 9 or ''); sorted by seqid, start (then end, type).
GFF3/GTF coordinates are 1-based inclusive, so start - 1 is stored; BED is
already 0-based half-open. BED features have type 'region' and the BED name
column as name. Files may be plain, gzip or bgzip (detected by magic bytes).
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dnatune.atomic import atomic_path
from dnatune.compressed import InputFormatError
from dnatune.genome.bed import bed_fields, bed_interval, feature_lines
from dnatune.genome.indexed_fasta import read_fai

logger = logging.getLogger(__name__)

FORMATS = ("gff3", "gtf", "bed")
SCHEMA = pa.schema(
    [
        ("seqid", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("strand", pa.string()),
        ("type", pa.string()),
        ("name", pa.string()),
        ("attributes", pa.string()),
    ]
)
BED_TYPE = "region"
_GTF_ATTRIBUTE = re.compile(r'(\w+)\s+"([^"]*)"')
_SUFFIX_FORMAT = {".gff3": "gff3", ".gff": "gff3", ".gtf": "gtf", ".bed": "bed"}


class AnnotationError(InputFormatError):
    """An annotation problem; the message names the file, the line and the fix."""


def detect_format(src: str | os.PathLike, display: str | None = None) -> str:
    """gff3, gtf or bed, from the first feature line; the file suffix breaks ties."""
    display = display or str(src)
    for _, line in feature_lines(src, display, AnnotationError):
        fields = line.split("\t")
        if len(fields) == 9 and fields[3].isdigit() and fields[4].isdigit():
            if re.match(r'\s*\w+\s+"', fields[8]):
                return "gtf"
            if re.match(r"\s*[^=;\s]+=", fields[8]):
                return "gff3"
            break
        fields = line.split()
        if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
            return "bed"
        break
    else:
        raise AnnotationError(f"{display} holds no features; check the file or its URL")
    name = display.lower()
    for suffix in (".gz", ".bgz", ".gzip"):
        name = name.removesuffix(suffix)
    fmt = _SUFFIX_FORMAT.get(Path(name).suffix)
    if fmt is None:
        raise AnnotationError(
            f"cannot tell whether {display} is GFF3, GTF or BED; set the genome's "
            f"annotation.format to gff3, gtf or bed"
        )
    return fmt


def _name_gff3(attributes: str) -> str:
    values = {}
    for item in attributes.split(";"):
        key, _, value = item.strip().partition("=")
        values[key] = value
    return urllib.parse.unquote(values.get("Name") or values.get("ID") or "")


def _name_gtf(attributes: str) -> str:
    values = dict(_GTF_ATTRIBUTE.findall(attributes))
    return values.get("gene_name") or values.get("gene_id") or values.get("transcript_id") or ""


def _integer(text: str, what: str, display: str, lineno: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise AnnotationError(
            f"{display} line {lineno}: {what} {text!r} is not an integer; fix the line"
        ) from None


def _strand(text: str, display: str, lineno: int) -> str:
    if text in ("+", "-", "."):
        return text
    if text == "?":
        return "."
    raise AnnotationError(
        f"{display} line {lineno}: strand {text!r} must be '+', '-' or '.'; fix the line"
    )


def read_annotation(
    src: str | os.PathLike, fmt: str = "auto", display: str | None = None
) -> pa.Table:
    """Parse an annotation file into the (unsorted) feature table."""
    display = display or str(src)
    if fmt == "auto":
        fmt = detect_format(src, display)
    if fmt not in FORMATS:
        raise AnnotationError(f"unknown annotation format {fmt!r}; use one of {FORMATS}")
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    for lineno, line in feature_lines(src, display, AnnotationError):
        if fmt == "bed":
            row = _bed_row(line, display, lineno)
        else:
            row = _gff_row(line, fmt, display, lineno)
        for key, value in zip(SCHEMA.names, row, strict=True):
            columns[key].append(value)
    if not columns["seqid"]:
        raise AnnotationError(f"{display} holds no features; check the file or its URL")
    logger.info("%s: %d features read as %s", display, len(columns["seqid"]), fmt)
    return pa.table(columns, schema=SCHEMA)


def _gff_row(line: str, fmt: str, display: str, lineno: int) -> tuple:
    fields = line.split("\t")
    if len(fields) != 9:
        raise AnnotationError(
            f"{display} line {lineno}: expected 9 tab-separated columns ({fmt.upper()}), "
            f"found {len(fields)}; if the file is BED or space-separated, set the genome's "
            f"annotation.format or fix the file"
        )
    seqid, _, ftype, start, end, _, strand, _, attributes = fields
    start_i = _integer(start, "start", display, lineno)
    end_i = _integer(end, "end", display, lineno)
    if start_i < 1 or end_i < start_i:
        raise AnnotationError(
            f"{display} line {lineno}: start {start_i} and end {end_i} must satisfy "
            f"1 <= start <= end (1-based, inclusive); fix the line"
        )
    attributes = "" if attributes == "." else attributes
    name = _name_gff3(attributes) if fmt == "gff3" else _name_gtf(attributes)
    return seqid, start_i - 1, end_i, _strand(strand, display, lineno), ftype, name, attributes


def _bed_row(line: str, display: str, lineno: int) -> tuple:
    where = f"{display} line {lineno}"
    fields = bed_fields(line, where, AnnotationError)
    start, end = bed_interval(fields, where, AnnotationError)
    name = fields[3] if len(fields) > 3 and fields[3] != "." else ""
    strand = _strand(fields[5], display, lineno) if len(fields) > 5 else "."
    return fields[0], start, end, strand, BED_TYPE, name, ""


def _restrict_to_contigs(table: pa.Table, contigs: dict[str, int], display: str) -> pa.Table:
    """Drop features on unknown contigs or past a contig's end, with a warning."""
    index = pc.index_in(table["seqid"], value_set=pa.array(list(contigs), pa.string()))
    length = pc.take(pa.array(list(contigs.values()), pa.int64()), index)
    keep = pc.fill_null(pc.less_equal(table["end"], length), False)
    unknown = pc.filter(table["seqid"], pc.is_null(index))
    n_unknown = len(unknown)
    if n_unknown == table.num_rows:
        examples = sorted(pc.unique(unknown).to_pylist())[:5]
        raise AnnotationError(
            f"{display}: none of its sequence names ({', '.join(examples)}) is a contig of "
            f"the genome ({', '.join(list(contigs)[:5])}); the annotation belongs to another "
            f"assembly or names contigs differently (e.g. '1' vs 'chr1'): use the annotation "
            f"of this assembly or rename its first column"
        )
    if n_unknown:
        names = pc.unique(unknown).to_pylist()
        logger.warning(
            "%s: dropped %d features on %d sequences absent from the genome (%s)",
            display,
            n_unknown,
            len(names),
            ", ".join(sorted(names)[:5]),
        )
    beyond = table.num_rows - n_unknown - pc.sum(keep).as_py()
    if beyond:
        logger.warning("%s: dropped %d features that end past their contig", display, beyond)
    return table.filter(keep)


def write_annotation_table(
    src: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    fmt: str = "auto",
    fai: str | os.PathLike | None = None,
    display: str | None = None,
) -> dict[str, int]:
    """Convert an annotation file to annotation.parquet, atomically; return counts per type.

    With `fai`, features on contigs the genome lacks (or past their end) are
    dropped with a warning, and an annotation sharing no contig with the genome
    is an error.
    """
    display = display or str(src)
    table = read_annotation(src, fmt, display)
    if fai is not None:
        lengths = {name: contig.length for name, contig in read_fai(fai).items()}
        table = _restrict_to_contigs(table, lengths, display)
    table = table.sort_by(
        [
            ("seqid", "ascending"),
            ("start", "ascending"),
            ("end", "ascending"),
            ("type", "ascending"),
        ]
    )
    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp)
    counts = Counter(
        {item["values"]: item["counts"] for item in pc.value_counts(table["type"]).to_pylist()}
    )
    logger.info(
        "%s: %d features written to %s (%s)",
        display,
        table.num_rows,
        dest,
        ", ".join(f"{k}: {v}" for k, v in counts.most_common(12)),
    )
    return dict(counts)
