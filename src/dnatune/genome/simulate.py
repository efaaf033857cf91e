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

import bisect
import functools
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnatune.atomic import atomic_path

logger = logging.getLogger(__name__)

BASES = "ACGT"  # base codes 0..3; complement of code c is 3 - c
MIN_CHROMOSOME_LENGTH = 5_000
FASTA_WIDTH = 60
GRAMMAR_SEED = 20_251_127

MARKOV_ORDER = 4
MARKOV_QUANT = 1024  # uniforms are drawn as 10-bit integers and looked up in a table
CHUNK = 1_000  # background chains restart every CHUNK bp so all chunks of a chromosome run at once
ISOCHORE_GC = (0.35, 0.40, 0.46, 0.52, 0.58)
ISOCHORE_CHUNKS = (10, 61)  # isochore length in chunks: 10-60 kb

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

# Standard genetic code, codons in TCAG order.
_GENETIC_CODE = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
# Amino-acid frequencies (percent, vertebrate-like).
_AA_FREQ = dict(
    A=7.0, R=5.6, N=3.6, D=4.7, C=2.3, Q=4.7, E=7.1, G=6.6, H=2.6, I=4.3,
    L=10.0, K=5.7, M=2.1, F=3.7, P=6.3, S=8.3, T=5.4, W=1.3, Y=2.7, V=6.0,
)  # fmt: skip
_STOPS = ("TAA", "TAG", "TGA")
_STOP_P = (0.3, 0.2, 0.5)

_UPPER = np.frombuffer(b"ACGTN", dtype=np.uint8)
_FASTA_LUT = np.frombuffer(b"ACGTNacgtn", dtype=np.uint8)
N_CODE = 4


