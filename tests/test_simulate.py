"""The synthetic genome: deterministic, genome-like, and its GFF3 says exactly what was planted."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

import numpy as np
import pytest

from dnatune.genome.simulate import FASTA_WIDTH, simulate_genome
from dnatune.genome.simulate_grammar import encode, grammar, reverse_complement
from dnatune.genome.simulate_layout import INR, PROMOTER, TATA_BOX

LENGTH = 200_000
CHROMOSOMES = 4
SEED = 7
COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
STOPS = {"TAA", "TAG", "TGA"}


def read_fasta(path) -> dict[str, str]:
    records: dict[str, list[str]] = {}
    name = None
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith(">"):
                name = line[1:].split()[0]
                records[name] = []
            else:
                records[name].append(line)
    return {k: "".join(v) for k, v in records.items()}


def read_gff(path) -> tuple[list[str], list[dict]]:
    header, rows = [], []
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("#"):
                header.append(line)
                continue
            cols = line.split("\t")
            assert len(cols) == 9, line
            attrs = dict(kv.split("=", 1) for kv in cols[8].split(";"))
            rows.append(
                dict(
                    seqid=cols[0],
                    source=cols[1],
                    type=cols[2],
                    start=int(cols[3]),
                    end=int(cols[4]),
                    score=cols[5],
                    strand=cols[6],
                    phase=cols[7],
                    attrs=attrs,
                )
            )
    return header, rows


def stranded(seq: str, f: dict) -> str:
    """The feature's sequence read 5'->3' on its own strand, upper case."""
    s = seq[f["start"] - 1 : f["end"]].upper()
    return s.translate(COMPLEMENT)[::-1] if f["strand"] == "-" else s


def tss_of(gene: dict) -> int:
    """0-based TSS coordinate of a gene."""
    return gene["start"] - 1 if gene["strand"] == "+" else gene["end"] - 1


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    summary = simulate_genome(d / "g.fa", d / "g.gff3", LENGTH, CHROMOSOMES, SEED)
    header, rows = read_gff(d / "g.gff3")
    return dict(dir=d, summary=summary, fasta=read_fasta(d / "g.fa"), header=header, rows=rows)


def by_type(genome, ftype: str) -> list[dict]:
    return [r for r in genome["rows"] if r["type"] == ftype]


# ---------------------------------------------------------------- determinism and shape


def test_same_seed_gives_byte_identical_files_and_other_seeds_differ(tmp_path):
    def run(name, seed):
        fa, gff = tmp_path / f"{name}.fa", tmp_path / f"{name}.gff3"
        simulate_genome(fa, gff, 40_000, 2, seed)
        return fa.read_bytes(), gff.read_bytes()

    a, b, c = run("a", 3), run("b", 3), run("c", 4)
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


def test_chromosomes_are_unequal_and_sum_to_length(genome):
    fasta, summary = genome["fasta"], genome["summary"]
    assert list(fasta) == [f"chr{i + 1}" for i in range(CHROMOSOMES)]
    lengths = [len(s) for s in fasta.values()]
    assert sum(lengths) == LENGTH
    assert len(set(lengths)) == CHROMOSOMES
    assert summary["chromosomes"] == [{"name": k, "length": len(v)} for k, v in fasta.items()]
    lines = genome["dir"].joinpath("g.fa").read_text().splitlines()
    assert {len(x) for x in lines if not x.startswith(">")} <= set(range(1, FASTA_WIDTH + 1))
    assert set("".join(fasta.values())) <= set("ACGTNacgt")


def test_summary_counts_what_the_gff_holds(genome):
    counts = Counter(r["type"] for r in genome["rows"])
    summary = genome["summary"]
    assert summary["features"] == dict(counts)
    seq = "".join(genome["fasta"].values())
    assert summary["n_count"] == seq.count("N")
    assert summary["softmasked_fraction"] == pytest.approx(sum(c.islower() for c in seq) / LENGTH)
    classes = Counter(r["attrs"]["class"] for r in by_type(genome, "enhancer"))
    assert summary["enhancer_classes"] == dict(classes)


