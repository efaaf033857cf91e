"""Open an input file for reading, plain or gzip/bgzip, decided by its magic bytes.

The suffix is not trusted: a gzip file without `.gz` is read as gzip, and a
file named `.gz` that is not gzip (a mislabelled plain file, an HTML error page
saved by a download, a truncated transfer) is an error naming the file.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
GZ_SUFFIXES = (".gz", ".bgz", ".gzip")
# compressions we recognise but do not read, so the error can say what the file is
OTHER_MAGIC = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip",
}


class InputFormatError(ValueError):
    """An input file that cannot be read as given; the message names the file and the fix."""


def compression(path: str | os.PathLike) -> str:
    """'bgzip', 'gzip', 'plain', or the name of an unsupported compression."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] == GZIP_MAGIC:
        # bgzip: gzip with the FEXTRA flag and a 'BC' extra subfield
        return "bgzip" if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC" else "gzip"
    for magic, kind in OTHER_MAGIC.items():
        if head.startswith(magic):
            return kind
    return "plain"


def open_input(path: str | os.PathLike, display: str | None = None) -> BinaryIO:
    """Open `path` for binary reading, decompressing gzip and bgzip transparently.

    `display` is the name used in error messages and for the suffix check
    (for a download: its URL); it defaults to the path.
    """
    display = display or str(path)
    if not Path(path).is_file():
        raise InputFormatError(f"{display}: no such file; check the path in the config")
    kind = compression(path)
    if kind in ("gzip", "bgzip"):
        # GzipFile.readline runs Python code per line; a BufferedReader on top splits lines in
        # C, which reads a FASTA's lines about 2x faster.
        return io.BufferedReader(gzip.open(path, "rb"), buffer_size=1 << 20)
    if kind != "plain":
        raise InputFormatError(
            f"{display} is {kind}-compressed; only plain, gzip or bgzip files are read: "
            f"decompress it, or recompress it with bgzip"
        )
    if display.lower().endswith(GZ_SUFFIXES):
        with open(path, "rb") as handle:
            head = handle.read(32)
        raise InputFormatError(
            f"{display} is named like a gzip file but is not gzip-compressed "
            f"(it starts with {head!r}): if it is a plain file, remove the '.gz' suffix or "
            f"compress it with bgzip; if it was downloaded, the server may have sent an "
            f"error page instead"
        )
    return open(path, "rb")
