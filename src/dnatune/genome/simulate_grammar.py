"""The fixed grammar of the synthetic species: Markov background tables, codon usage, PWMs
and repeat consensuses.

It is the same for every seed (drawn from GRAMMAR_SEED), like one species; `simulate_genome`'s
seed drives only the layout and the sampling. Bases are uint8 codes 0..3 (A C G T), 4 is N.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

BASES = "ACGT"  # base codes 0..3; complement of code c is 3 - c
GRAMMAR_SEED = 20_251_127

MARKOV_ORDER = 4
MARKOV_QUANT = 1024  # uniforms are drawn as 10-bit integers and looked up in a table
ISOCHORE_GC = (0.35, 0.40, 0.46, 0.52, 0.58)

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
