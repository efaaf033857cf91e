"""The regions apply.tracks.regions asks for, checked against the genome, cut into chunks.

`regions` is `all` (every contig), a list of chromosome names, or the path of a BED file.
Each chunk (at most chunk_bp bases of one contig) is one workflow job; the plan lists them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnatune.apply.cells import ApplyError
from dnatune.atomic import atomic_path
from dnatune.genome.bed import bed_fields, bed_interval, feature_lines
from dnatune.genome.indexed_fasta import read_fai

PLAN_COLUMNS = ["chunk", "chrom", "start", "end"]


def requested_regions(regions, fai: str | Path) -> list[tuple[str, int, int]]:
    """(chrom, start, end) of every region asked for, in the order given (contigs: the fai's)."""
    lengths = {name: contig.length for name, contig in read_fai(fai).items()}
    if regions == "all":
        return [(name, 0, length) for name, length in lengths.items()]
    if isinstance(regions, list):
        for name in regions:
            _check_contig(name, lengths, "key 'apply.tracks.regions'")
        return [(name, 0, length) for name, length in lengths.items() if name in regions]
    found = []
    for lineno, line in feature_lines(regions, str(regions), ApplyError):
        where = f"{regions} line {lineno}"
        fields = bed_fields(line, where, ApplyError)
        start, end = bed_interval(fields, where, ApplyError, allow_empty=False)
        _check_contig(fields[0], lengths, where)
        if end > lengths[fields[0]]:
            raise ApplyError(
                f"{where}: region {fields[0]}:{start}-{end} ends past the end of contig "
                f"{fields[0]} ({lengths[fields[0]]} bp); clip it to the contig"
            )
        found.append((fields[0], start, end))
    if not found:
        raise ApplyError(f"{regions}: no regions in the BED file; add some or use `regions: all`")
    order = {name: i for i, name in enumerate(lengths)}  # bigWig entries follow the header
    return sorted(found, key=lambda region: (order[region[0]], region[1]))


def _check_contig(name: str, lengths: dict[str, int], where: str) -> None:
    if name not in lengths:
        shown = ", ".join(list(lengths)[:20]) + (" ..." if len(lengths) > 20 else "")
        raise ApplyError(f"{where}: unknown chromosome '{name}'; the genome has {shown}")


def chunk_plan(regions: list[tuple[str, int, int]], chunk_bp: int) -> pd.DataFrame:
    """Regions (in genome order) merged where they overlap, cut into chunks of chunk_bp bases."""
    rows = []
    merged: list[list] = []
    for chrom, start, end in regions:
        if merged and merged[-1][0] == chrom and start <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], end)
        else:
            merged.append([chrom, start, end])
    for chrom, start, end in merged:
        for lo in range(start, end, chunk_bp):
            rows.append((len(rows), chrom, lo, min(lo + chunk_bp, end)))
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def write_plan(regions, fai: str | Path, chunk_bp: int, out_tsv: str | Path) -> pd.DataFrame:
    plan = chunk_plan(requested_regions(regions, fai), chunk_bp)
    with atomic_path(out_tsv) as tmp:
        plan.to_csv(tmp, sep="\t", index=False)
    return plan


def read_plan(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"chrom": str})
