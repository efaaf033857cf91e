"""Genome stage: sources to an indexed bgzip FASTA and manifest; the rules run for real."""

import functools
import gzip
import hashlib
import json
import os
import random
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pysam
import pytest
from conftest import run_snakemake, tiny_config, write_config

from dnatune.compressed import compression
from dnatune.genome.annotation import write_annotation_table
from dnatune.genome.download import DownloadError, sha256_file
from dnatune.genome.fasta import FastaError
from dnatune.genome.source import (
    GenomeError,
    build_genome,
    fetch_source,
    genome_has_annotation,
    simulate_source,
    source_kind,
)

MANIFEST_KEYS = {
    "genome",
    "source",
    "sha256",
    "source_sha256",
    "contigs",
    "length",
    "n_count",
    "gc_fraction",
    "softmasked_fraction",
    "iupac_replaced",
}


def random_fasta(seed: int = 1) -> tuple[bytes, dict[str, str]]:
    """Two contigs over several BGZF blocks, with soft-masking, N runs and IUPAC codes."""
    rng = random.Random(seed)
    chr1 = "".join(rng.choice("ACGT") for _ in range(150_000))
    chr1 = chr1[:1000] + chr1[1000:3000].lower() + "N" * 500 + chr1[3500:]
    chr2 = "ACGTRYacgtkm" * 10
    text = ">chr1 test\r\n" + "\r\n".join(chr1[i : i + 70] for i in range(0, len(chr1), 70))
    text += "\r\n>chr2\r\n" + chr2 + "\r\n"
    expected = {"chr1": chr1, "chr2": chr2.replace("RY", "NN").replace("km", "nn")}
    return text.encode(), expected


def test_path_source_to_indexed_bgzip_and_manifest(tmp_path):
    data, expected = random_fasta()
    src = tmp_path / "my genome.fa.gz"
    src.write_bytes(gzip.compress(data))
    out = tmp_path / "results" / "genome.fa.gz"
    manifest = build_genome(
        src, out, tmp_path / "results" / "manifest.json", genome="mine", spec={"path": str(src)}
    )
    assert compression(out) == "bgzip"
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "genome.fa.gz",
        "genome.fa.gz.fai",
        "genome.fa.gz.gzi",
        "manifest.json",
    ]
    with pysam.FastaFile(str(out)) as fasta:
        assert list(fasta.references) == ["chr1", "chr2"]
        assert fasta.fetch("chr1") == expected["chr1"]  # case kept
        assert fasta.fetch("chr1", 70_000, 70_100) == expected["chr1"][70_000:70_100]
        assert fasta.fetch("chr2") == expected["chr2"]
    assert json.loads((out.parent / "manifest.json").read_text()) == manifest
    assert set(manifest) == MANIFEST_KEYS
    assert manifest["genome"] == "mine"
    assert manifest["source"] == {"kind": "path", "path": str(src.resolve())}
    assert manifest["sha256"] == sha256_file(out)
    assert manifest["source_sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert manifest["contigs"] == [
        {"name": "chr1", "length": 150_000},
        {"name": "chr2", "length": 120},
    ]
    assert manifest["length"] == 150_120
    assert manifest["n_count"] == 500 + 40
    assert manifest["iupac_replaced"] == 40
    lower = sum(c.islower() for s in expected.values() for c in s)
    assert manifest["softmasked_fraction"] == pytest.approx(lower / 150_120, abs=1e-6)
    called = "".join(expected.values()).upper().replace("N", "")
    gc = (called.count("G") + called.count("C")) / len(called)
    assert manifest["gc_fraction"] == pytest.approx(gc, abs=1e-6)


def test_bad_fasta_leaves_no_outputs(tmp_path):
    src = tmp_path / "g.fa"
    src.write_text(">chr1\nACGT\n>chr1\nACGT\n")
    results = tmp_path / "results"
    with pytest.raises(FastaError, match="contig name 'chr1' is already used"):
        build_genome(
            src,
            results / "genome.fa.gz",
            results / "manifest.json",
            genome="g",
            spec={"path": str(src)},
        )
    assert list(results.iterdir()) == []


def test_path_sha256_mismatch_is_an_error_naming_the_key(tmp_path):
    src = tmp_path / "g.fa"
    src.write_text(">chr1\nACGT\n")
    results = tmp_path / "results"
    spec = {"path": str(src), "sha256": "a" * 64}
    with pytest.raises(GenomeError, match=r"genomes\.g\.sha256: .*g\.fa has sha256"):
        build_genome(
            src, results / "genome.fa.gz", results / "manifest.json", genome="g", spec=spec
        )
    assert not results.exists() or list(results.iterdir()) == []