def test_features_are_planted_densely(genome):
    counts = genome["summary"]["features"]
    per_mbp = {k: v * 1e6 / LENGTH for k, v in counts.items()}
    # several hundred genes/promoters and enhancers per 2 Mbp
    assert per_mbp["gene"] > 150 and per_mbp["enhancer"] > 120
    assert per_mbp["repeat_region"] > 100
    assert counts["gap"] >= CHROMOSOMES
    assert len(genome["summary"]["enhancer_classes"]) == 3
    assert min(genome["summary"]["enhancer_classes"].values()) >= 5
    assert len(genome["summary"]["repeat_families"]) >= 5
    strands = Counter(g["strand"] for g in by_type(genome, "gene"))
    assert strands["+"] > 10 and strands["-"] > 10


# ---------------------------------------------------------------- GFF3 validity


def test_gff3_is_valid(genome):
    header, rows, fasta = genome["header"], genome["rows"], genome["fasta"]
    assert header[0] == "##gff-version 3"
    regions = {
        m.group(1): int(m.group(2))
        for h in header
        if (m := re.match(r"##sequence-region (\S+) 1 (\d+)$", h))
    }
    assert regions == {k: len(v) for k, v in fasta.items()}
    ids = {r["attrs"]["ID"] for r in rows if "ID" in r["attrs"]}
    expected = {
        "gene", "mRNA", "exon", "CDS", "intron", "promoter", "TATA_box", "Inr",
        "enhancer", "repeat_region", "gap",
    }  # fmt: skip
    assert expected <= {r["type"] for r in rows}
    spans = {}
    for r in rows:
        assert 1 <= r["start"] <= r["end"] <= regions[r["seqid"]], r
        assert r["strand"] in "+-." and r["strand"]
        assert r["phase"] in {"0", "1", "2"} if r["type"] == "CDS" else r["phase"] == "."
        if "ID" in r["attrs"]:
            spans.setdefault(r["attrs"]["ID"], []).append(r)
    for r in rows:
        for parent in r["attrs"].get("Parent", "").split(",") if "Parent" in r["attrs"] else []:
            assert parent in ids, r
            p = spans[parent][0]
            assert p["seqid"] == r["seqid"] and p["start"] <= r["start"] <= r["end"] <= p["end"]
    # IDs are unique except for the multi-line CDS features
    dup = [i for i, rs in spans.items() if len(rs) > 1]
    assert all({r["type"] for r in spans[i]} == {"CDS"} for i in dup)
    assert all(r["attrs"]["class"] in {"E1", "E2", "E3"} for r in by_type(genome, "enhancer"))
    assert all("family" in r["attrs"] for r in by_type(genome, "repeat_region"))
    # features come sorted by position within each chromosome
    for name in fasta:
        starts = [r["start"] for r in rows if r["seqid"] == name]
        assert starts == sorted(starts)


def test_planted_elements_do_not_overlap(genome):
    top = [
        r
        for r in genome["rows"]
        if r["type"] in {"gene", "promoter", "enhancer", "repeat_region", "gap"}
    ]
    # a promoter overlaps only its own gene (by its +50 downstream part)
    for name in genome["fasta"]:
        blocks = sorted(
            (r["start"], r["end"], r["attrs"].get("gene", r["attrs"].get("ID")))
            for r in top
            if r["seqid"] == name
        )
        for (_, e1, g1), (s2, _, g2) in zip(blocks, blocks[1:], strict=False):
            assert s2 > e1 or g1 == g2


# ---------------------------------------------------------------- genes read from the FASTA


def transcripts(genome) -> dict[str, dict[str, list[dict]]]:
    parts: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in genome["rows"]:
        if r["type"] in {"exon", "CDS", "intron"}:
            parts[r["attrs"]["Parent"]][r["type"]].append(r)
    return parts


def test_cds_is_an_open_reading_frame_and_introns_are_gt_ag(genome):
    fasta = genome["fasta"]
    mrnas = {r["attrs"]["ID"]: r for r in by_type(genome, "mRNA")}
    parts = transcripts(genome)
    assert set(parts) == set(mrnas)
    multi_exon = 0
    for mid, p in parts.items():
        strand = mrnas[mid]["strand"]
        seq = fasta[mrnas[mid]["seqid"]]
        cds_rows = sorted(p["CDS"], key=lambda r: r["start"], reverse=strand == "-")
        done = 0
        for r in cds_rows:  # phase: bases to skip to reach the next codon start
            assert int(r["phase"]) == (3 - done % 3) % 3
            done += r["end"] - r["start"] + 1
        cds = "".join(stranded(seq, r) for r in cds_rows)
        assert len(cds) % 3 == 0
        assert cds.startswith("ATG") and cds[-3:] in STOPS
        codons = [cds[i : i + 3] for i in range(0, len(cds) - 3, 3)]
        assert not STOPS & set(codons), mid
        assert len(p["exon"]) == len(p["intron"]) + 1
        for r in p["intron"]:
            intron = stranded(seq, r)
            assert intron.startswith("GT") and intron.endswith("AG"), intron
            tract = intron[-18:-3]
            assert sum(c in "CT" for c in tract) >= 9  # pyrimidine tract before the AG
        multi_exon += len(p["intron"]) > 0
        # the mRNA is the exons and introns, tiled without gaps
        pieces = sorted(p["exon"] + p["intron"], key=lambda r: r["start"])
        assert pieces[0]["start"] == mrnas[mid]["start"]
        assert pieces[-1]["end"] == mrnas[mid]["end"]
        assert all(a["end"] + 1 == b["start"] for a, b in zip(pieces, pieces[1:], strict=False))
    assert multi_exon > len(parts) / 3


