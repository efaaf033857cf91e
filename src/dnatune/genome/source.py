"""The genome stage: fetch or simulate a source, normalise it to an indexed bgzip FASTA.

Every source (url, ncbi, path, simulate) ends as results/genomes/{genome}/:
genome.fa.gz (bgzip, 60 bases a line, case kept, non-ACGTN bases as N/n),
genome.fa.gz.fai and .gzi (pysam.faidx), and manifest.json describing it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pysam

from dnatune.atomic import atomic_path
from dnatune.genome.download import DownloadError, download, sha256_file
from dnatune.genome.fasta import LINE_WIDTH, normalise_fasta
from dnatune.genome.ncbi import NCBI_BASE, NcbiError, expected_md5, resolve_assembly
from dnatune.genome.simulate import simulate_genome

logger = logging.getLogger(__name__)

# zlib level 1 compresses DNA about 8x faster than htslib's default level 6, for files about
# 10% larger (both on the synthetic genome), and reading them is as fast: normalising a
# genome was bound by compression.
BGZF_LEVEL = 1

SOURCE_KINDS = ("url", "path", "ncbi", "simulate")


class GenomeError(ValueError):
    """A genome source problem; the message names the config key and the fix."""


def source_kind(genome_cfg: dict) -> str:
    """Which of url, path, ncbi, simulate a genome's config uses (the schema allows one)."""
    kinds = [k for k in SOURCE_KINDS if k in genome_cfg]
    if len(kinds) != 1:
        raise GenomeError(
            f"a genome needs exactly one of {', '.join(SOURCE_KINDS)}; found {kinds or 'none'}"
        )
    return kinds[0]


def genome_has_annotation(genome_cfg: dict) -> bool:
    """True for simulate, for ncbi with annotation (the default), and with an `annotation` key."""
    if "annotation" in genome_cfg or "simulate" in genome_cfg:
        return True
    return "ncbi" in genome_cfg and genome_cfg["ncbi"].get("annotation", True)


def fetch_source(
    spec: dict,
    part: str,
    dest: str | os.PathLike,
    meta: str | os.PathLike,
    *,
    genome: str,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    ncbi_base: str = NCBI_BASE,
) -> dict:
    """Download a genome's sequence or annotation (`part`) to `dest`; record it in `meta`.

    `spec` is {"url": ..., "sha256": ...} or {"ncbi": {"accession": ..., "name": ...}}.
    NCBI downloads are checked against the assembly's md5checksums.txt.
    """
    if part not in ("genome", "annotation"):
        raise ValueError(f"part must be 'genome' or 'annotation', not {part!r}")
    key = f"genomes.{genome}" + (".annotation" if part == "annotation" and "url" in spec else "")
    record: dict = {}
    try:
        if "ncbi" in spec:
            ncbi = spec["ncbi"]
            assembly = resolve_assembly(
                ncbi["accession"],
                ncbi.get("name"),
                base_url=ncbi_base,
                retries=retries,
                backoff=backoff,
                timeout=timeout,
            )
            url = assembly.genome_url if part == "genome" else assembly.annotation_url
            sha256 = None
            md5 = expected_md5(assembly, url, retries=retries, backoff=backoff, timeout=timeout)
            record.update(accession=assembly.accession, assembly_name=assembly.name)
        else:
            url, sha256, md5 = spec["url"], spec.get("sha256"), None
        done = download(
            url, dest, sha256=sha256, md5=md5, retries=retries, backoff=backoff, timeout=timeout
        )
    except (DownloadError, NcbiError) as err:
        hint = ""
        if part == "annotation" and "ncbi" in spec and "HTTP 404" in str(err):
            hint = f" (the assembly has no GFF: set genomes.{genome}.ncbi.annotation: false)"
        raise type(err)(f"{key}: {err}{hint}") from None
    record.update(
        url=done.url,
        bytes=done.bytes,
        sha256=done.sha256,
        md5=done.md5,
        verified="sha256" if sha256 else ("md5" if md5 else None),
        attempts=done.attempts,
        resumed=done.resumed,
    )
    _write_json(meta, record)
    return record