def test_source_kinds_and_which_genomes_have_an_annotation():
    assert source_kind({"ncbi": {"accession": "GCF_000005845.2"}}) == "ncbi"
    assert genome_has_annotation({"simulate": {}})
    assert genome_has_annotation({"ncbi": {"accession": "GCF_000005845.2"}})
    assert not genome_has_annotation(
        {"ncbi": {"accession": "GCF_000005845.2", "annotation": False}}
    )
    assert not genome_has_annotation({"url": "https://x/g.fa"})
    assert genome_has_annotation({"path": "g.fa", "annotation": {"path": "g.gff3"}})
    with pytest.raises(GenomeError, match="exactly one of"):
        source_kind({"path": "a", "url": "b"})


def test_url_checksum_mismatch_leaves_nothing_in_results(tmp_path):
    src = tmp_path / "g.fa"
    src.write_text(">chr1\nACGT\n")
    download_dir = tmp_path / "results" / "genomes" / "g" / "download"
    with pytest.raises(DownloadError, match=r"^genomes\.g: .*sha256 checksum mismatch"):
        fetch_source(
            {"url": src.as_uri(), "sha256": "b" * 64},
            "genome",
            download_dir / "genome.download",
            download_dir / "genome.download.json",
            genome="g",
        )
    assert list(download_dir.iterdir()) == []


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def ncbi_mirror(tmp_path):
    """An NCBI-like assembly folder with genome, md5checksums.txt and no GFF, over http."""
    root = tmp_path / "ncbi"
    folder = root / "GCA" / "000" / "005" / "845" / "GCA_000005845.2_ASM584v2"
    folder.mkdir(parents=True)
    genome = gzip.compress(b">U00096.3 E. coli\nACGTRacgt\n")
    (folder / "GCA_000005845.2_ASM584v2_genomic.fna.gz").write_bytes(genome)
    md5 = hashlib.md5(genome).hexdigest()
    (folder / "md5checksums.txt").write_text(f"{md5}  ./GCA_000005845.2_ASM584v2_genomic.fna.gz\n")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def test_ncbi_accession_is_resolved_downloaded_verified_and_normalised(tmp_path, ncbi_mirror):
    base, _ = ncbi_mirror
    spec = {"ncbi": {"accession": "GCA_000005845.2", "annotation": True}}
    dest = tmp_path / "results" / "download" / "genome.download"
    meta = fetch_source(
        spec, "genome", dest, str(dest) + ".json", genome="ecoli", ncbi_base=base, retries=1
    )
    assert meta["assembly_name"] == "ASM584v2"
    assert meta["verified"] == "md5"
    assert meta["url"].endswith("/GCA_000005845.2_ASM584v2/GCA_000005845.2_ASM584v2_genomic.fna.gz")
    manifest = build_genome(
        dest,
        tmp_path / "results" / "genome.fa.gz",
        tmp_path / "results" / "manifest.json",
        genome="ecoli",
        spec=spec,
        meta_path=str(dest) + ".json",
    )
    assert manifest["source"] == {
        "kind": "ncbi",
        "accession": "GCA_000005845.2",
        "url": meta["url"],
        "assembly_name": "ASM584v2",
        "verified": "md5",
    }
    assert manifest["source_sha256"] == meta["sha256"]
    assert manifest["contigs"] == [{"name": "U00096.3", "length": 9}]
    assert manifest["iupac_replaced"] == 1


def test_ncbi_md5_mismatch_leaves_nothing(tmp_path, ncbi_mirror):
    base, folder = ncbi_mirror
    (folder / "md5checksums.txt").write_text(
        "00000000000000000000000000000000  ./GCA_000005845.2_ASM584v2_genomic.fna.gz\n"
    )
    download_dir = tmp_path / "download"
    spec = {"ncbi": {"accession": "GCA_000005845.2", "name": "ASM584v2"}}
    with pytest.raises(DownloadError, match="md5 checksum mismatch"):
        fetch_source(
            spec, "genome", download_dir / "g", download_dir / "g.json", genome="e", ncbi_base=base
        )
    assert list(download_dir.iterdir()) == []


def test_ncbi_assembly_without_gff_says_how_to_turn_annotation_off(tmp_path, ncbi_mirror):
    base, _ = ncbi_mirror
    spec = {"ncbi": {"accession": "GCA_000005845.2"}}
    with pytest.raises(
        DownloadError, match=r"HTTP 404.*set genomes\.ecoli\.ncbi\.annotation: false"
    ):
        fetch_source(
            spec, "annotation", tmp_path / "a", tmp_path / "a.json", genome="ecoli", ncbi_base=base
        )


