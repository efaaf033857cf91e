"""Cut a genome into windows for pre-training, with a leak-free train/val/test split.

The genome (bgzip FASTA with .fai/.gzi) is read one chromosome at a time, in chunks
of a few Mbp, so memory stays flat however large the genome or a chromosome is.
A window is kept when its N fraction is at most `max_n_fraction`, when (with
``softmask: drop``) at most `max_softmask_fraction` of it is lower case, when it lies
inside an include BED interval (if given) and overlaps no exclude BED interval.

Split: whole chromosomes go to val and test by length (largest first while they fit the
requested fraction), so no test sequence shares a chromosome with training. With too few
chromosomes for that (a split would get none, or one far larger than asked for), the
split falls back to contiguous blocks along each chromosome, assigned by a
low-discrepancy sequence; windows that straddle two blocks of different splits are
dropped. Both decisions are logged (`dnatune.corpus.window_split`).

Output: windows.parquet with chrom, start, end, strand ('+', and '-' copies with
``reverse_complement``), split ('train', 'val', 'test'), sorted by chromosome order and start.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import asdict

import numpy as np

from dnatune.atomic import atomic_path
from dnatune.corpus.bed_intervals import inside, overlapping, read_bed
from dnatune.corpus.window_split import DROP, SPLITS, plan_split
from dnatune.genome import kmer
from dnatune.genome.indexed_fasta import IndexedFasta
from dnatune.heap import reuse_freed_memory
from dnatune.settings import WindowSettings

logger = logging.getLogger(__name__)


class WindowsError(ValueError):
    """Bad windowing input (settings or BED file), with the fix in the message."""


def check_settings(settings: WindowSettings) -> None:
    """What the schema cannot say about the `windows:` block."""
    if settings.size < 1 or settings.stride < 1:
        raise WindowsError(f"windows.size and windows.stride must be >= 1, got {settings}")
    if settings.softmask not in ("upper", "drop"):
        raise WindowsError(f"windows.softmask: expected upper or drop, got {settings.softmask!r}")
    val, test = settings.split["val"], settings.split["test"]
    if val < 0 or test < 0 or val + test >= 1:
        raise WindowsError(f"windows.split: val ({val}) + test ({test}) must be >= 0 and below 1")
    if settings.split["by"] not in ("chromosome", "block"):
        raise WindowsError("windows.split.by: expected chromosome or block")


# ---------------------------------------------------------------- windows


def window_starts(length: int, size: int, stride: int) -> np.ndarray:
    """Start of every full window along a chromosome."""
    if length < size:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, length - size + 1, stride, dtype=np.int64)


def _value_counts(column) -> tuple[list[str], list[int]]:
    import pyarrow.compute as pc

    counts = pc.value_counts(column)
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()


def _schema(metadata: dict):
    import pyarrow as pa

    return pa.schema(
        [
            ("chrom", pa.string()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("strand", pa.string()),
            ("split", pa.string()),
        ],
        metadata={"dnatune": json.dumps(metadata)},
    )


def _table(chrom: str, starts, ends, strands, splits, schema):
    import pyarrow as pa

    n = len(starts)
    chrom_col = pa.DictionaryArray.from_arrays(np.zeros(n, dtype=np.int8), pa.array([chrom]))
    strand_col = pa.DictionaryArray.from_arrays(strands.astype(np.int8), pa.array(["+", "-"]))
    split_col = pa.DictionaryArray.from_arrays(splits.astype(np.int8), pa.array(list(SPLITS)))
    return pa.Table.from_arrays(
        [
            chrom_col.cast(pa.string()),
            pa.array(starts, pa.int64()),
            pa.array(ends, pa.int64()),
            strand_col.cast(pa.string()),
            split_col.cast(pa.string()),
        ],
        schema=schema,
    )


def make_windows(
    genome_fa: str | os.PathLike,
    out_path: str | os.PathLike,
    settings: WindowSettings | dict,
    chunk_bases: int = 4_000_000,
) -> dict:
    """Write windows.parquet for a bgzip FASTA; returns counts per split and per drop reason."""
    import pyarrow.parquet as pq

    reuse_freed_memory()
    if isinstance(settings, dict):  # the block's keys; the schema's defaults for the others
        settings = WindowSettings.defaults(**settings)
    check_settings(settings)
    include = read_bed(settings.include_bed, WindowsError) if settings.include_bed else None
    exclude = read_bed(settings.exclude_bed, WindowsError) if settings.exclude_bed else None
    fasta, lengths = _open_genome(genome_fa, settings, include, exclude)
    plan = _split_plan(lengths, settings)
    logger.info(
        "%s: %d contigs, %d bp; %s", genome_fa, len(lengths), sum(lengths.values()), plan.describe()
    )
    metadata = {"settings": asdict(settings), "split": plan.describe(), "method": plan.method}
    schema = _schema(metadata)

    counts: Counter = Counter()
    per_split: Counter = Counter()
    short = sum(length < settings.size for length in lengths.values())  # no window at all
    with atomic_path(out_path) as tmp, pq.ParquetWriter(str(tmp), schema) as writer:
        tables = _window_tables(
            fasta, lengths, settings, plan, include, exclude, counts, schema, chunk_bases
        )
        for table in tables:
            writer.write_table(table)
            for name, n in zip(*_value_counts(table.column("split")), strict=True):
                per_split[name] += n
        stats = {
            "windows": {s: per_split[s] for s in SPLITS},
            "dropped": {k: v for k, v in counts.items() if k != "non_acgtn"},
            "split": plan.describe(),
        }
        if not per_split:
            raise WindowsError(
                f"{genome_fa}: no window passed the filters: "
                + _no_window_why(lengths, settings, short, stats["dropped"])
            )
    fasta.close()
    if short:
        logger.info(
            "%d contigs shorter than the window size %d gave no window", short, settings.size
        )
    if counts["non_acgtn"]:
        logger.info("%d bases outside ACGTN counted as N", counts["non_acgtn"])
    logger.info("windows: %s", json.dumps(stats))
    return stats


def _open_genome(genome_fa, settings: WindowSettings, include, exclude):
    """The indexed FASTA and its contig lengths, checked against the BED files."""
    try:
        fasta = IndexedFasta(genome_fa)
    except (OSError, ValueError) as err:
        raise WindowsError(
            f"cannot open {genome_fa} as an indexed FASTA ({err}); it should be the bgzip "
            "genome.fa.gz of the genome rule, with its .fai and .gzi"
        ) from err
    lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
    if not lengths:
        raise WindowsError(f"{genome_fa} holds no sequences")
    for name, bed in (("include_bed", include), ("exclude_bed", exclude)):
        if bed is not None and not set(bed) & set(lengths):
            raise WindowsError(
                f"windows.{name} {getattr(settings, name)}: none of its chromosomes "
                f"{sorted(bed)[:5]} is in {genome_fa} ({list(lengths)[:5]} ...)"
            )
    return fasta, lengths


def _split_plan(lengths: dict[str, int], settings: WindowSettings):
    split_cfg = settings.split
    return plan_split(
        lengths,
        val=split_cfg["val"],
        test=split_cfg["test"],
        by=split_cfg["by"],
        block_size=split_cfg["block_size"],
        window_size=settings.size,
    )


def _window_tables(fasta, lengths, settings, plan, include, exclude, counts, schema, chunk_bases):
    """The kept windows of each chromosome, in order, as tables of at most a chunk each."""
    window_chunk = max(1, chunk_bases // settings.stride)
    for chrom, length in lengths.items():
        starts_all = window_starts(length, settings.size, settings.stride)
        for lo in range(0, len(starts_all), window_chunk):
            starts = starts_all[lo : lo + window_chunk]
            last = lo + window_chunk >= len(starts_all)
            table = _chunk_windows(
                fasta, chrom, starts, last, settings, plan, include, exclude, counts, schema
            )
            if table is not None:
                yield table


# what each drop reason of _chunk_windows means, and the setting that lets windows through
DROP_REASONS = {
    "n_fraction": "more N than windows.max_n_fraction (raise it)",
    "softmasked": "soft-masked beyond windows.max_softmask_fraction (raise it, or softmask: upper)",
    "outside_include_bed": "outside windows.include_bed (check its intervals)",
    "in_exclude_bed": "overlapping windows.exclude_bed (check its intervals)",
    "split_boundary": "across a train/val/test boundary (lower windows.size)",
}


def _no_window_why(lengths: dict, settings: WindowSettings, short: int, dropped: dict) -> str:
    """Why a genome gave no window, and the fix."""
    longest = max(lengths.values())
    if short == len(lengths):
        return (
            f"every contig is shorter than windows.size {settings.size} (the longest is "
            f"{longest} bp); set windows.size to {longest} or less"
        )
    reasons = [f"{n} {DROP_REASONS[k]}" for k, n in dropped.items() if n]
    if short:
        reasons.append(f"{short} of {len(lengths)} contigs shorter than windows.size")
    return "windows dropped: " + "; ".join(reasons)


def _chunk_windows(fasta, chrom, starts, last, settings, plan, include, exclude, counts, schema):
    size = settings.size
    region_start, region_end = int(starts[0]), int(starts[-1]) + size
    seq = fasta.fetch(chrom, region_start, region_end)
    is_n = kmer.n_mask(seq)
    if is_n is not None:  # chunks overlap by size - stride: count each base once
        own = len(seq) if last else len(starts) * settings.stride
        other = is_n[:own] & ((seq[:own] & 0xDF) != ord("N"))
        counts["non_acgtn"] += int(np.count_nonzero(other))
    rel = starts - region_start
    ends = starts + size
    keep = np.ones(len(starts), dtype=bool)

    bad = kmer.count_in_windows(is_n, rel, size) > settings.max_n_fraction * size
    counts["n_fraction"] += int(np.count_nonzero(bad & keep))
    keep &= ~bad
    if settings.softmask == "drop":
        masked = kmer.count_in_windows(seq >= ord("a"), rel, size)
        bad = masked > settings.max_softmask_fraction * size
        counts["softmasked"] += int(np.count_nonzero(bad & keep))
        keep &= ~bad
    if include is not None:
        bad = ~inside(include.get(chrom), starts, ends)
        counts["outside_include_bed"] += int(np.count_nonzero(bad & keep))
        keep &= ~bad
    if exclude is not None:
        bad = overlapping(exclude.get(chrom), starts, ends)
        counts["in_exclude_bed"] += int(np.count_nonzero(bad & keep))
        keep &= ~bad
    splits = plan.split_codes(chrom, starts, ends)
    bad = splits == DROP
    counts["split_boundary"] += int(np.count_nonzero(bad & keep))
    keep &= ~bad

    starts, ends, splits = starts[keep], ends[keep], splits[keep]
    if len(starts) == 0:
        return None
    strands = np.zeros(len(starts), dtype=np.int8)
    if settings.reverse_complement:  # each window twice, '+' then '-'
        starts, ends, splits = (np.repeat(a, 2) for a in (starts, ends, splits))
        strands = np.tile(np.array([0, 1], dtype=np.int8), len(strands))
    return _table(chrom, starts, ends, strands, splits, schema)


def read_windows_metadata(path: str | os.PathLike) -> dict:
    """Settings and split method stored in a windows.parquet."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(str(path)).metadata or {}
    return json.loads(meta.get(b"dnatune", b"{}"))
