"""One synthetic chromosome: background, then genes, enhancers, repeats, gaps and isolated
motifs laid out left to right, each planted element recorded as a GFF3 feature."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from dnatune.genome.simulate_grammar import N_CODE, Grammar, reverse_complement
from dnatune.genome.simulate_sampling import (
    background,
    coding_sequence,
    markov,
    pick,
    random_partition,
    repeat_copy,
)

# Promoter layout in transcription orientation, [start, end) offsets from the TSS.
PROMOTER = (-150, 50)
GC_FLANK = (-150, -36)
TATA_BOX = (-31, -23)
INR = (-2, 5)
GC_BOX_ZONE = (-130, -45)

# Layout: element mix and sizes.
ELEMENT_KINDS = ("gene", "enhancer", "repeat")
ELEMENT_P = (0.38, 0.32, 0.30)
_ELEMENT_CUM = tuple(np.cumsum(ELEMENT_P) / sum(ELEMENT_P))
SPACER_MIN, SPACER_MEAN = 30, 550
DECOY_P = 0.3  # chance that a spacer carries one isolated motif
UTR5 = (40, 161)
UTR3 = (60, 251)
CODONS = (120, 451)
MIN_CDS_EXON = 150
MAX_EXONS = 4
INTRON = (80, 601)
ENHANCER_LENGTH = (200, 301)
ENHANCER_SITES = (4, 9)
GAP_LENGTH = (50, 5000)


@dataclass
class Chromosome:
    """A chromosome being built: base codes, soft-mask, and the features planted so far."""

    name: str
    codes: np.ndarray
    soft: np.ndarray
    rng: np.random.Generator
    g: Grammar
    ids: Counter
    # (start0, end0, strand, type, phase, attributes)
    features: list[tuple[int, int, str, str, str, str]] = field(default_factory=list)
    flanks: list[tuple[int, int, str, str]] = field(default_factory=list)

    def new_id(self, prefix: str) -> str:
        self.ids[prefix] += 1
        return f"{prefix}{self.ids[prefix]:06d}"

    def add(self, start, end, strand, ftype, attrs, phase=".") -> None:
        self.features.append((int(start), int(end), strand, ftype, phase, attrs))

    def put(self, start: int, seq: np.ndarray, strand: str = "+") -> None:
        self.codes[start : start + len(seq)] = seq if strand == "+" else reverse_complement(seq)


def _tx_to_genome(bs: int, be: int, strand: str, a: int, b: int) -> tuple[int, int]:
    """Interval [a, b) in transcription orientation within block [bs, be) -> genomic [s, e)."""
    return (bs + a, bs + b) if strand == "+" else (be - b, be - a)


def _place_gene(ch: Chromosome, start: int, limit: int) -> int | None:
    rng, g = ch.rng, ch.g
    up = -PROMOTER[0]
    utr5 = int(rng.integers(*UTR5))
    n_codons = int(rng.integers(*CODONS))
    cds_len = 3 * n_codons
    n_exons = min(int(rng.integers(1, MAX_EXONS + 1)), cds_len // MIN_CDS_EXON)
    parts = random_partition(rng, cds_len, n_exons, MIN_CDS_EXON)
    introns = [int(x) for x in rng.integers(*INTRON, n_exons - 1)]
    utr3 = int(rng.integers(*UTR3))
    strand = "+" if rng.random() < 0.5 else "-"
    block = up + utr5 + cds_len + sum(introns) + utr3
    if start + block > limit:
        return None
    bs, be = start, start + block
    seg = ch.codes[bs:be]
    tx = seg.copy() if strand == "+" else reverse_complement(seg)
    cds = coding_sequence(rng, g, n_codons)
    tss = up
    exons, cds_parts, intron_ivs = [], [], []
    pos, exon_start, done = tss + utr5, tss, 0
    for i, p in enumerate(parts):
        tx[pos : pos + p] = cds[done : done + p]
        cds_parts.append((pos, pos + p, (3 - done % 3) % 3))
        done += p
        pos += p
        if i < n_exons - 1:
            exons.append((exon_start, pos))
            a, b = pos, pos + introns[i]
            tx[a : a + 6] = g.donor.sample(rng)[0]
            tx[b - 28 : b - 23] = g.branch.sample(rng)[0]
            tx[b - 18 : b - 3] = g.ppt.sample(rng)[0]
            tx[b - 3 : b] = g.acceptor.sample(rng)[0]
            intron_ivs.append((a, b))
            pos = exon_start = b
    pos += utr3
    exons.append((exon_start, pos))
    tx[tss + TATA_BOX[0] : tss + TATA_BOX[1]] = g.tata.sample(rng)[0]
    tx[tss + INR[0] : tss + INR[1]] = g.inr.sample(rng)[0]
    ch.codes[bs:be] = tx if strand == "+" else reverse_complement(tx)

    def gspan(a: int, b: int) -> tuple[int, int]:
        return _tx_to_genome(bs, be, strand, a, b)

    gene, mrna, cds_id = ch.new_id("gene"), ch.new_id("mrna"), ch.new_id("cds")
    promoter = ch.new_id("promoter")
    ch.add(*gspan(tss, block), strand, "gene", f"ID={gene};Name={gene};biotype=protein_coding")
    ch.add(*gspan(tss, block), strand, "mRNA", f"ID={mrna};Parent={gene}")
    for a, b in exons:
        ch.add(*gspan(a, b), strand, "exon", f"Parent={mrna}")
    for a, b, phase in cds_parts:
        ch.add(*gspan(a, b), strand, "CDS", f"ID={cds_id};Parent={mrna}", str(phase))
    for a, b in intron_ivs:
        ch.add(*gspan(a, b), strand, "intron", f"Parent={mrna}")
    ch.add(*gspan(0, tss + PROMOTER[1]), strand, "promoter", f"ID={promoter};gene={gene}")
    ch.add(*gspan(tss + TATA_BOX[0], tss + TATA_BOX[1]), strand, "TATA_box", f"Parent={promoter}")
    ch.add(*gspan(tss + INR[0], tss + INR[1]), strand, "Inr", f"Parent={promoter}")
    flank_start, _ = gspan(tss + GC_FLANK[0], tss + GC_FLANK[1])
    ch.flanks.append((flank_start, be, strand, promoter))
    return be


def _place_enhancer(ch: Chromosome, start: int, limit: int) -> int | None:
    rng, g = ch.rng, ch.g
    length = int(rng.integers(*ENHANCER_LENGTH))
    names = list(g.enhancer_classes)
    cls = names[int(rng.integers(len(names)))]
    n_sites = int(rng.integers(*ENHANCER_SITES))
    if start + length > limit:
        return None
    enh = ch.new_id("enhancer")
    ch.add(start, start + length, ".", "enhancer", f"ID={enh};class={cls};sites={n_sites}")
    motifs = g.enhancer_classes[cls]
    width = length // n_sites
    for j in range(n_sites):
        m = motifs[int(rng.integers(len(motifs)))]
        strand = "+" if rng.random() < 0.5 else "-"
        s = start + j * width + int(rng.integers(0, width - len(m) + 1))
        ch.put(s, m.sample(rng)[0], strand)
        ch.add(s, s + len(m), strand, "TF_binding_site", f"Parent={enh};motif={m.name}")
    return start + length


def _place_repeat(ch: Chromosome, start: int, limit: int) -> int | None:
    rng, g = ch.rng, ch.g
    fam = g.repeat_families[pick(rng, g.repeat_cum)]
    seq, divergence = repeat_copy(rng, fam)
    strand = "+" if rng.random() < 0.5 else "-"
    if start + len(seq) > limit:
        return None
    ch.put(start, seq, strand)
    ch.soft[start : start + len(seq)] = True
    rid = ch.new_id("repeat")
    attrs = f"ID={rid};family={fam.name};repeat_class={fam.kind};divergence={divergence:.3f}"
    ch.add(start, start + len(seq), strand, "repeat_region", attrs)
    return start + len(seq)


def _place_gap(ch: Chromosome, start: int, size: int) -> int:
    ch.codes[start : start + size] = N_CODE
    ch.add(start, start + size, ".", "gap", f"ID={ch.new_id('gap')};estimated_length={size}")
    return start + size


def _place_decoy(ch: Chromosome, start: int, end: int) -> None:
    rng, decoys = ch.rng, ch.g.decoys
    m = decoys[int(rng.integers(len(decoys)))]
    if end - start < len(m) + 10:
        return
    s = start + 5 + int(rng.integers(0, end - start - len(m) - 10 + 1))
    strand = "+" if rng.random() < 0.5 else "-"
    ch.put(s, m.sample(rng)[0], strand)
    attrs = f"ID={ch.new_id('site')};motif={m.name};isolated=true"
    ch.add(s, s + len(m), strand, "TF_binding_site", attrs)


def _fill_flanks(ch: Chromosome) -> None:
    """Promoter flanks: CpG-island-like chains (all at once) with 1-3 GC boxes each."""
    if not ch.flanks:
        return
    rng, g = ch.rng, ch.g
    flank_len = GC_FLANK[1] - GC_FLANK[0]
    tables = np.full(len(ch.flanks), g.island_table, dtype=np.int64)
    seqs = markov(rng, g, tables, flank_len)
    lo, hi = GC_BOX_ZONE[0] - GC_FLANK[0], GC_BOX_ZONE[1] - GC_FLANK[0]
    for (gstart, _, strand, promoter), seq in zip(ch.flanks, seqs, strict=True):
        n_box = int(rng.integers(1, 4))
        width = (hi - lo) // n_box
        boxes = []
        for j in range(n_box):
            a = lo + j * width + int(rng.integers(0, width - len(g.gc_box) + 1))
            box_strand = "+" if rng.random() < 0.5 else "-"
            site = g.gc_box.sample(rng)[0]
            seq[a : a + len(site)] = site if box_strand == "+" else reverse_complement(site)
            boxes.append((a, a + len(site), box_strand))
        ch.put(gstart, seq, strand)
        for a, b, box_strand in boxes:
            s, e = _tx_to_genome(gstart, gstart + flank_len, strand, a, b)
            site_strand = box_strand if strand == "+" else ("-" if box_strand == "+" else "+")
            attrs = f"Parent={promoter};motif={g.gc_box.name}"
            ch.add(s, e, site_strand, "TF_binding_site", attrs)


def simulate_chromosome(
    rng: np.random.Generator, g: Grammar, name: str, length: int, ids: Counter
) -> Chromosome:
    ch = Chromosome(name, background(rng, g, length), np.zeros(length, bool), rng, g, ids)
    margin = min(500, length // 20)
    limit = length - margin
    n_gaps = 1 + int(rng.poisson(length / 1e6))
    gap_hi = max(GAP_LENGTH[0] + 1, min(GAP_LENGTH[1], length // 40))
    gap_sizes = np.exp(rng.uniform(math.log(GAP_LENGTH[0]), math.log(gap_hi), n_gaps)).astype(int)
    gap_at = sorted(int(x) for x in rng.uniform(margin, 0.9 * length, n_gaps))
    gaps = list(zip(gap_at, (int(s) for s in gap_sizes), strict=True))
    placers = {"gene": _place_gene, "enhancer": _place_enhancer, "repeat": _place_repeat}
    cursor = margin
    while True:
        spacer = SPACER_MIN + int(rng.exponential(SPACER_MEAN - SPACER_MIN))
        if cursor + spacer > limit:
            break
        if rng.random() < DECOY_P:
            _place_decoy(ch, cursor, cursor + spacer)
        cursor += spacer
        if gaps and gaps[0][0] <= cursor:
            if cursor + gaps[0][1] > limit:
                break
            cursor = _place_gap(ch, cursor, gaps.pop(0)[1])
            continue
        kind = ELEMENT_KINDS[pick(rng, _ELEMENT_CUM)]
        end = placers[kind](ch, cursor, limit)
        if end is None:
            break
        cursor = end
    for _, size in gaps:  # targets not reached: squeeze into the tail if they fit
        size = min(size, max(1, (length - cursor - SPACER_MIN) // 2))
        if cursor + SPACER_MIN + size <= length - 1:
            cursor = _place_gap(ch, cursor + SPACER_MIN, size)
    _fill_flanks(ch)
    return ch
