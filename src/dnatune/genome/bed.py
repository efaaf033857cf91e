"""Feature-file lines and BED intervals, shared by the annotation table, the windows'
include/exclude filters and BED-sourced tasks.

Each caller passes its own error class, so that its errors stay its own; messages name the
file and the line.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator

from dnatune.compressed import InputFormatError, open_input

SKIPPED_PREFIXES = ("#", "track", "browser")


def feature_lines(
    src: str | os.PathLike, display: str, error: type[Exception]
) -> Iterator[tuple[int, str]]:
    """(line number, text) of the lines that carry features, from a plain, gzip or bgzip file.

    Blank, comment, track and browser lines are skipped; a GFF3 ##FASTA section ends the
    features.
    """
    try:
        handle = open_input(src, display)
    except InputFormatError as err:
        raise error(str(err)) from None
    lineno = 0
    with handle:
        try:
            for lineno, raw in enumerate(handle, 1):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if line.startswith("##FASTA"):
                    return
                if not line.strip() or line.startswith(SKIPPED_PREFIXES):
                    continue
                yield lineno, line
        except (EOFError, zlib.error, OSError) as err:
            raise error(
                f"{display}: compressed data is corrupt or truncated after line {lineno} "
                f"({err}); download or copy the file again"
            ) from None


def bed_fields(line: str, where: str, error: type[Exception]) -> list[str]:
    """Tab-separated fields (whitespace-separated when a line has no tab), at least three."""
    fields = line.split("\t") if "\t" in line else line.split()
    if len(fields) < 3:
        raise error(
            f"{where}: BED needs at least 3 columns (chrom, start, end), found {len(fields)}; "
            "fix the line"
        )
    return fields


def bed_interval(
    fields: list[str], where: str, error: type[Exception], allow_empty: bool = True
) -> tuple[int, int]:
    """(start, end) of a BED line: integers, 0-based, end exclusive."""
    try:
        start, end = int(fields[1]), int(fields[2])
    except ValueError:
        raise error(
            f"{where}: start/end must be integers, got {fields[1]!r}, {fields[2]!r} "
            "(BED is tab-separated: chrom, start, end, name, score, strand); fix the line"
        ) from None
    if start < 0 or end < start or (end == start and not allow_empty):
        need = "0 <= start <= end" if allow_empty else "0 <= start < end"
        raise error(
            f"{where}: interval {start}-{end} is empty or negative; BED needs {need} "
            "(0-based, end exclusive); fix the line"
        )
    return start, end
