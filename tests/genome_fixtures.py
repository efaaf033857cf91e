"""Small FASTA files for the genome-reading tests: plain, or bgzip with .fai and .gzi."""

from __future__ import annotations

from pathlib import Path

import pysam


def write_fasta(
    path: Path, records: dict[str, str], width: int = 60, final_newline: bool = True
) -> Path:
    """`records` as FASTA with `width` bases a line (headers get a description)."""
    text = "".join(
        f">{name} description\n"
        + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
        for name, seq in records.items()
    )
    path.write_text(text if final_newline else text.rstrip("\n"))
    return path


def write_genome(path: Path, records: dict[str, str], width: int = 60) -> str:
    """A bgzip FASTA with .fai and .gzi at `path`, as the genome rule writes it."""
    plain = write_fasta(path.with_suffix(""), records, width)
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.faidx(str(path))
    return str(path)
