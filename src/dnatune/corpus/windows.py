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
dropped. Both decisions are logged.

Output: windows.parquet with chrom, start, end, strand ('+', and '-' copies with
``reverse_complement``), split ('train', 'val', 'test'), sorted by chromosome order and start.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from dnatune.atomic import atomic_path
from dnatune.genome import kmer
from dnatune.genome.bed import bed_fields, bed_interval, feature_lines
from dnatune.genome.indexed_fasta import IndexedFasta
from dnatune.heap import reuse_freed_memory
from dnatune.settings import WindowSettings

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DROP = -1
_GOLDEN = (math.sqrt(5) - 1) / 2


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


# ---------------------------------------------------------------- split plan


@dataclass
class SplitPlan:
    """How windows get their split: whole chromosomes, or blocks along chromosomes."""

    method: str
    chromosomes: dict[str, int] = field(default_factory=dict)  # chrom -> split code
    block_size: int = 0
    first_block: dict[str, int] = field(default_factory=dict)  # chrom -> global block index
    blocks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))  # codes
    reason: str = ""

    def split_codes(self, chrom: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Split code per window (0 train, 1 val, 2 test, -1 straddles two blocks)."""
        if self.method == "chromosome":
            return np.full(len(starts), self.chromosomes.get(chrom, 0), dtype=np.int8)
        first = self.block_codes(chrom, starts // self.block_size)
        last = self.block_codes(chrom, (ends - 1) // self.block_size)
        return np.where(first == last, first, DROP).astype(np.int8)

    def block_codes(self, chrom: str, block: np.ndarray) -> np.ndarray:
        return self.blocks[self.first_block[chrom] + block]

    def describe(self) -> str:
        if self.method == "chromosome":
            held = {
                SPLITS[code]: sorted(c for c, v in self.chromosomes.items() if v == code)
                for code in (1, 2)
            }
            return f"split by chromosome: val={held['val']} test={held['test']}"
        return f"split by blocks of {self.block_size} bp" + (
            f" ({self.reason})" if self.reason else ""
        )


def plan_split(
    lengths: dict[str, int],
    val: float = 0.05,
    test: float = 0.05,
    by: str = "chromosome",
    block_size: int = 1_000_000,
    window_size: int = 512,
) -> SplitPlan:
    """Decide the train/val/test split of a genome given its chromosome lengths (in order)."""
    total = sum(lengths.values())
    requested = [(code, frac) for code, frac in ((2, test), (1, val)) if frac > 0]
    reason = ""
    if by == "chromosome":
        assigned, reason = _assign_chromosomes(lengths, requested, total)
        if assigned is not None:
            return SplitPlan("chromosome", chromosomes=assigned)
    # blocks: small enough that each held-out split gets several, large against a window
    smallest = min((frac for _, frac in requested), default=1.0)
    wanted_blocks = math.ceil(4 / smallest)
    size = max(min(block_size, total // wanted_blocks), 8 * window_size, 1)
    if size < block_size:
        note = f"block_size {block_size} lowered to {size} to give every split blocks"
        reason = f"{reason}; {note}" if reason else note
    first_block, block_lengths = {}, []
    for chrom, length in lengths.items():
        first_block[chrom] = len(block_lengths)
        n = max(1, math.ceil(length / size))
        block_lengths += [size] * (n - 1) + [length - size * (n - 1)]
    blocks = _assign_blocks(np.array(block_lengths), requested, total, window_size)
    return SplitPlan(
        "block", block_size=size, first_block=first_block, blocks=blocks, reason=reason
    )


def _assign_blocks(
    lengths: np.ndarray, requested: list[tuple[int, float]], total: int, window_size: int
) -> np.ndarray:
    """Held-out blocks, spread along the genome by a low-discrepancy sequence: taken in
    that order until each split has its share of bases, and at least one block that
    holds a window."""
    codes = np.zeros(len(lengths), dtype=np.int8)
    order = np.argsort(((np.arange(len(lengths)) + 1) * _GOLDEN) % 1.0, kind="stable")
    order = [b for b in order.tolist() if lengths[b] >= window_size]
    taken = 0
    for code, frac in requested:
        got = 0
        while taken < len(order) - 1 and (got == 0 or got < frac * total):
            codes[order[taken]] = code
            got += lengths[order[taken]]
            taken += 1
    return codes


def _assign_chromosomes(
    lengths: dict[str, int], requested: list[tuple[int, float]], total: int
) -> tuple[dict[str, int] | None, str]:
    if len(lengths) < len(requested) + 1:
        return None, (
            f"{len(lengths)} chromosome(s) cannot give train and each held-out split one; "
            "falling back to blocks"
        )
    order = sorted(lengths, key=lambda c: (-lengths[c], c))
    assigned: dict[str, int] = {}
    for n, (code, frac) in enumerate(requested):
        need = frac * total
        spare = len(lengths) - len(assigned) - (len(requested) - n)  # keep one per later split
        got = 0
        for chrom in order:
            if spare <= 0:
                break
            if chrom not in assigned and got + lengths[chrom] <= need:
                assigned[chrom] = code
                got += lengths[chrom]
                spare -= 1
        if got == 0:
            chrom = min((c for c in order if c not in assigned), key=lambda c: (lengths[c], c))
            assigned[chrom] = code
            got = lengths[chrom]
        if got > max(2 * need, need + 0.01 * total):
            return None, (
                f"the smallest chromosome for {SPLITS[code]} holds {got / total:.1%} of the "
                f"genome, over twice the {frac:.1%} asked for; falling back to blocks"
            )
    return assigned, ""


# ---------------------------------------------------------------- BED intervals


def read_bed(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Merged, sorted intervals per chromosome of a BED file (plain or gzip)."""
    raw: dict[str, list[tuple[int, int]]] = {}
    for number, line in feature_lines(path, str(path), WindowsError):
        where = f"{path} line {number}"
        fields = bed_fields(line, where, WindowsError)
        raw.setdefault(fields[0], []).append(bed_interval(fields, where, WindowsError))
    merged = {}
    for chrom, intervals in raw.items():
        intervals.sort()
        starts, ends = [], []
        for start, end in intervals:
            if starts and start <= ends[-1]:
                ends[-1] = max(ends[-1], end)
            else:
                starts.append(start)
                ends.append(end)
        merged[chrom] = (np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64))
    return merged


