"""Sequences cut from the bgzip genome (GENOME_FA) for tasks, with pysam: upper-cased and
reverse-complemented on the minus strand; their GC and N fractions, `chrom:start-end` ids,
and merged intervals to test windows against."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam

from dnatune.genome.kmer import reverse_complement_text
from dnatune.tasks.sources import TaskInputError


def fetch(fasta: pysam.FastaFile, chrom: str, start: int, end: int, strand: str) -> str:
    sequence = fasta.fetch(chrom, int(start), int(end)).upper()
    return reverse_complement_text(sequence) if strand == "-" else sequence


def gc_fraction(sequence: str) -> float:
    acgt = sum(sequence.count(base) for base in "ACGT")
    return (sequence.count("G") + sequence.count("C")) / acgt if acgt else 0.0


def n_fraction(sequence: str) -> float:
    return sequence.count("N") / len(sequence) if sequence else 1.0


def cut_sequences(
    frame: pd.DataFrame,
    genome_fa: str,
    genome: str | None = None,
    contigs: dict[str, str] | None = None,
    note: str = "",
) -> list[str]:
    """The sequence of every row (chrom, start, end, strand; 0-based, end exclusive).

    `contigs` maps a name used in the file to the genome's contig name (for suites whose
    files rename the contigs); errors name the row's `_where`, the genome and the fix.
    """
    named = f"genome '{genome}'" if genome else "genome"
    contigs = contigs or {}
    sequences = []
    with pysam.FastaFile(genome_fa) as fasta:
        lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
        columns = ["chrom", "start", "end", "strand", "_where"]
        for chrom, start, end, strand, where in frame[columns].itertuples(index=False):
            contig = contigs.get(chrom, chrom)
            if contig not in lengths:
                shown = ", ".join(list(lengths)[:5])
                raise TaskInputError(
                    f"{where}: chromosome {chrom!r} is not in the {named} ({genome_fa}; "
                    f"contigs: {shown}{', ...' if len(lengths) > 5 else ''}). "
                    "Fix: use the genome's contig names (for example 'chr1' versus '1'), "
                    "or point the task at the genome these coordinates belong to"
                )
            if start < 0 or end > lengths[contig]:
                raise TaskInputError(
                    f"{where}: interval {chrom}:{start}-{end} lies outside the "
                    f"chromosome (length {lengths[contig]} in the {named}){note}. "
                    "Fix: check that the coordinates belong to this genome assembly"
                )
            sequences.append(fetch(fasta, contig, start, end, strand))
    return sequences


def merge_intervals(chroms, starts, ends) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Merge intervals per chromosome into sorted disjoint (starts, ends)."""
    merged = {}
    frame = pd.DataFrame({"c": chroms, "s": starts, "e": ends}).sort_values(["c", "s"])
    for chrom, group in frame.groupby("c", sort=False):
        s, e = group["s"].to_numpy(), group["e"].to_numpy()
        running_end = np.maximum.accumulate(e)
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] >= running_end[:-1]
        merged[chrom] = (s[new], np.maximum.reduceat(e, np.flatnonzero(new)))
    return merged


def overlaps(merged, chroms, starts, ends) -> np.ndarray:
    """For each query interval, whether it overlaps any merged interval."""
    chroms, starts, ends = np.asarray(chroms), np.asarray(starts), np.asarray(ends)
    hit = np.zeros(len(chroms), dtype=bool)
    for chrom in np.unique(chroms):
        if chrom not in merged:
            continue
        mask = chroms == chrom
        s, e = merged[chrom]
        i = np.searchsorted(s, ends[mask], side="left") - 1
        hit[mask] = (i >= 0) & (e[np.maximum(i, 0)] > starts[mask])
    return hit


def coordinates(frame: pd.DataFrame) -> pd.Series:
    """`chrom:start-end` of each row (0-based, end exclusive)."""
    return (
        frame["chrom"].astype(str)
        + ":"
        + frame["start"].astype(str)
        + "-"
        + frame["end"].astype(str)
    )