def test_codon_usage_is_strongly_biased(genome):
    fasta = genome["fasta"]
    mrnas = {r["attrs"]["ID"]: r for r in by_type(genome, "mRNA")}
    counts: Counter = Counter()
    for mid, p in transcripts(genome).items():
        strand = mrnas[mid]["strand"]
        rows = sorted(p["CDS"], key=lambda r: r["start"], reverse=strand == "-")
        cds = "".join(stranded(fasta[mrnas[mid]["seqid"]], r) for r in rows)
        counts.update(cds[i : i + 3] for i in range(3, len(cds) - 3, 3))
    g = grammar()
    codons = ["".join("ACGT"[b] for b in c) for c in g.codons]
    by_aa = defaultdict(list)
    for codon, aa in zip(codons, g.codon_aa, strict=True):
        by_aa[aa].append(counts[codon])
    # normalised synonymous-codon entropy: 1 = uniform use of synonyms, 0 = a single codon
    ent, weights = [], []
    for cs in by_aa.values():
        if len(cs) > 1 and sum(cs) > 0:
            p = np.array(cs) / sum(cs)
            ent.append(-(p[p > 0] * np.log(p[p > 0])).sum() / math.log(len(cs)))
            weights.append(sum(cs))
    cds_entropy = np.average(ent, weights=weights)
    assert cds_entropy < 0.8
    # third positions are GC-rich: codon periodicity a model can learn
    gc3 = sum(n for c, n in counts.items() if c[2] in "GC") / sum(counts.values())
    gc1 = sum(n for c, n in counts.items() if c[0] in "GC") / sum(counts.values())
    assert gc3 > gc1 + 0.05


# ---------------------------------------------------------------- promoters and motifs


def test_tata_and_inr_sit_at_documented_offsets_from_the_tss(genome):
    fasta = genome["fasta"]
    rows = genome["rows"]
    genes = {r["attrs"]["ID"]: r for r in by_type(genome, "gene")}
    promoters = {r["attrs"]["ID"]: r for r in by_type(genome, "promoter")}
    assert len(promoters) == len(genes)
    children = defaultdict(dict)
    for r in rows:
        if r["type"] in {"TATA_box", "Inr"}:
            children[r["attrs"]["Parent"]][r["type"]] = r
    g = grammar()
    tata_scores, shifted_scores = [], []
    for pid, prom in promoters.items():
        gene = genes[prom["attrs"]["gene"]]
        tss = tss_of(gene)
        sign = 1 if gene["strand"] == "+" else -1
        seq = fasta[gene["seqid"]]

        def span(a, b, sign=sign, tss=tss):
            """0-based [a, b) offsets from the TSS -> 1-based GFF start, end."""
            lo, hi = sorted((tss + sign * a, tss + sign * (b - 1)))
            return lo + 1, hi + 1

        assert (prom["start"], prom["end"]) == span(*PROMOTER)
        tata, inr = children[pid]["TATA_box"], children[pid]["Inr"]
        assert (tata["start"], tata["end"]) == span(*TATA_BOX)
        assert (inr["start"], inr["end"]) == span(*INR)
        assert tata["strand"] == inr["strand"] == gene["strand"]
        assert stranded(seq, inr)[-INR[0]] == "A"  # the Inr's A is the first transcribed base
        tata_scores.append(g.tata.log_odds(encode(stranded(seq, tata)))[0])
        s, e = span(TATA_BOX[0] - 12, TATA_BOX[1] - 12)
        shifted = dict(start=s, end=e, strand=gene["strand"])
        shifted_scores.append(g.tata.log_odds(encode(stranded(seq, shifted)))[0])
    assert np.mean(tata_scores) > 6.0
    assert np.mean(shifted_scores) < 0.0
    # the flank upstream of the TATA box is GC-rich and keeps its CpGs
    flank = "".join(stranded(fasta[p["seqid"]], p)[:110] for p in promoters.values())
    gc = (flank.count("G") + flank.count("C")) / len(flank)
    assert gc > 0.6 and cpg_obs_exp(flank) > 0.8