def simulate_source(
    fasta: str | os.PathLike, gff: str | os.PathLike, *, length: int, chromosomes: int, seed: int
) -> dict:
    """Write the synthetic genome and its GFF3 (simulate_genome writes them atomically)."""
    summary = simulate_genome(fasta, gff, length, chromosomes, seed)
    logger.info(
        "simulated %d bp on %d chromosomes (seed %d) -> %s, %s",
        length,
        chromosomes,
        seed,
        fasta,
        gff,
    )
    return summary


def describe_source(spec: dict, meta: dict | None = None) -> dict:
    """The manifest's `source`: the kind and what identifies it."""
    kind = source_kind(spec)
    if kind == "simulate":
        return {"kind": kind, **spec["simulate"]}
    if kind == "path":
        return {"kind": kind, "path": str(Path(spec["path"]).resolve())}
    described = {"kind": kind}
    if kind == "ncbi":
        described.update(spec["ncbi"])
        described.pop("annotation", None)
    if meta:
        described.update(
            {k: meta[k] for k in ("url", "assembly_name", "verified") if meta.get(k) is not None}
        )
    elif kind == "url":
        described["url"] = spec["url"]
    return described


def build_genome(
    source: str | os.PathLike,
    fasta_out: str | os.PathLike,
    manifest_out: str | os.PathLike,
    *,
    genome: str,
    spec: dict,
    meta_path: str | os.PathLike | None = None,
    line_width: int = LINE_WIDTH,
) -> dict:
    """Normalise `source` into bgzip `fasta_out` (+ .fai, .gzi) and write the manifest.

    `spec` is the genome's config without its annotation; `meta_path` the
    download record of url and ncbi sources. A `path` source with `sha256` is
    verified first. All outputs appear only when complete.
    """
    meta = json.loads(Path(meta_path).read_text()) if meta_path else None
    kind = source_kind(spec)
    display = meta["url"] if meta else str(spec["path"]) if kind == "path" else str(source)
    source_sha256 = meta["sha256"] if meta else sha256_file(source)
    expected = spec.get("sha256")
    if kind == "path" and expected and expected.lower() != source_sha256:
        raise GenomeError(
            f"genomes.{genome}.sha256: {display} has sha256 {source_sha256}, the config expects "
            f"{expected.lower()}; the file changed or the checksum is wrong, update one of them"
        )
    fasta_out = Path(fasta_out)
    fai = fasta_out.with_name(fasta_out.name + ".fai")
    gzi = fasta_out.with_name(fasta_out.name + ".gzi")
    with (
        atomic_path(fasta_out) as tmp_fa,
        atomic_path(fai) as tmp_fai,
        atomic_path(gzi) as tmp_gzi,
    ):
        with pysam.BGZFile(str(tmp_fa), f"wb{BGZF_LEVEL}") as out:
            stats = normalise_fasta(source, out.write, display=display, line_width=line_width)
        pysam.faidx(str(tmp_fa), "--fai-idx", str(tmp_fai), "--gzi-idx", str(tmp_gzi))
        sha256 = sha256_file(tmp_fa)
    manifest = {
        "genome": genome,
        "source": describe_source(spec, meta),
        "sha256": sha256,
        "source_sha256": source_sha256,
        "contigs": [{"name": c.name, "length": c.length} for c in stats.contigs],
        "length": stats.length,
        "n_count": stats.n_count,
        "gc_fraction": round(stats.gc_fraction, 6),
        "softmasked_fraction": round(stats.softmasked_fraction, 6),
        "iupac_replaced": stats.iupac_replaced,
    }
    _write_json(manifest_out, manifest)
    logger.info(
        "genome %s: %d contigs, %d bp -> %s (sha256 %s)",
        genome,
        len(stats.contigs),
        stats.length,
        fasta_out,
        sha256,
    )
    return manifest


def _write_json(path: str | os.PathLike, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
