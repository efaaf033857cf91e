"""Sliding windows over a contig and the exact centre-keeping stitch.

Windows of `window` bases start every `stride` bases (stride <= window, so they overlap),
the last one aligned to the contig's end; a contig shorter than a window is one window.
Each base takes its score from the window whose centre is nearest (ties to the earlier):
the boundary between windows i and i+1 is the midpoint of their centres. With a regular
stride every window keeps its central `stride` bases; the first keeps from the contig's
start and the last to its end, so every base is scored by exactly one window, and always
from inside that window. A region or chunk takes the windows whose kept part meets it,
clipped to it: a base gets the same score whichever region or chunk it is scored in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tiles:
    """Windows [start, start + width) and the part [keep_start, keep_end) each one scores."""

    start: np.ndarray
    width: int
    keep_start: np.ndarray
    keep_end: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def window_starts(length: int, window: int, stride: int) -> np.ndarray:
    if not 1 <= stride <= window:
        raise ValueError(f"stride {stride} must be between 1 and the window ({window})")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, stride, dtype=np.int64)
    if starts[-1] + window < length:
        starts = np.append(starts, length - window)
    return starts


def contig_tiles(length: int, window: int, stride: int) -> Tiles:
    """Every window of a contig with the part of it each one keeps."""
    starts = window_starts(length, window, stride)
    width = min(window, length)
    # first base nearer the next centre than this one (a base at equal distance stays here)
    bounds = (starts[:-1] + starts[1:] + width + 1) // 2
    keep_start = np.concatenate([[0], bounds]).astype(np.int64)
    keep_end = np.concatenate([bounds, [length]]).astype(np.int64)
    return Tiles(starts, width, keep_start, keep_end)


def region_tiles(length: int, window: int, stride: int, start: int, end: int) -> Tiles:
    """The windows whose kept part meets [start, end), their kept parts clipped to it.

    The same windows as `contig_tiles` selects, computed for the region's index range only,
    so that memory follows the region, not the contig.
    """
    n_regular = (length - window) // stride + 1 if length > window else 1
    n = n_regular + int(length > window and (n_regular - 1) * stride + window < length)
    width = min(window, length)
    # window i keeps a part of [i * stride, i * stride + width): windows before `first` end
    # before `start`, windows from `last` on begin at or after `end`
    first = max(0, (start - width) // stride - 1)
    last = min(n, end // stride + 2)
    index = np.arange(first, last)
    starts = np.where(index < n_regular, index * stride, length - width).astype(np.int64)
    bounds = (starts[:-1] + starts[1:] + width + 1) // 2
    keep_start = np.concatenate([[0 if first == 0 else starts[0]], bounds]).astype(np.int64)
    keep_end = np.concatenate([bounds, [length if last == n else starts[-1] + width]])
    picked = (keep_end > start) & (keep_start < end)
    return Tiles(
        starts[picked],
        width,
        np.maximum(keep_start[picked], start),
        np.minimum(keep_end[picked].astype(np.int64), end),
    )