def encode(seq: str) -> np.ndarray:
    """ACGT string -> uint8 codes 0..3 (N and anything else -> 4)."""
    lut = np.full(256, N_CODE, dtype=np.uint8)
    for i, b in enumerate(BASES):
        lut[ord(b)] = lut[ord(b.lower())] = i
    return lut[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    return _UPPER[codes].tobytes().decode("ascii")


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    return (3 - codes[::-1]).astype(np.uint8)


# ---------------------------------------------------------------- the grammar


@dataclass(frozen=True)
class Pwm:
    """A position weight matrix (rows: positions, columns: A C G T)."""

    name: str
    probs: np.ndarray
    _lut: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        probs = np.asarray(self.probs, dtype=np.float64)
        probs = probs / probs.sum(axis=1, keepdims=True)
        object.__setattr__(self, "probs", probs)
        # sampling table: row i, uniform level q -> base (like the Markov table, one gather)
        cum = np.cumsum(probs, axis=1)[:, :3]
        q = (np.arange(MARKOV_QUANT) + 0.5) / MARKOV_QUANT
        lut = (q[None, :, None] > cum[:, None, :]).sum(axis=2).astype(np.uint8)
        object.__setattr__(self, "_lut", lut)

    def __len__(self) -> int:
        return self.probs.shape[0]

    @property
    def consensus(self) -> str:
        return "".join(BASES[i] for i in self.probs.argmax(axis=1))

    def sample(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """n instances, shape (n, len), uint8 codes."""
        q = rng.integers(0, MARKOV_QUANT, (n, len(self)))
        return self._lut[np.arange(len(self)), q]

    def log_odds(self, codes: np.ndarray) -> np.ndarray:
        """log2(P_pwm / 0.25^L) of each row of `codes` (shape (n, len))."""
        codes = np.atleast_2d(codes)
        p = self.probs[np.arange(len(self)), codes]
        return np.log2(np.maximum(p, 1e-9) / 0.25).sum(axis=1)


@dataclass(frozen=True)
class RepeatFamily:
    name: str
    kind: str  # SINE, LINE, DNA, LTR, satellite
    consensus: np.ndarray
    weight: float
    divergence: tuple[float, float]


@dataclass(frozen=True)
class Grammar:
    markov_lut: np.ndarray  # (tables * 4**order * MARKOV_QUANT,) next-base codes
    island_table: int  # index of the CpG-island table (the background tables come first)
    codons: np.ndarray  # (61, 3) sense codons
    codon_p: np.ndarray  # (61,) usage
    codon_aa: tuple[str, ...]
    stops: np.ndarray  # (3, 3)
    stop_p: np.ndarray
    tata: Pwm
    inr: Pwm
    gc_box: Pwm
    donor: Pwm
    branch: Pwm
    ppt: Pwm
    acceptor: Pwm
    enhancer_classes: dict[str, tuple[Pwm, ...]]
    repeat_families: tuple[RepeatFamily, ...]

    @functools.cached_property
    def codon_cum(self) -> np.ndarray:
        return _cumsum(self.codon_p)

    @functools.cached_property
    def stop_cum(self) -> tuple[float, ...]:
        return tuple(_cumsum(self.stop_p))

    @functools.cached_property
    def repeat_cum(self) -> tuple[float, ...]:
        return tuple(_cumsum([f.weight for f in self.repeat_families]))

    @functools.cached_property
    def decoys(self) -> tuple[Pwm, ...]:
        return (self.tata, *(m for ms in self.enhancer_classes.values() for m in ms))


def _cumsum(p) -> np.ndarray:
    cum = np.cumsum(np.asarray(p, dtype=np.float64))
    return cum / cum[-1]


def _onehot_pwm(name: str, rows: list[str | tuple[float, float, float, float]]) -> Pwm:
    """Rows are IUPAC-ish letters (A C G T W S R Y N) or explicit A/C/G/T probabilities."""
    letters = {
        "A": (0.91, 0.03, 0.03, 0.03),
        "C": (0.03, 0.91, 0.03, 0.03),
        "G": (0.03, 0.03, 0.91, 0.03),
        "T": (0.03, 0.03, 0.03, 0.91),
        "W": (0.47, 0.03, 0.03, 0.47),
        "S": (0.03, 0.47, 0.47, 0.03),
        "R": (0.47, 0.03, 0.47, 0.03),
        "Y": (0.03, 0.47, 0.03, 0.47),
        "N": (0.25, 0.25, 0.25, 0.25),
    }
    return Pwm(name, np.array([letters[r] if isinstance(r, str) else r for r in rows]))


def _markov_lut(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    n_ctx = 4**MARKOV_ORDER
    ctx = np.arange(n_ctx)
    last, last3 = ctx & 3, ctx & 63  # the newest base sits in the lowest two bits
    effect = np.exp(rng.normal(0.0, 0.45, (n_ctx, 4)))
    effect[last == 1, 2] *= 0.22  # CpG depletion: G after C
    effect[last3 == 0, 0] *= 1.8  # poly-A tracts
    effect[last3 == 63, 3] *= 1.8  # poly-T tracts
    tables = [effect * np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]) for gc in ISOCHORE_GC]
    island = np.exp(rng.normal(0.0, 0.2, (n_ctx, 4))) * np.array([0.17, 0.33, 0.33, 0.17])
    island[last == 1, 2] *= 1.2  # CpG islands: CpG not depleted
    tables.append(island)
    probs = np.stack(tables)
    cum = np.cumsum(probs / probs.sum(axis=2, keepdims=True), axis=2)[..., :3]
    q = (np.arange(MARKOV_QUANT) + 0.5) / MARKOV_QUANT
    lut = (q[None, None, :, None] > cum[:, :, None, :]).sum(axis=3).astype(np.uint8)
    return lut.reshape(-1), len(tables) - 1


def _codon_usage(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    codons, aas = [], []
    for i, a in enumerate("TCAG"):
        for j, b in enumerate("TCAG"):
            for k, c in enumerate("TCAG"):
                aa = _GENETIC_CODE[16 * i + 4 * j + k]
                if aa != "*":
                    codons.append(a + b + c)
                    aas.append(aa)
    p = np.zeros(len(codons))
    for aa, freq in _AA_FREQ.items():
        idx = [i for i, x in enumerate(aas) if x == aa]
        pref = rng.dirichlet(np.full(len(idx), 0.6))
        pref *= [2.5 if codons[i][2] in "GC" else 1.0 for i in idx]  # GC3 bias: codon periodicity
        p[idx] = freq * pref / pref.sum()
    codes = np.stack([encode(c) for c in codons])
    return codes, p / p.sum(), tuple(aas)


def _random_pwm(rng: np.random.Generator, name: str, length: int) -> Pwm:
    rows = np.empty((length, 4))
    for i in range(length):
        if rng.random() < 0.75:
            p = rng.uniform(0.78, 0.94)
            rows[i] = (1 - p) / 3
            rows[i, rng.integers(4)] = p
        else:
            rows[i] = 0.04
            rows[i, rng.choice(4, 2, replace=False)] = 0.46
    return Pwm(name, rows)


def _kmers(seq: str, k: int = 6) -> set[str]:
    return {seq[i : i + k] for i in range(len(seq) - k + 1)}


def _enhancer_classes(rng: np.random.Generator, avoid: list[str]) -> dict[str, tuple[Pwm, ...]]:
    """Three classes of 2-3 motifs each; no motif shares a 6-mer (either strand) with another."""
    taken: set[str] = set()
    for s in avoid:
        taken |= _kmers(s) | _kmers(decode(reverse_complement(encode(s))))
    classes = {}
    for c in range(3):
        motifs = []
        for m in range(int(rng.integers(2, 4))):
            while True:
                pwm = _random_pwm(rng, f"E{c + 1}.m{m + 1}", int(rng.integers(8, 13)))
                cons = pwm.consensus
                kms = _kmers(cons) | _kmers(decode(reverse_complement(encode(cons))))
                if not kms & taken and "CG" not in cons:
                    taken |= kms
                    motifs.append(pwm)
                    break
        classes[f"E{c + 1}"] = tuple(motifs)
    return classes


def _iid(rng: np.random.Generator, n: int, gc: float) -> np.ndarray:
    return rng.choice(4, n, p=[(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]).astype(np.uint8)


def _repeat_families(rng: np.random.Generator) -> tuple[RepeatFamily, ...]:
    a_tail = np.zeros(22, dtype=np.uint8)
    tir = _iid(rng, 36, 0.45)
    return (
        RepeatFamily(
            "SINE1", "SINE", np.concatenate([_iid(rng, 280, 0.56), a_tail]), 0.34, (0.02, 0.15)
        ),
        RepeatFamily(
            "SINE2", "SINE", np.concatenate([_iid(rng, 150, 0.50), a_tail]), 0.20, (0.05, 0.20)
        ),
        RepeatFamily(
            "LINE1", "LINE", np.concatenate([_iid(rng, 4000, 0.40), a_tail]), 0.20, (0.03, 0.20)
        ),
        RepeatFamily(
            "DNA1",
            "DNA",
            np.concatenate([tir, _iid(rng, 1100, 0.42), reverse_complement(tir)]),
            0.10,
            (0.05, 0.25),
        ),
        RepeatFamily(
            "LTR1",
            "LTR",
            np.concatenate([encode("TG"), _iid(rng, 430, 0.48), encode("CA")]),
            0.11,
            (0.03, 0.18),
        ),
        RepeatFamily("SAT1", "satellite", _iid(rng, 171, 0.36), 0.05, (0.02, 0.08)),
    )


@functools.cache
def grammar() -> Grammar:
    """The fixed grammar of the synthetic species (independent of the layout seed)."""
    rng = np.random.default_rng(GRAMMAR_SEED)
    lut, island = _markov_lut(rng)
    codons, codon_p, codon_aa = _codon_usage(rng)
    tata = _onehot_pwm(
        "TATA",
        [
            "T",
            "A",
            "T",
            "A",
            (0.55, 0.03, 0.03, 0.39),
            (0.75, 0.05, 0.05, 0.15),
            (0.50, 0.05, 0.05, 0.40),
            (0.45, 0.10, 0.40, 0.05),
        ],
    )
    inr = _onehot_pwm("Inr", ["Y", "Y", (1.0, 0.0, 0.0, 0.0), "N", "W", "Y", "Y"])
    gc_box = _onehot_pwm(
        "GC_box", [(0.04, 0.04, 0.6, 0.32), "G", "G", "G", "C", "G", "G", "G", "G"]
    )
    return Grammar(
        markov_lut=lut,
        island_table=island,
        codons=codons,
        codon_p=codon_p,
        codon_aa=codon_aa,
        stops=np.stack([encode(s) for s in _STOPS]),
        stop_p=np.array(_STOP_P),
        tata=tata,
        inr=inr,
        gc_box=gc_box,
        donor=_onehot_pwm(
            "donor", [(0, 0, 1, 0), (0, 0, 0, 1), "R", (0.7, 0.1, 0.1, 0.1), "G", "T"]
        ),
        branch=_onehot_pwm("branch", ["Y", "T", "R", (1, 0, 0, 0), "Y"]),
        ppt=_onehot_pwm("ppt", [(0.05, 0.45, 0.05, 0.45)] * 15),
        acceptor=_onehot_pwm("acceptor", ["Y", (1, 0, 0, 0), (0, 0, 1, 0)]),
        enhancer_classes=_enhancer_classes(rng, ["TATAAAAG", "GGGGCGGGG"]),
        repeat_families=_repeat_families(rng),
    )


# ---------------------------------------------------------------- sequence generators


def _markov(
    rng: np.random.Generator, g: Grammar, tables: np.ndarray, length: int, batch: int = 128
) -> np.ndarray:
    """len(tables) independent Markov chains of `length` bases (one per row), run in parallel.

    Hand-written on purpose: no library samples a Markov chain, and stepping all chains at once
    with one table gather per base keeps 100 Mbp within seconds.
    """
    n = len(tables)
    k = MARKOV_ORDER
    mask = 4**k - 1
    out = np.empty((length, n), dtype=np.uint8)
    state = rng.integers(0, 4**k, n)
    for j in range(min(k, length)):
        out[j] = (state >> (2 * (k - 1 - j))) & 3
    base = tables.astype(np.int64) * (4**k)
    shift = int(math.log2(MARKOV_QUANT))
    for t0 in range(k, length, batch):
        q = rng.integers(0, MARKOV_QUANT, (min(batch, length - t0), n), dtype=np.int64)
        for i in range(q.shape[0]):
            nxt = g.markov_lut[((base + state) << shift) | q[i]]
            out[t0 + i] = nxt
            state = ((state << 2) | nxt) & mask
    return np.ascontiguousarray(out.T)


def _background(rng: np.random.Generator, g: Grammar, length: int) -> np.ndarray:
    n_chunks = -(-length // CHUNK)
    tables = np.empty(n_chunks, dtype=np.int64)
    i, prev = 0, -10
    n_gc = len(ISOCHORE_GC)
    while i < n_chunks:
        span = int(rng.integers(*ISOCHORE_CHUNKS))
        # neighbouring isochores differ by at least two GC levels
        choices = [c for c in range(n_gc) if abs(c - prev) >= 2]
        c = choices[int(rng.integers(len(choices)))]
        tables[i : i + span] = c
        i, prev = i + span, c
    return _markov(rng, g, tables, CHUNK).reshape(-1)[:length].copy()


def _pick(rng: np.random.Generator, cum, n: int | None = None):
    """Index drawn from the distribution with cumulative sums `cum` (rng.choice(p=) redoes them)."""
    if n is None:  # bisect: a scalar numpy call costs more than the search
        return min(bisect.bisect_right(cum, rng.random()), len(cum) - 1)
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


def _cds(rng: np.random.Generator, g: Grammar, n_codons: int) -> np.ndarray:
    body = g.codons[_pick(rng, g.codon_cum, n_codons - 2)]
    stop = g.stops[_pick(rng, g.stop_cum)]
    return np.concatenate([encode("ATG"), body.reshape(-1), stop])


def _mutate(rng: np.random.Generator, seq: np.ndarray, divergence: float) -> np.ndarray:
    out = seq.copy()
    sub = rng.random(len(out)) < divergence * 0.9
    out[sub] = (out[sub] + rng.integers(1, 4, int(sub.sum()))) % 4
    indel = divergence * 0.05
    out = out[rng.random(len(out)) >= indel]
    n_ins = int(rng.binomial(len(out), indel))
    if n_ins:
        pos = rng.integers(0, len(out) + 1, n_ins)
        out = np.insert(out, pos, rng.integers(0, 4, n_ins).astype(np.uint8))
    return out.astype(np.uint8)


def _repeat_copy(rng: np.random.Generator, fam: RepeatFamily) -> tuple[np.ndarray, float]:
    cons = fam.consensus
    n = len(cons)
    if fam.kind == "LINE":  # 5' truncation, most copies short
        keep = max(100, int(n * math.exp(rng.uniform(math.log(0.05), 0.0))))
        seq = cons[n - keep :]
    elif fam.kind == "satellite":
        seq = np.tile(cons, int(rng.integers(3, 13)))
    elif rng.random() < 0.3:
        seq = cons[int(rng.integers(0, n // 3)) : n - int(rng.integers(0, n // 3))]
    else:
        seq = cons
    divergence = float(rng.uniform(*fam.divergence))
    seq = _mutate(rng, seq, divergence)
    return seq, divergence


def _split(rng: np.random.Generator, total: int, parts: int, minimum: int) -> list[int]:
    extra = total - parts * minimum
    cuts = np.sort(rng.integers(0, extra + 1, parts - 1))
    return [int(x) + minimum for x in np.diff(np.concatenate([[0], cuts, [extra]]))]


# ---------------------------------------------------------------- one chromosome


@dataclass
class _Chromosome:
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


def _place_gene(ch: _Chromosome, start: int, limit: int) -> int | None:
    rng, g = ch.rng, ch.g
    up = -PROMOTER[0]
    utr5 = int(rng.integers(*UTR5))
    n_codons = int(rng.integers(*CODONS))
    cds_len = 3 * n_codons
    n_exons = min(int(rng.integers(1, MAX_EXONS + 1)), cds_len // MIN_CDS_EXON)
    parts = _split(rng, cds_len, n_exons, MIN_CDS_EXON)
    introns = [int(x) for x in rng.integers(*INTRON, n_exons - 1)]
    utr3 = int(rng.integers(*UTR3))
    strand = "+" if rng.random() < 0.5 else "-"
    block = up + utr5 + cds_len + sum(introns) + utr3
    if start + block > limit:
        return None
    bs, be = start, start + block
    seg = ch.codes[bs:be]
    tx = seg.copy() if strand == "+" else reverse_complement(seg)
    cds = _cds(rng, g, n_codons)
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


def _place_enhancer(ch: _Chromosome, start: int, limit: int) -> int | None:
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


def _place_repeat(ch: _Chromosome, start: int, limit: int) -> int | None:
    rng, g = ch.rng, ch.g
    fam = g.repeat_families[_pick(rng, g.repeat_cum)]
    seq, divergence = _repeat_copy(rng, fam)
    strand = "+" if rng.random() < 0.5 else "-"
    if start + len(seq) > limit:
        return None
    ch.put(start, seq, strand)
    ch.soft[start : start + len(seq)] = True
    rid = ch.new_id("repeat")
    attrs = f"ID={rid};family={fam.name};repeat_class={fam.kind};divergence={divergence:.3f}"
    ch.add(start, start + len(seq), strand, "repeat_region", attrs)
    return start + len(seq)


def _place_gap(ch: _Chromosome, start: int, size: int) -> int:
    ch.codes[start : start + size] = N_CODE
    ch.add(start, start + size, ".", "gap", f"ID={ch.new_id('gap')};estimated_length={size}")
    return start + size


def _place_decoy(ch: _Chromosome, start: int, end: int) -> None:
    rng, decoys = ch.rng, ch.g.decoys
    m = decoys[int(rng.integers(len(decoys)))]
    if end - start < len(m) + 10:
        return
    s = start + 5 + int(rng.integers(0, end - start - len(m) - 10 + 1))
    strand = "+" if rng.random() < 0.5 else "-"
    ch.put(s, m.sample(rng)[0], strand)
    attrs = f"ID={ch.new_id('site')};motif={m.name};isolated=true"
    ch.add(s, s + len(m), strand, "TF_binding_site", attrs)


def _fill_flanks(ch: _Chromosome) -> None:
    """Promoter flanks: CpG-island-like chains (all at once) with 1-3 GC boxes each."""
    if not ch.flanks:
        return
    rng, g = ch.rng, ch.g
    flank_len = GC_FLANK[1] - GC_FLANK[0]
    tables = np.full(len(ch.flanks), g.island_table, dtype=np.int64)
    seqs = _markov(rng, g, tables, flank_len)
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


def _simulate_chromosome(
    rng: np.random.Generator, g: Grammar, name: str, length: int, ids: Counter
) -> _Chromosome:
    ch = _Chromosome(name, _background(rng, g, length), np.zeros(length, bool), rng, g, ids)
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
        kind = ELEMENT_KINDS[_pick(rng, _ELEMENT_CUM)]
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


# ---------------------------------------------------------------- writers and entry point


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


def _gff_lines(ch: _Chromosome) -> list[str]:
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
    types: Counter = Counter()
    classes: Counter = Counter()
    families: Counter = Counter()
    gc = acgt = n_count = soft = 0
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
            ch = _simulate_chromosome(np.random.default_rng(ss), g, name, n, ids)
            fa.write(_fasta_record(name, ch.codes, ch.soft))
            gff.writelines(_gff_lines(ch))
            counts = np.bincount(ch.codes, minlength=5)
            gc += int(counts[1] + counts[2])
            acgt += int(counts[:4].sum())
            n_count += int(counts[4])
            soft += int(ch.soft.sum())
            for _, _, _, t, _, attrs in ch.features:
                types[t] += 1
                if t == "enhancer":
                    classes[attrs.split("class=")[1].split(";")[0]] += 1
                elif t == "repeat_region":
                    families[attrs.split("family=")[1].split(";")[0]] += 1
    summary = {
        "length": int(length),
        "seed": int(seed),
        "chromosomes": [{"name": a, "length": b} for a, b in zip(names, lengths, strict=True)],
        "features": dict(sorted(types.items())),
        "enhancer_classes": dict(sorted(classes.items())),
        "repeat_families": dict(sorted(families.items())),
        "gc_fraction": gc / acgt if acgt else 0.0,
        "n_count": n_count,
        "softmasked_fraction": soft / length,
    }
    logger.info(
        "simulated %d bp in %d chromosomes (seed %d): %s",
        length,
        chromosomes,
        seed,
        ", ".join(f"{k}={v}" for k, v in summary["features"].items()),
    )
    return summary
