"""A deterministic synthetic genome with a planted, fully annotated grammar.

`simulate_genome` writes a plain FASTA (chr1..chrN, 60 columns, repeats soft-masked in lower
case, N gaps) and a GFF3 of everything it planted. It is the main test fixture and the embedded
demo: a DNA LM pre-trained on it can learn the grammar, which fine-tuning tasks derived from the
annotation then reward.

What is planted, chromosome by chromosome, as non-overlapping elements separated by background:

- background: an order-4 Markov chain with random context effects, CpG depletion and poly-A/T
  tracts, in isochores of 10-60 kb drawn from five GC levels (`ISOCHORE_GC`, neighbours two or
  more levels apart);
- genes on both strands (gene, mRNA, exon, CDS with phase, intron): 5' UTR, a CDS of 120-450
  codons from a strongly biased codon usage table (ATG ... stop, frame kept across exons) split
  into 1-4 exons of at least 150 bp, introns GTRAGT...branch point YTRAY, pyrimidine tract, YAG;
- a promoter per gene, in transcription orientation relative to the TSS (offset 0 = first
  transcribed base): promoter [-150, +50), GC-rich CpG-island-like flank [-150, -36) with 1-3
  GC-box (Sp1-like) sites, TATA_box [-31, -23), Inr [-2, +5) with its A on the TSS;
- enhancers of 200-300 bp, each a cluster of 4-8 copies (either strand) of the 2-3 PWMs of its
  class (attribute class=E1/E2/E3), every copy annotated as a TF_binding_site;
- isolated motif instances (TF_binding_site with isolated=true) in the background: a lone motif
  does not make an enhancer or a promoter;
- interspersed repeats of six families (SINEs with A tails, 5'-truncated LINEs, DNA transposons
  with inverted repeats, solo LTRs, satellite arrays), mutated copies on both strands, lower case,
  repeat_region with family=...;
- N gaps of 50-5000 bp (gap).

Motifs are sampled from position weight matrices, never copied from one consensus, so no fixed
k-mer detects them. The grammar (Markov tables, codon table, PWMs, repeat consensuses) is the same
for every seed, like one species; the seed drives the layout and all sampling, so two seeds give
two genomes of the same "species" (pre-train on one, fine-tune on another). The same seed gives
byte-identical files.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnatune.atomic import atomic_path
from dnatune.genome.simulate_grammar import grammar
from dnatune.genome.simulate_layout import Chromosome, simulate_chromosome

logger = logging.getLogger(__name__)

MIN_CHROMOSOME_LENGTH = 5_000
FASTA_WIDTH = 60
_FASTA_LUT = np.frombuffer(b"ACGTNacgtn", dtype=np.uint8)


def _chromosome_lengths(rng: np.random.Generator, length: int, n: int) -> list[int]:
    """Unequal lengths summing to `length`, largest first (like a karyotype)."""
    weights = rng.uniform(0.8, 1.2, n) / (1.0 + 0.3 * np.arange(n))
    free = length - n * MIN_CHROMOSOME_LENGTH
    extra = np.floor(weights / weights.sum() * free).astype(np.int64)
    extra[0] += free - int(extra.sum())
    return sorted((MIN_CHROMOSOME_LENGTH + int(x) for x in extra), reverse=True)


def _fasta_record(name: str, codes: np.ndarray, soft: np.ndarray) -> bytes:
    seq = _FASTA_LUT[codes + 5 * soft.astype(np.uint8)]
    full = len(seq) // FASTA_WIDTH
    body = np.empty((full, FASTA_WIDTH + 1), dtype=np.uint8)
    body[:, :FASTA_WIDTH] = seq[: full * FASTA_WIDTH].reshape(full, FASTA_WIDTH)
    body[:, FASTA_WIDTH] = ord("\n")
    tail = seq[full * FASTA_WIDTH :].tobytes()
    return f">{name}\n".encode() + body.tobytes() + (tail + b"\n" if tail else b"")


_TYPE_RANK = {
    t: i
    for i, t in enumerate(
        ["gap", "repeat_region", "enhancer", "promoter", "gene", "mRNA", "exon", "CDS", "intron"]
    )
}


def _gff_lines(ch: Chromosome) -> list[str]:
    feats = sorted(ch.features, key=lambda f: (f[0], _TYPE_RANK.get(f[3], 99), -f[1]))
    return [
        f"{ch.name}\tdnatune\t{t}\t{s + 1}\t{e}\t.\t{strand}\t{phase}\t{attrs}\n"
        for s, e, strand, t, phase, attrs in feats
    ]


def _check_arguments(length: int, chromosomes: int, seed: int) -> None:
    for key, value in (("length", length), ("chromosomes", chromosomes), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(
                f"simulate: {key} must be an integer, got {value!r}; "
                f"fix genomes.<name>.simulate.{key} in the config"
            )
    if chromosomes < 1:
        raise ValueError(
            f"simulate: chromosomes={chromosomes}; need at least 1 "
            "(fix genomes.<name>.simulate.chromosomes)"
        )
    if length < chromosomes * MIN_CHROMOSOME_LENGTH:
        raise ValueError(
            f"simulate: length={length} is too small for {chromosomes} chromosomes of at least "
            f"{MIN_CHROMOSOME_LENGTH} bp; set genomes.<name>.simulate.length to at least "
            f"{chromosomes * MIN_CHROMOSOME_LENGTH} or lower chromosomes"
        )
    if seed < 0:
        raise ValueError(
            f"simulate: seed={seed} is negative; use a seed >= 0 (genomes.<name>.simulate.seed)"
        )


def simulate_genome(
    fasta_path: str | Path, gff_path: str | Path, length: int, chromosomes: int, seed: int
) -> dict:
    """Write the synthetic genome (FASTA) and its annotation (GFF3); return a summary.

    The summary holds: length, seed, chromosomes [{name, length}], features {type: count},
    enhancer_classes {class: count}, repeat_families {family: count}, gc_fraction, n_count,
    softmasked_fraction. Same arguments -> byte-identical files.
    """
    _check_arguments(length, chromosomes, seed)
    g = grammar()
    seeds = np.random.SeedSequence(int(seed)).spawn(chromosomes + 1)
    lengths = _chromosome_lengths(np.random.default_rng(seeds[0]), int(length), int(chromosomes))
    names = [f"chr{i + 1}" for i in range(chromosomes)]
    ids: Counter = Counter()
    tally = _Tally()
    with (
        atomic_path(fasta_path) as fa_tmp,
        atomic_path(gff_path) as gff_tmp,
        open(fa_tmp, "wb") as fa,
        open(gff_tmp, "w") as gff,
    ):
        gff.write("##gff-version 3\n")
        gff.write(f"# dnatune synthetic genome: length={length} seed={seed}\n")
        for name, n in zip(names, lengths, strict=True):
            gff.write(f"##sequence-region {name} 1 {n}\n")
        for name, n, ss in zip(names, lengths, seeds[1:], strict=True):
            ch = simulate_chromosome(np.random.default_rng(ss), g, name, n, ids)
            fa.write(_fasta_record(name, ch.codes, ch.soft))
            gff.writelines(_gff_lines(ch))
            tally.add(ch)
    summary = {
        "length": int(length),
        "seed": int(seed),
        "chromosomes": [{"name": a, "length": b} for a, b in zip(names, lengths, strict=True)],
        **tally.summary(length),
    }
    logger.info(
        "simulated %d bp in %d chromosomes (seed %d): %s",
        length,
        chromosomes,
        seed,
        ", ".join(f"{k}={v}" for k, v in summary["features"].items()),
    )
    return summary


@dataclass
class _Tally:
    """Base and feature counts over the chromosomes written so far, for the summary."""

    types: Counter = field(default_factory=Counter)
    classes: Counter = field(default_factory=Counter)
    families: Counter = field(default_factory=Counter)
    gc: int = 0
    acgt: int = 0
    n_count: int = 0
    soft: int = 0

    def add(self, ch: Chromosome) -> None:
        counts = np.bincount(ch.codes, minlength=5)
        self.gc += int(counts[1] + counts[2])
        self.acgt += int(counts[:4].sum())
        self.n_count += int(counts[4])
        self.soft += int(ch.soft.sum())
        for _, _, _, t, _, attrs in ch.features:
            self.types[t] += 1
            if t == "enhancer":
                self.classes[attrs.split("class=")[1].split(";")[0]] += 1
            elif t == "repeat_region":
                self.families[attrs.split("family=")[1].split(";")[0]] += 1

    def summary(self, length: int) -> dict:
        return {
            "features": dict(sorted(self.types.items())),
            "enhancer_classes": dict(sorted(self.classes.items())),
            "repeat_families": dict(sorted(self.families.items())),
            "gc_fraction": self.gc / self.acgt if self.acgt else 0.0,
            "n_count": self.n_count,
            "softmasked_fraction": self.soft / length,
        }
