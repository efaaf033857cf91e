"""Merged BED intervals per chromosome, and which windows lie inside or overlap them."""

from __future__ import annotations

import os

import numpy as np

from dnatune.genome.bed import bed_fields, bed_interval, feature_lines


def read_bed(
    path: str | os.PathLike, error: type[Exception]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Merged, sorted intervals per chromosome of a BED file (plain or gzip); a bad line
    raises `error` naming the file and line."""
    raw: dict[str, list[tuple[int, int]]] = {}
    for number, line in feature_lines(path, str(path), error):
        where = f"{path} line {number}"
        fields = bed_fields(line, where, error)
        raw.setdefault(fields[0], []).append(bed_interval(fields, where, error))
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
