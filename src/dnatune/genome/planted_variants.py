"""A VCF of variants with known effect on the synthetic genome, to validate variant scores.

From the simulated genome and its annotation (simulate.py plants every element and annotates
it), variants that break a planted element, flagged BROKEN:

- TATA_box: one of the four TATA bases (each 0.91 likely in the PWM) changed;
- Inr: the A on the transcription start site (always A) changed;
- start_codon / stop_codon: a base of the ATG, or a stop codon turned into a sense codon;
- frameshift: a 1-bp insertion or deletion inside a coding exon;
- TF_site: the most conserved base of an enhancer's or a promoter's TF binding site (GC box)
  changed to the base its PWM gives the least weight (isolated decoy sites are left alone);

and, for each, a matched background variant (ELEMENT names the type it is matched to, FEATURE
says background): same kind (SNV, insertion, deletion), same REF and ALT bases, at a random position at least `margin` bp from any annotated feature (no gene,
promoter, enhancer, repeat or gap), where nothing constrains the sequence. Element types take
turns, so each is equally represented. Same genome and seed -> the same VCF.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from dnatune.atomic import atomic_path
from dnatune.genome.simulate import grammar

logger = logging.getLogger(__name__)

ELEMENTS = ("TATA_box", "Inr", "start_codon", "stop_codon", "frameshift", "TF_site")
TRUTH_FLAG = "BROKEN"
GROUP_INFO = "ELEMENT"  # the element type, of a breaking variant and of its matched background
BACKGROUND = "background"
SALT = 1_404  # separates this stream of random numbers from the genome's own
STOPS = {"TAA", "TAG", "TGA"}
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _attribute(attributes: str, key: str) -> str:
    for part in attributes.split(";"):
        name, _, value = part.partition("=")
        if name == key:
            return value
    return ""


def _to_genome(start: int, end: int, strand: str, offset: int) -> int:
    """0-based genome position of `offset` in transcription (or motif) orientation."""
    return start + offset if strand != "-" else end - 1 - offset


def _oriented(base: str, strand: str) -> str:
    return base.translate(COMPLEMENT) if strand == "-" else base


class _Planter:
    """Candidate breaking variants of each element type, as (chrom, pos0, ref, alt, element, id)."""

    def __init__(self, annotation: pd.DataFrame, genome: dict[str, str], rng):
        self.annotation, self.genome, self.rng = annotation, genome, rng

    def base(self, chrom: str, pos0: int) -> str:
        return self.genome[chrom][pos0].upper()

    def snv(self, feature, offset: int, alt_tx: str | None = None) -> tuple:
        """Change the base at `offset` (transcription orientation) to alt_tx, or a random other."""
        pos0 = _to_genome(feature.start, feature.end, feature.strand, offset)
        ref = self.base(feature.seqid, pos0)
        if alt_tx is None:
            alt = self.rng.choice([b for b in "ACGT" if b != ref])
        else:
            alt = _oriented(alt_tx, feature.strand)
        return feature.seqid, pos0, ref, str(alt)

    def of_type(self, ftype: str):
        return self.annotation[self.annotation["type"] == ftype].itertuples()

    def tata(self):
        for f in self.of_type("TATA_box"):
            yield (*self.snv(f, int(self.rng.integers(4))), "TATA_box", f.attributes)

    def inr(self):
        for f in self.of_type("Inr"):
            yield (*self.snv(f, 2), "Inr", f.attributes)

    def codons(self):
        cds = self.annotation[self.annotation["type"] == "CDS"]
        for cds_id, parts in cds.groupby(cds["attributes"].map(lambda a: _attribute(a, "ID"))):
            parts = parts.sort_values("start")
            first, last = (parts.iloc[0], parts.iloc[-1])
            if first.strand == "-":
                first, last = last, first
            yield (*self.snv(first, int(self.rng.integers(3))), "start_codon", cds_id)
            yield (*self._unstop(last), "stop_codon", cds_id)
            yield (
                *self._frameshift(parts.iloc[int(self.rng.integers(len(parts)))]),
                "frameshift",
                cds_id,
            )

    def _unstop(self, last) -> tuple:
        """A stop codon (the CDS part's last 3 bases) turned into a sense codon."""
        codon = "".join(
            _oriented(
                self.base(last.seqid, _to_genome(last.start, last.end, last.strand, o)), last.strand
            )
            for o in (
                last.end - last.start - 3,
                last.end - last.start - 2,
                last.end - last.start - 1,
            )
        )
        options = [
            (i, b)
            for i in range(3)
            for b in "ACGT"
            if codon[:i] + b + codon[i + 1 :] not in STOPS and b != codon[i]
        ]
        i, b = options[int(self.rng.integers(len(options)))]
        return self.snv(last, last.end - last.start - 3 + i, b)

    def _frameshift(self, part) -> tuple:
        """A 1-bp deletion or insertion at least 10 bp inside a coding exon (VCF anchor base)."""
        pos0 = int(self.rng.integers(part.start + 10, part.end - 10))
        anchor = self.base(part.seqid, pos0)
        if self.rng.random() < 0.5:
            return part.seqid, pos0, anchor + self.base(part.seqid, pos0 + 1), anchor
        return part.seqid, pos0, anchor, anchor + str(self.rng.choice(list("ACGT")))

    def tf_sites(self):
        pwms = {m.name: m for ms in grammar().enhancer_classes.values() for m in ms}
        pwms[grammar().gc_box.name] = grammar().gc_box
        for f in self.of_type("TF_binding_site"):
            motif = _attribute(f.attributes, "motif")
            if _attribute(f.attributes, "isolated") == "true" or motif not in pwms:
                continue
            probs = pwms[motif].probs
            offset = int(probs.max(axis=1).argmax())
            weakest = "ACGT"[int(probs[offset].argmin())]
            yield (*self.snv(f, offset, weakest), "TF_site", f"{motif}:{f.seqid}:{f.start + 1}")


def _balanced(candidates: dict[str, list], per_element: int, rng, taken: set) -> list[tuple]:
    """Up to `per_element` variants of each element type, drawn at random, one per position."""
    chosen = []
    for element in ELEMENTS:
        pool = candidates[element]
        kept = [pool[i] for i in rng.permutation(len(pool))]
        kept = [v for v in kept if (v[0], v[1]) not in taken][:per_element]
        taken.update((v[0], v[1]) for v in kept)
        chosen += kept
    return chosen


def _free_positions(annotation: pd.DataFrame, genome: dict[str, str], margin: int) -> dict:
    """{base: (chromosome names, 0-based positions)} of bases `margin` bp from every feature."""
    found: dict[str, list] = {b: [] for b in "ACGT"}
    for chrom, sequence in genome.items():
        allowed = np.ones(len(sequence), dtype=bool)
        allowed[:margin] = allowed[len(sequence) - margin - 1 :] = False  # room for a deletion
        for f in annotation[annotation["seqid"] == chrom].itertuples():
            allowed[max(0, f.start - margin) : f.end + margin] = False
        codes = np.frombuffer(sequence.upper().encode("ascii"), dtype=np.uint8)
        for base in "ACGT":
            found[base].append((chrom, np.flatnonzero(allowed & (codes == ord(base)))))
    return {
        base: (
            np.concatenate([np.full(len(p), c, dtype=object) for c, p in parts]),
            np.concatenate([p for _, p in parts]),
        )
        for base, parts in found.items()
    }


def _background(variant: tuple, free: dict, genome: dict[str, str], rng, taken: set) -> tuple:
    """A matched variant: same REF's first base and the same edit, in unconstrained background."""
    _, _, ref, alt, element, _ = variant
    chroms, positions = free[ref[0]]
    while True:
        i = int(rng.integers(len(positions)))
        chrom, pos0 = str(chroms[i]), int(positions[i])
        if (chrom, pos0) not in taken:
            break
    taken.add((chrom, pos0))
    if len(ref) > len(alt):  # a 1-bp deletion: the anchor and the base after it
        ref = genome[chrom][pos0 : pos0 + 2].upper()
    return chrom, pos0, ref, alt, element, BACKGROUND


def planted_variants(
    fasta, annotation_path, out, seed: int, per_element: int = 40, margin: int = 20
) -> dict:
    """Write the planted VCF (bgzipped); return {element: count} of what it holds."""
    import pysam

    annotation = pd.read_parquet(annotation_path)
    with pysam.FastaFile(str(fasta)) as fa:
        genome = {name: fa.fetch(name) for name in fa.references}
        lengths = dict(zip(fa.references, fa.lengths, strict=True))
    rng = np.random.default_rng([int(seed), SALT])
    planter = _Planter(annotation, genome, rng)
    candidates = {element: [] for element in ELEMENTS}
    for variant in (*planter.tata(), *planter.inr(), *planter.codons(), *planter.tf_sites()):
        candidates[variant[4]].append(variant)
    taken: set = set()
    broken = _balanced(candidates, per_element, rng, taken)
    free = _free_positions(annotation, genome, margin)
    matched = [_background(v, free, genome, rng, taken) for v in broken]
    _write_vcf(out, lengths, broken, matched, seed)
    counts = {e: sum(v[4] == e for v in broken) for e in ELEMENTS}
    logger.info("planted %s, each with a matched background variant -> %s", counts, out)
    return counts


def _write_vcf(out, lengths: dict[str, int], broken: list, matched: list, seed: int) -> None:
    import pysam

    header = pysam.VariantHeader()
    header.add_meta("source", f"dnatune planted variants (seed {seed})")
    for name, length in lengths.items():
        header.contigs.add(name, length=length)
    header.info.add(TRUTH_FLAG, 0, "Flag", "The variant breaks a planted element")
    header.info.add(
        GROUP_INFO, 1, "String", f"The element type the variant breaks ({', '.join(ELEMENTS)}), "
        f"or that a {BACKGROUND} variant (no {TRUTH_FLAG} flag) is matched to"
    )  # fmt: skip
    header.info.add(
        "FEATURE", 1, "String", "The feature a breaking variant hits (CDS or promoter ID, "
        f"motif:chrom:start), or {BACKGROUND}"
    )  # fmt: skip
    order = {name: i for i, name in enumerate(lengths)}
    rows = sorted(broken + matched, key=lambda v: (order[v[0]], v[1]))
    with atomic_path(out) as tmp, pysam.VariantFile(str(tmp), "wz", header=header) as vcf:
        for n, (chrom, pos0, ref, alt, element, feature) in enumerate(rows, start=1):
            record = vcf.new_record(contig=chrom, start=pos0, alleles=(ref, alt), id=f"planted{n}")
            if feature != BACKGROUND:
                record.info[TRUTH_FLAG] = True
            record.info[GROUP_INFO] = element
            record.info["FEATURE"] = feature.replace(";", ",").replace("=", ":")
            vcf.write(record)
