"""VCF/BCF records -> one row per ALT allele, checked against the genome, with its windows.

Reading is pysam's (VCF, bgzipped VCF or BCF). Each record is split per ALT (as `bcftools norm
-m-` does); each allele gets the reference window of `window` bp centred on it and the
alternative window built by substituting ALT for REF in it, so indels need no special case.
A window that would run past a contig end is clipped there and marked `clipped`.

A record on a contig the genome lacks, or a malformed one, is an error naming the file and the
record. A REF that differs from the genome is an error too, or with ``ref_mismatch: flag`` a row
with status `ref_mismatch` and no windows, which the scorers skip. Symbolic alleles (``<DEL>``,
``*``, breakends) cannot be spelled out as sequence: they get status `symbolic`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

REF_MISMATCH_MODES = ("error", "flag")
PLAIN_ALLELE = re.compile(r"^[ACGTNacgtn]+$")
STATUSES = ("ok", "ref_mismatch", "symbolic")


class VariantInputError(ValueError):
    """A VCF that cannot be scored against the genome; the message names the file and record."""


@dataclass(frozen=True)
class Allele:
    """One ALT of one record, with the windows scored for it (empty unless status is ok)."""

    record: int  # 0-based index of the record in the file
    chrom: str
    pos: int  # 1-based, as in the VCF
    id: str
    ref: str
    alt: str
    alt_index: int  # 1-based among the record's ALTs
    kind: str  # snv, mnv, insertion, deletion or complex
    status: str
    window_start: int  # 0-based genome coordinate of the reference window's first base
    clipped: bool
    variant_offset: int  # REF's first base within the windows
    ref_window: str
    alt_window: str
    truth: bool | None  # the record's `truth` INFO flag, where one is named
    group: str | None  # the record's `group` INFO value, where one is named


def allele_kind(ref: str, alt: str) -> str:
    if len(ref) == len(alt):
        return "snv" if len(ref) == 1 else "mnv"
    if len(ref) == 1 and alt[0] == ref[0]:
        return "insertion"
    if len(alt) == 1 and ref[0] == alt[0]:
        return "deletion"
    return "complex"


def centred_window(pos0: int, ref_len: int, window: int, contig_length: int) -> tuple[int, int]:
    """[start, end) of `window` bp centred on REF (pos0, ref_len), clipped to the contig."""
    centre = pos0 + ref_len // 2
    start = centre - window // 2
    return max(0, start), min(contig_length, start + window)


def read_alleles(
    vcf_path: str | Path,
    fasta_path: str | Path,
    window: int,
    ref_mismatch: str = "error",
    truth: str | None = None,
    group: str | None = None,
) -> pd.DataFrame:
    """Every ALT allele of `vcf_path` as a row of `Allele` fields, checked against the genome.

    `truth` names an INFO flag (the planted VCF's BROKEN) copied into the `truth` column,
    `group` an INFO field (its ELEMENT) copied into the `group` column.
    """
    import pysam

    if ref_mismatch not in REF_MISMATCH_MODES:
        raise VariantInputError(
            f"key 'apply.variants.ref_mismatch': {ref_mismatch!r} is not one of "
            f"{', '.join(REF_MISMATCH_MODES)}"
        )
    with pysam.FastaFile(str(fasta_path)) as fasta:
        lengths = dict(zip(fasta.references, fasta.lengths, strict=True))
        rows = [
            asdict(allele)
            for allele in _alleles(
                vcf_path, fasta, lengths, window, ref_mismatch == "flag", truth, group
            )
        ]
    frame = pd.DataFrame(rows, columns=list(Allele.__dataclass_fields__))
    logger.info(
        "%s: %d alleles of %d records (%s)",
        vcf_path,
        len(frame),
        frame["record"].nunique(),
        ", ".join(f"{k} {v}" for k, v in frame["status"].value_counts().items()),
    )
    return frame


def _alleles(vcf_path, fasta, lengths: dict[str, int], window: int, flag: bool, truth, group):
    for index, record in enumerate(_records(vcf_path, [truth, group])):
        where = f"{vcf_path}: record {index + 1} ({record.chrom}:{record.pos})"
        if record.chrom not in lengths:
            raise VariantInputError(
                f"{where} is on contig '{record.chrom}', which the genome {fasta.filename.decode()} "
                f"lacks; its contigs are {', '.join(lengths)}. Rename the VCF's contigs "
                "(bcftools annotate --rename-chrs) or choose the genome it was called on"
            )
        if not record.alts:
            continue  # a monomorphic site: nothing to score
        ref = record.ref.upper()
        pos0 = record.pos - 1
        if pos0 + len(ref) > lengths[record.chrom]:
            raise VariantInputError(
                f"{where}: REF {ref} runs past the end of {record.chrom} "
                f"({lengths[record.chrom]} bp); the record does not belong to this genome"
            )
        genome_ref = fasta.fetch(record.chrom, pos0, pos0 + len(ref)).upper()
        mismatch = genome_ref != ref
        if mismatch and not flag:
            raise VariantInputError(
                f"{where}: REF {ref} but the genome has {genome_ref} there; fix the VCF, choose "
                "the genome it was called on, or set apply.variants.ref_mismatch: flag to score "
                "the other records and flag this one"
            )
        start, end = centred_window(pos0, len(ref), window, lengths[record.chrom])
        site = _Site(
            index=index,
            record=record,
            ref=ref,
            start=start,
            clipped=end - start < window,
            context=None if mismatch else fasta.fetch(record.chrom, start, end).upper(),
            truth=bool(record.info.get(truth, False)) if truth else None,
            group=str(record.info.get(group)) if group else None,
        )
        for alt_index, alt in enumerate(record.alts, start=1):
            yield _allele(site, alt, alt_index)


@dataclass(frozen=True)
class _Site:
    """What a record's alleles share: its reference window (None on a REF mismatch)."""

    index: int
    record: object
    ref: str
    start: int
    clipped: bool
    context: str | None
    truth: bool | None
    group: str | None


def _allele(site: _Site, alt: str, alt_index: int) -> Allele:
    symbolic = not PLAIN_ALLELE.match(alt)
    mismatch = site.context is None
    record, ref, start, context = site.record, site.ref, site.start, site.context
    status = "ref_mismatch" if mismatch else "symbolic" if symbolic else "ok"
    offset = record.pos - 1 - start
    ref_window = alt_window = ""
    if status == "ok":
        alt = alt.upper()
        ref_window = context
        alt_window = context[:offset] + alt + context[offset + len(ref) :]
    return Allele(
        record=site.index,
        chrom=record.chrom,
        pos=record.pos,
        id=record.id or ".",
        ref=ref,
        alt=alt,
        alt_index=alt_index,
        kind="symbolic" if symbolic else allele_kind(ref, alt.upper()),
        status=status,
        window_start=start,
        clipped=site.clipped,
        variant_offset=offset,
        ref_window=ref_window,
        alt_window=alt_window,
        truth=site.truth,
        group=site.group,
    )


def _records(vcf_path, info_keys=()):
    """pysam's records, with a malformed one reported by its number and the fix."""
    import pysam

    try:
        vcf = pysam.VariantFile(str(vcf_path))
    except (OSError, ValueError) as err:
        raise VariantInputError(
            f"{vcf_path} cannot be read as VCF or BCF ({err}); check the file and its header"
        ) from None
    with vcf:
        for key in filter(None, info_keys):
            if vcf.header.info.get(key) is None:
                raise VariantInputError(
                    f"{vcf_path}: apply.variants names INFO '{key}', which its header does "
                    f"not define; its INFO fields are {', '.join(vcf.header.info) or 'none'}"
                )
        index, last = 0, None
        while True:
            try:
                record = next(vcf)
            except StopIteration:
                return
            except (OSError, ValueError) as err:
                after = f", the one after {last}" if last else ""
                raise VariantInputError(
                    f"{vcf_path}: record {index + 1}{after}, cannot be parsed (pysam: {err}; "
                    "htslib's reason is logged just before); fix or remove that line"
                ) from None
            index += 1
            last = f"{record.chrom}:{record.pos}"
            yield record