def test_enhancers_are_clusters_of_their_own_class_motifs(genome):
    g = grammar()
    motifs = {m.name: m for ms in g.enhancer_classes.values() for m in ms}
    enhancers = {r["attrs"]["ID"]: r for r in by_type(genome, "enhancer")}
    sites = defaultdict(list)
    for r in by_type(genome, "TF_binding_site"):
        if r["attrs"].get("Parent") in enhancers:
            sites[r["attrs"]["Parent"]].append(r)
    scores = defaultdict(list)
    for eid, enh in enhancers.items():
        own = sites[eid]
        assert len(own) == int(enh["attrs"]["sites"]) >= 4
        assert {s["attrs"]["motif"].split(".")[0] for s in own} == {enh["attrs"]["class"]}
        for s in own:
            seq = stranded(genome["fasta"][s["seqid"]], s)
            m = motifs[s["attrs"]["motif"]]
            scores[m.name].append(m.log_odds(encode(seq))[0])
    # sampled from the PWM: mostly strong matches (random 8-12-mers score about -len)
    assert all(np.mean(v) > 0.5 * len(motifs[k]) for k, v in scores.items())
    # not one fixed k-mer: instances of a motif vary
    seqs = defaultdict(set)
    for eid in enhancers:
        for s in sites[eid]:
            seqs[s["attrs"]["motif"]].add(stranded(genome["fasta"][s["seqid"]], s))
    for name, variants in seqs.items():
        n = sum(s["attrs"]["motif"] == name for e in enhancers for s in sites[e])
        assert len(variants) > n / 3, name


# ---------------------------------------------------------------- repeats, gaps, composition


def mask_from(rows, seqid, length, ftype) -> np.ndarray:
    mask = np.zeros(length, bool)
    for r in rows:
        if r["seqid"] == seqid and r["type"] == ftype:
            mask[r["start"] - 1 : r["end"]] = True
    return mask


def test_repeats_are_lower_case_and_everything_else_upper_case(genome):
    for name, seq in genome["fasta"].items():
        arr = np.frombuffer(seq.encode(), dtype=np.uint8)
        lower = (arr >= ord("a")) & (arr <= ord("z"))
        assert np.array_equal(lower, mask_from(genome["rows"], name, len(seq), "repeat_region"))
    assert 0.05 < genome["summary"]["softmasked_fraction"] < 0.3
    strands = Counter(r["strand"] for r in by_type(genome, "repeat_region"))
    assert strands["+"] > 5 and strands["-"] > 5


def test_repeat_copies_resemble_their_family_consensus(genome):
    g = grammar()
    fams = {f.name: f for f in g.repeat_families}
    for r in by_type(genome, "repeat_region")[:40]:
        fam = fams[r["attrs"]["family"]]
        copy = stranded(genome["fasta"][r["seqid"]], r)
        cons = "".join("ACGT"[b] for b in fam.consensus)
        shared = kmer_set(copy, 8) & kmer_set(cons, 8)
        assert len(shared) > 0.1 * (len(copy) - 7), r


def test_gaps_are_n_exactly_where_the_gff_says(genome):
    sizes = set()
    for name, seq in genome["fasta"].items():
        arr = np.frombuffer(seq.encode(), dtype=np.uint8)
        mask = mask_from(genome["rows"], name, len(seq), "gap")
        assert np.array_equal(arr == ord("N"), mask)
        assert mask.any()
        sizes |= {r["end"] - r["start"] + 1 for r in by_type(genome, "gap") if r["seqid"] == name}
    assert len(sizes) > 1