def test_simulated_genome_and_annotation_pass_through_the_stage(tmp_path):
    fasta, gff = tmp_path / "sim.fa", tmp_path / "sim.gff3"
    simulate_source(fasta, gff, length=20_000, chromosomes=2, seed=3)
    results = tmp_path / "results"
    spec = {"simulate": {"length": 20_000, "chromosomes": 2, "seed": 3}}
    manifest = build_genome(
        fasta, results / "genome.fa.gz", results / "manifest.json", genome="sim", spec=spec
    )
    assert [c["name"] for c in manifest["contigs"]] == ["chr1", "chr2"]
    assert manifest["length"] == 20_000
    assert manifest["source"] == {"kind": "simulate", "length": 20_000, "chromosomes": 2, "seed": 3}
    assert 0 < manifest["softmasked_fraction"] < 1 and manifest["n_count"] > 0
    counts = write_annotation_table(
        gff, results / "annotation.parquet", fai=results / "genome.fa.gz.fai"
    )
    assert {"gene", "CDS", "promoter", "repeat_region"} <= set(counts)
    rows = pq.read_table(results / "annotation.parquet").to_pylist()
    lengths = {c["name"]: c["length"] for c in manifest["contigs"]}
    assert all(0 <= r["start"] < r["end"] <= lengths[r["seqid"]] for r in rows)
    assert [(r["seqid"], r["start"]) for r in rows] == sorted(
        (r["seqid"], r["start"]) for r in rows
    )


@pytest.mark.workflow
def test_rules_build_path_and_url_genomes_and_rerun_on_edit(tmp_path):
    """snakemake for real: a path genome with a BED, a file:// URL genome with sha256 and a GTF."""
    data, expected = random_fasta(seed=2)
    local = tmp_path / "data" / "local.fa"
    local.parent.mkdir()
    local.write_bytes(data)
    remote = tmp_path / "data" / "remote.fa.gz"
    remote.write_bytes(gzip.compress(b">contig_1\nACGTACGTNN\nacgt\n"))
    (tmp_path / "data" / "peaks.bed").write_text("chr1\t100\t200\tp1\nchr2\t0\t10\tp2\n")
    (tmp_path / "data" / "genes.gtf").write_text(
        'contig_1\tx\texon\t2\t5\t.\t+\t.\tgene_id "g1";\n'
    )
    config = tiny_config()
    config["genomes"] = {
        "local": {"path": str(local), "annotation": {"path": "data/peaks.bed"}},
        "remote": {
            "url": remote.as_uri(),
            "sha256": sha256_file(remote),
            "annotation": {"url": (tmp_path / "data" / "genes.gtf").as_uri(), "format": "gtf"},
        },
    }
    config["tasks"] = {}
    config["pretrain"]["genomes"] = ["local"]
    write_config(tmp_path, config)
    targets = [
        f"results/genomes/{g}/{f}"
        for g in ("local", "remote")
        for f in ("genome.fa.gz", "manifest.json", "annotation.parquet")
    ]
    run_snakemake(tmp_path, "--cores", "1", *targets)
    with pysam.FastaFile(str(tmp_path / "results/genomes/local/genome.fa.gz")) as fasta:
        assert fasta.fetch("chr2") == expected["chr2"]
    remote_manifest = json.loads((tmp_path / "results/genomes/remote/manifest.json").read_text())
    assert remote_manifest["source"]["kind"] == "url"
    assert remote_manifest["source"]["verified"] == "sha256"
    assert remote_manifest["contigs"] == [{"name": "contig_1", "length": 14}]
    gtf = pq.read_table(tmp_path / "results/genomes/remote/annotation.parquet").to_pylist()
    assert [(r["start"], r["end"], r["name"]) for r in gtf] == [(1, 5, "g1")]
    bed = pq.read_table(tmp_path / "results/genomes/local/annotation.parquet").to_pylist()
    assert [(r["seqid"], r["start"], r["end"]) for r in bed] == [
        ("chr1", 100, 200),
        ("chr2", 0, 10),
    ]
    for rule in ("download_genome", "download_annotation", "genome_fasta", "annotation_table"):
        assert (tmp_path / "logs" / rule).is_dir()
        assert (tmp_path / "benchmarks" / "results" / rule).is_dir()

    # an edited source file is newer than the outputs: only its genome is rebuilt
    # (snakemake compares checksums of small inputs, so a mere touch would not count)
    with open(local, "ab") as handle:
        handle.write(b">chr3\nACGT\n")
    later = time.time() + 5
    os.utime(local, (later, later))
    dry = run_snakemake(tmp_path, "-n", "--cores", "1", *targets)
    assert "genome_fasta" in dry.stdout
    assert "wildcards: genome=local" in dry.stdout
    assert "wildcards: genome=remote" not in dry.stdout
