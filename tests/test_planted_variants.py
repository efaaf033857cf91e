"""The simulated genome's planted variants: what they break, and their matched background."""

from __future__ import annotations

import pandas as pd
import pysam
import pytest

from dnatune.genome.annotation import write_annotation_table
from dnatune.genome.planted_variants import ELEMENTS, planted_variants
from dnatune.genome.simulate import simulate_genome

COMPLEMENT = str.maketrans("ACGT", "TGCA")


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    simulate_genome(tmp / "g.fa", tmp / "g.gff3", 150_000, 2, seed=5)
    pysam.tabix_compress(str(tmp / "g.fa"), str(tmp / "g.fa.gz"))
    pysam.faidx(str(tmp / "g.fa.gz"))
    write_annotation_table(tmp / "g.gff3", tmp / "ann.parquet", fai=tmp / "g.fa.gz.fai")
    return tmp


def planted(genome, name: str, seed: int = 5, per_element: int = 6):
    out = genome / name
    counts = planted_variants(genome / "g.fa.gz", genome / "ann.parquet", out, seed, per_element)
    with pysam.VariantFile(str(out)) as vcf:
        return counts, list(vcf)


def test_planted_vcf_is_deterministic_balanced_and_matches_the_genome(genome):
    counts, records = planted(genome, "a.vcf.gz")
    _, again = planted(genome, "b.vcf.gz")
    _, other = planted(genome, "c.vcf.gz", seed=6)
    assert counts == {element: 6 for element in ELEMENTS}
    key = [(r.chrom, r.pos, r.ref, r.alts) for r in records]
    assert key == [(r.chrom, r.pos, r.ref, r.alts) for r in again]
    assert key != [(r.chrom, r.pos, r.ref, r.alts) for r in other]
    broken = [r for r in records if "BROKEN" in r.info]
    background = [r for r in records if "BROKEN" not in r.info]
    assert len(broken) == len(background) == 6 * len(ELEMENTS)
    assert {r.info["FEATURE"] for r in background} == {"background"}
    assert sorted(r.info["ELEMENT"] for r in background) == sorted(
        r.info["ELEMENT"] for r in broken
    )
    with pysam.FastaFile(str(genome / "g.fa.gz")) as fasta:
        for r in records:
            assert fasta.fetch(r.chrom, r.start, r.stop).upper() == r.ref
    assert edits(broken) == edits(background)  # REF's first base and the length change


def edits(records) -> list[tuple[int, str]]:
    return sorted((len(r.ref) - len(r.alts[0]), r.ref[0]) for r in records)


def test_breaking_variants_hit_their_element_and_background_avoids_every_feature(genome):
    _, records = planted(genome, "d.vcf.gz")
    features = pd.read_parquet(genome / "ann.parquet")
    with pysam.FastaFile(str(genome / "g.fa.gz")) as fasta:
        for r in records:
            element = r.info["ELEMENT"] if "BROKEN" in r.info else "background"
            here = features[
                (features["seqid"] == r.chrom)
                & (features["start"] <= r.start)
                & (features["end"] > r.start)
            ]
            if element == "background":
                near = features[
                    (features["seqid"] == r.chrom)
                    & (features["start"] - 20 <= r.start)
                    & (features["end"] + 20 > r.start)
                ]
                assert near.empty
            elif element in ("start_codon", "stop_codon", "frameshift"):
                assert "CDS" in set(here["type"])
            elif element == "TF_site":
                assert "TF_binding_site" in set(here["type"])
            else:
                assert element in set(here["type"])
            if element == "Inr":  # the TSS base: A in transcription orientation
                strand = here[here["type"] == "Inr"].iloc[0]["strand"]
                assert r.ref == ("A" if strand == "+" else "T")
            if element == "start_codon":
                cds = here[here["type"] == "CDS"].iloc[0]
                first = cds["start"] if cds["strand"] == "+" else cds["end"] - 3
                codon = fasta.fetch(r.chrom, first, first + 3).upper()
                assert (
                    codon if cds["strand"] == "+" else codon.translate(COMPLEMENT)[::-1]
                ) == "ATG"
                assert first <= r.start < first + 3