def inside(intervals, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Windows that lie entirely within one merged interval."""
    if intervals is None:
        return np.zeros(len(starts), dtype=bool)
    istarts, iends = intervals
    idx = np.searchsorted(istarts, starts, side="right") - 1
    ok = idx >= 0
    return ok & (iends[np.maximum(idx, 0)] >= ends)


def overlapping(intervals, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Windows that overlap any merged interval."""
    if intervals is None:
        return np.zeros(len(starts), dtype=bool)
    istarts, iends = intervals
    idx = np.searchsorted(istarts, ends, side="left") - 1
    ok = idx >= 0
    return ok & (iends[np.maximum(idx, 0)] > starts)


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
    split_cfg = settings.split
    include = read_bed(settings.include_bed) if settings.include_bed else None
    exclude = read_bed(settings.exclude_bed) if settings.exclude_bed else None

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

    plan = plan_split(
        lengths,
        val=split_cfg["val"],
        test=split_cfg["test"],
        by=split_cfg["by"],
        block_size=split_cfg["block_size"],
        window_size=settings.size,
    )
    logger.info(
        "%s: %d contigs, %d bp; %s", genome_fa, len(lengths), sum(lengths.values()), plan.describe()
    )
    metadata = {"settings": asdict(settings), "split": plan.describe(), "method": plan.method}
    schema = _schema(metadata)

    counts: Counter = Counter()
    per_split: Counter = Counter()
    short = 0
    window_chunk = max(1, chunk_bases // settings.stride)
    with atomic_path(out_path) as tmp, pq.ParquetWriter(str(tmp), schema) as writer:
        for chrom, length in lengths.items():
            starts_all = window_starts(length, settings.size, settings.stride)
            short += len(starts_all) == 0
            for lo in range(0, len(starts_all), window_chunk):
                starts = starts_all[lo : lo + window_chunk]
                last = lo + window_chunk >= len(starts_all)
                table = _chunk_windows(
                    fasta, chrom, starts, last, settings, plan, include, exclude, counts, schema
                )
                if table is not None:
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
