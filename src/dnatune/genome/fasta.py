"""Streaming FASTA reader and normaliser.

Reads plain, gzip or bgzip FASTA (by magic bytes), with LF or CRLF line
endings, one block of about a megabase at a time, so memory does not grow with
the chromosome. Normalisation keeps the case (lower case = soft-masked repeat)
and replaces every base outside ACGTNacgtn (IUPAC ambiguity codes, U, '-') by
N or n, counting the replacements. Anything that is not a nucleotide FASTA is
an error naming the file and the line.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dnatune.compressed import InputFormatError, open_input

logger = logging.getLogger(__name__)

BLOCK_SIZE = 1 << 20
LINE_WIDTH = 60

_UPPER_CODES = b"ACGTNRYSWKMBDHVU"
ALLOWED = _UPPER_CODES + _UPPER_CODES.lower() + b"-"
_TO_N = bytes.maketrans(b"RYSWKMBDHVU" + b"ryswkmbdhvu" + b"-", b"N" * 11 + b"n" * 11 + b"N")


class FastaError(InputFormatError):
    """A FASTA problem; the message names the file, the line and the fix."""


@dataclass
class ContigStats:
    name: str
    length: int = 0
    n_count: int = 0
    gc_count: int = 0
    softmasked: int = 0
    iupac_replaced: int = 0
    header_line: int = 0

    def add(self, block: bytes, replaced: int) -> None:
        """Count a normalised block (only ACGTNacgtn left in it)."""
        self.length += len(block)
        self.n_count += block.count(b"N") + block.count(b"n")
        self.gc_count += sum(block.count(c) for c in (b"G", b"C", b"g", b"c"))
        self.softmasked += len(block) - len(block.translate(None, b"acgtn"))
        self.iupac_replaced += replaced


@dataclass
class FastaStats:
    contigs: list[ContigStats] = field(default_factory=list)

    @property
    def length(self) -> int:
        return sum(c.length for c in self.contigs)

    @property
    def n_count(self) -> int:
        return sum(c.n_count for c in self.contigs)

    @property
    def iupac_replaced(self) -> int:
        return sum(c.iupac_replaced for c in self.contigs)

    @property
    def gc_fraction(self) -> float:
        """G+C over called bases (A, C, G, T of either case); 0 when all is N."""
        called = self.length - self.n_count
        return sum(c.gc_count for c in self.contigs) / called if called else 0.0

    @property
    def softmasked_fraction(self) -> float:
        return sum(c.softmasked for c in self.contigs) / self.length if self.length else 0.0


# An event stream keeps one reader for both writing and collecting sequences:
# ("header", stats, header_bytes), ("block", stats, normalised_bytes), ("end", stats, b"").
Event = tuple[str, ContigStats, bytes]


def _events(src: str | os.PathLike, display: str, block_size: int) -> Iterator[Event]:
    seen: dict[str, int] = {}
    contig: ContigStats | None = None
    lines: list[bytes] = []
    pending = 0
    first_line = 0
    lineno = 0
    try:
        handle = open_input(src, display)
    except InputFormatError as err:
        raise FastaError(str(err)) from None
    with handle:
        try:
            for lineno, raw in enumerate(handle, 1):
                if raw[:1] == b">":
                    if contig is not None:
                        yield from _finish(contig, lines, first_line, display)
                        lines, pending = [], 0
                    header = raw[1:].strip()
                    contig = ContigStats(_contig_name(header, display, lineno), header_line=lineno)
                    if contig.name in seen:
                        raise FastaError(
                            f"{display} line {lineno}: contig name '{contig.name}' is already "
                            f"used on line {seen[contig.name]}; contig names must be unique, "
                            f"rename or remove one of them"
                        )
                    seen[contig.name] = lineno
                    yield ("header", contig, header)
                elif contig is None:
                    if raw.strip():
                        raise FastaError(
                            f"{display} line {lineno}: expected a FASTA header starting with "
                            f"'>', found {raw[:40]!r}; this is not a FASTA file (GenBank, GFF, "
                            f"FASTQ or an HTML error page?): point the config at the FASTA"
                        )
                else:
                    if not lines:
                        first_line = lineno
                    line = raw.rstrip()  # drops \n, \r\n and trailing blanks
                    lines.append(line)
                    pending += len(line)
                    if pending >= block_size:
                        yield ("block", contig, _normalise(contig, lines, first_line, display))
                        lines, pending = [], 0
        except (EOFError, zlib.error, OSError) as err:
            raise FastaError(
                f"{display}: compressed data is corrupt or truncated after line {lineno} "
                f"({err}); download or copy the file again"
            ) from None
    if contig is None:
        raise FastaError(
            f"{display} is empty: it holds no FASTA record; check the path, or the download"
        )
    yield from _finish(contig, lines, first_line, display)


def _contig_name(header: bytes, display: str, lineno: int) -> str:
    parts = header.split(None, 1)
    if not parts:
        raise FastaError(
            f"{display} line {lineno}: header '>' has no sequence name; write one after '>'"
        )
    try:
        return parts[0].decode("ascii")
    except UnicodeDecodeError:
        raise FastaError(
            f"{display} line {lineno}: sequence name {parts[0]!r} is not ASCII; rename it"
        ) from None


def _finish(contig: ContigStats, lines: list[bytes], first_line: int, display: str):
    if lines:
        yield ("block", contig, _normalise(contig, lines, first_line, display))
    if contig.length == 0:
        raise FastaError(
            f"{display} line {contig.header_line}: record '{contig.name}' has no sequence; "
            f"remove its header or add its sequence"
        )
    yield ("end", contig, b"")


def _normalise(contig: ContigStats, lines: list[bytes], first_line: int, display: str) -> bytes:
    block = b"".join(lines)
    if block.translate(None, ALLOWED):
        _raise_bad_character(lines, first_line, display)
    fixed = block.translate(_TO_N)
    replaced = len(block.translate(None, b"ACGTNacgtn"))
    contig.add(fixed, replaced)
    return fixed


def _raise_bad_character(lines: list[bytes], first_line: int, display: str) -> None:
    for offset, line in enumerate(lines):
        bad = line.translate(None, ALLOWED)
        if bad:
            column = line.index(bad[:1]) + 1
            raise FastaError(
                f"{display} line {first_line + offset} column {column}: {chr(bad[0])!r} is not "
                f"a nucleotide code (allowed: ACGTN, IUPAC codes RYSWKMBDHV, U, '-', either "
                f"case); is this a protein FASTA or a damaged file? Use the nucleotide FASTA"
            )


def _log_replacements(stats: FastaStats, display: str) -> None:
    if stats.iupac_replaced:
        per_contig = ", ".join(
            f"{c.name}: {c.iupac_replaced}" for c in stats.contigs if c.iupac_replaced
        )
        logger.warning(
            "%s: replaced %d IUPAC/non-ACGT bases by N (%s)",
            display,
            stats.iupac_replaced,
            per_contig,
        )


def normalise_fasta(
    src: str | os.PathLike,
    write: Callable[[bytes], object],
    *,
    display: str | None = None,
    line_width: int = LINE_WIDTH,
    block_size: int = BLOCK_SIZE,
) -> FastaStats:
    """Stream `src` into `write` as normalised FASTA with `line_width` bases per line.

    Headers are written as `>name description`; sequences keep their case with
    non-ACGTN bases replaced by N/n. Returns per-contig statistics.
    """
    display = display or str(src)
    stats = FastaStats()
    carry = b""
    for kind, contig, data in _events(src, display, block_size):
        if kind == "header":
            write(b">" + b" ".join(data.split(None, 1)) + b"\n")
        elif kind == "block":
            data = carry + data
            full = len(data) - len(data) % line_width
            if full:
                write(
                    b"\n".join(data[i : i + line_width] for i in range(0, full, line_width)) + b"\n"
                )
            carry = data[full:]
        else:
            if carry:
                write(carry + b"\n")
            carry = b""
            stats.contigs.append(contig)
    _log_replacements(stats, display)
    logger.info(
        "%s: %d contigs, %d bp, %d N, GC %.3f, soft-masked %.3f",
        display,
        len(stats.contigs),
        stats.length,
        stats.n_count,
        stats.gc_fraction,
        stats.softmasked_fraction,
    )
    return stats


def read_fasta(
    src: str | os.PathLike, *, display: str | None = None, block_size: int = BLOCK_SIZE
) -> Iterator[tuple[str, str]]:
    """Yield (name, normalised sequence) one record at a time, with the same checks.

    Each record is held once in memory as a str; use `normalise_fasta` or
    pysam on the normalised genome for chromosome-scale streaming.
    """
    display = display or str(src)
    blocks: list[bytes] = []
    stats = FastaStats()
    for kind, contig, data in _events(src, display, block_size):
        if kind == "block":
            blocks.append(data)
        elif kind == "end":
            stats.contigs.append(contig)
            sequence = b"".join(blocks).decode("ascii")
            blocks = []
            yield contig.name, sequence
    _log_replacements(stats, display)