def test_gc_content_varies_along_chromosomes(genome):
    """GC in 5 kb windows varies along each chromosome far more than binomial noise."""
    window = 5_000
    rng = np.random.default_rng(0)
    observed, shuffled, ranges = [], [], []
    for seq in genome["fasta"].values():
        arr = np.frombuffer(seq.upper().encode(), dtype=np.uint8)
        gc = np.isin(arr[arr != ord("N")], np.frombuffer(b"GC", dtype=np.uint8))
        n = len(gc) // window
        windows = gc[: n * window].reshape(n, window).mean(axis=1)
        observed.append(windows.var())
        ranges.append(windows.max() - windows.min())
        shuffled.append(rng.permutation(gc)[: n * window].reshape(n, window).mean(axis=1).var())
    assert math.sqrt(np.mean(observed)) > 3 * math.sqrt(np.mean(shuffled))
    assert max(ranges) > 0.08


def intergenic(genome) -> str:
    """Upper-case background: outside every planted feature, repeats and gaps."""
    out = []
    for name, seq in genome["fasta"].items():
        used = np.zeros(len(seq), bool)
        for r in genome["rows"]:
            if r["seqid"] == name:
                used[r["start"] - 1 : r["end"]] = True
        arr = np.frombuffer(seq.encode(), dtype=np.uint8).copy()
        arr[used] = ord("-")
        out.append(arr.tobytes().decode())
    return "-".join(out)


def cpg_obs_exp(seq: str) -> float:
    seq = seq.upper()
    n = len(seq)
    return seq.count("CG") * n / max(1, seq.count("C") * seq.count("G"))


def kmer_set(seq: str, k: int) -> set[str]:
    return {seq[i : i + k] for i in range(len(seq) - k + 1)}


def conditional_entropy_gain(pieces: list[str], order: int) -> float:
    """H(X) - H(X | previous `order` bases), in bits, over ACGT-only stretches."""
    ctx_counts: Counter = Counter()
    for p in pieces:
        ctx_counts.update(p[i : i + order + 1] for i in range(len(p) - order))
    base = Counter()
    for kmer, c in ctx_counts.items():
        base[kmer[-1]] += c
    total = sum(base.values())
    h = -sum(c / total * math.log2(c / total) for c in base.values())
    ctx_tot = Counter()
    for kmer, c in ctx_counts.items():
        ctx_tot[kmer[:-1]] += c
    h_cond = -sum(c / total * math.log2(c / ctx_tot[k[:-1]]) for k, c in ctx_counts.items())
    return h - h_cond


def test_background_is_a_higher_order_chain_not_iid(genome):
    bg = intergenic(genome)
    pieces = [p for p in re.split(r"[^ACGT]+", bg) if len(p) >= 200]
    assert sum(map(len, pieces)) > LENGTH / 5
    # CpG depletion, as in vertebrate genomes
    assert np.mean([cpg_obs_exp(p) for p in pieces if len(p) > 1000]) < 0.5
    # context predicts the next base far better than in the same bases shuffled locally
    # (shuffling within 200 bp blocks keeps the regional GC but destroys the order)
    rng = np.random.default_rng(1)
    shuffled = [
        "".join(rng.permutation(list(p[i : i + 200])))
        for p in pieces
        for i in range(0, len(p), 200)
    ]
    gain = conditional_entropy_gain(pieces, 3)
    gain_shuffled = conditional_entropy_gain(shuffled, 3)
    assert gain > 0.03 and gain > 5 * gain_shuffled


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("length", "chromosomes", "seed", "message"),
    [
        (10_000, 4, 1, "length=10000 is too small for 4 chromosomes"),
        (50_000, 0, 1, "chromosomes=0"),
        (50_000, 2, -1, "seed=-1 is negative"),
        (50_000.5, 2, 1, "length must be an integer"),
    ],
)
def test_bad_arguments_raise_a_clear_error_and_write_nothing(
    tmp_path, length, chromosomes, seed, message
):
    fa, gff = tmp_path / "g.fa", tmp_path / "g.gff3"
    with pytest.raises(ValueError, match=re.escape(message)):
        simulate_genome(fa, gff, length, chromosomes, seed)
    assert list(tmp_path.iterdir()) == []


def test_smallest_allowed_genome_still_has_every_feature_kind(tmp_path):
    summary = simulate_genome(tmp_path / "g.fa", tmp_path / "g.gff3", 20_000, 1, 11)
    assert summary["chromosomes"] == [{"name": "chr1", "length": 20_000}]
    assert {"gene", "promoter", "TATA_box", "Inr", "gap"} <= set(summary["features"])


def test_reverse_complement_of_codes():
    codes = reverse_complement(encode("AACGTTGCA"))
    assert "".join("ACGT"[c] for c in codes) == "TGCAACGTT"
