"""Variant effects from a VCF: index the alleles, score them in chunks, merge to a VCF and a TSV.

The stages, one rule each (workflow/rules/variants.smk):

1. `index_variants`: the VCF's alleles checked against the genome, with their windows
   (vcf_io.py), as alleles.parquet; every bad record is reported here, before any model runs;
2. `score_chunk`: one scorer (a model's pre-training head, or a fine-tuned cell) on rows
   [chunk * size, (chunk + 1) * size) of that table, so a cluster spreads the work;
3. `merge_scores`: all scorers' chunks as INFO fields of a sites-only VCF (one record per ALT)
   and as columns of a TSV, both written atomically.

A scorer is a dict: name (its INFO ID and TSV column), kind (zero_shot or supervised),
model_dir, and for zero_shot reinitialise and seed, for supervised task_type.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from dnatune.apply import scorers
from dnatune.apply.vcf_io import read_alleles
from dnatune.atomic import atomic_path

logger = logging.getLogger(__name__)

KINDS = ("zero_shot", "supervised")
ALLELE_INFO = [  # (ID, Number, Type, Description) written for every allele
    ("VE_STATUS", 1, "String", "dnatune: ok, ref_mismatch (REF differs from the genome, not "
     "scored) or symbolic (allele not spelled out, not scored)"),
    ("VE_KIND", 1, "String", "dnatune: snv, mnv, insertion, deletion, complex or symbolic"),
    ("VE_CLIPPED", 0, "Flag", "dnatune: the scored window was clipped at a contig end"),
]  # fmt: skip


def index_variants(
    vcf, fasta, out, window: int, ref_mismatch: str, truth: str | None, group: str | None = None
) -> int:
    """alleles.parquet of `vcf` against `fasta` (see vcf_io.read_alleles); returns its rows."""
    alleles = read_alleles(vcf, fasta, window, ref_mismatch, truth, group)
    with atomic_path(out) as tmp:
        alleles.to_parquet(tmp, index=False)
    return len(alleles)


def chunk_count(n_alleles: int, chunk: int) -> int:
    return max(1, -(-n_alleles // chunk))


def score_chunk(alleles_path, chunk: int, size: int, scorer: dict, out, batch_size: int) -> None:
    """One scorer's scores of one chunk's `ok` alleles: parquet of allele (row), score, method."""
    alleles = pd.read_parquet(alleles_path).iloc[chunk * size : (chunk + 1) * size]
    todo = alleles[alleles["status"] == "ok"]
    trust = bool(scorer.get("trust_remote_code", False))
    methods = ["delta"] * len(todo)
    if scorer["kind"] == "zero_shot":
        scores, methods = scorers.zero_shot(
            todo, scorer["model_dir"], scorer["reinitialise"], scorer["seed"], batch_size, trust
        )
    elif scorer["kind"] == "supervised":
        scores = scorers.supervised(
            todo, scorer["model_dir"], scorer["task_type"], batch_size, trust
        )
    else:
        raise ValueError(f"scorer {scorer['name']}: kind {scorer['kind']!r} is not one of {KINDS}")
    frame = pd.DataFrame({"allele": todo.index, "score": scores, "method": methods})
    with atomic_path(out) as tmp:
        frame.to_parquet(tmp, index=False)
    logger.info(
        "%s chunk %d: %d of %d alleles scored", scorer["name"], chunk, len(todo), len(alleles)
    )


def merged_table(alleles_path, chunk_files: dict[str, list]) -> pd.DataFrame:
    """The alleles (without windows) with one score column per scorer (NaN where not scored)."""
    alleles = pd.read_parquet(alleles_path).drop(columns=["ref_window", "alt_window"])
    for name, files in chunk_files.items():
        parts = [pd.read_parquet(f) for f in files]
        scored = pd.concat(parts).set_index("allele") if parts else pd.DataFrame()
        alleles[name] = scored["score"] if len(scored) else np.nan
        methods = scored["method"].unique().tolist() if len(scored) else []
        logger.info("%s: %d alleles scored (%s)", name, len(scored), ", ".join(methods) or "-")
    return alleles


def merge_scores(vcf, fasta, alleles_path, chunk_files: dict, descriptions: dict, out_vcf, out_tsv):
    """scores.vcf.gz and scores.tsv: one record / row per allele, one field per scorer.

    Both appear together or, on any error, neither.
    """
    table = merged_table(alleles_path, chunk_files)
    with atomic_path(out_tsv) as tsv, atomic_path(out_vcf) as bgzf:
        table.to_csv(tsv, sep="\t", index=False, float_format="%.6g")
        write_vcf(vcf, fasta, table, descriptions, bgzf)
    return table


def write_vcf(vcf, fasta, table: pd.DataFrame, descriptions: dict, out) -> None:
    """A sites-only bgzipped VCF of `table`'s alleles at `out`, INFO copied from `vcf` per ALT."""
    import pysam

    by_record = {r: rows for r, rows in table.groupby("record", sort=True)}
    with pysam.VariantFile(str(vcf)) as source, pysam.FastaFile(str(fasta)) as genome:
        header = _output_header(source.header, genome, descriptions)
        with pysam.VariantFile(str(out), "wz", header=header) as sink:
            for index, record in enumerate(source):
                for _, row in by_record.get(index, pd.DataFrame()).iterrows():
                    sink.write(_output_record(sink.header, record, row, descriptions))


def _output_header(source, genome, descriptions: dict):
    import pysam

    header = pysam.VariantHeader()
    for record in source.records:
        if record.type != "FORMAT":
            header.add_record(record)
    for name, length in zip(genome.references, genome.lengths, strict=True):
        if name not in header.contigs:
            header.contigs.add(name, length=length)
    for key, number, kind, text in ALLELE_INFO:
        header.info.add(key, number, kind, text)
    for name, text in descriptions.items():
        header.info.add(name, 1, "Float", text)
    return header


def _output_record(header, record, row, descriptions: dict):
    out = header.new_record(
        contig=record.chrom,
        start=record.start,
        alleles=(record.ref, row["alt"]),
        id=record.id,
        qual=record.qual,
        filter=list(record.filter),
    )
    alt = int(row["alt_index"])
    for key, value in record.info.items():
        number = record.header.info[key].number
        if number == "A":
            value = value[alt - 1]
        elif number == "R":
            value = (value[0], value[alt])
        elif number == "G":
            continue  # genotype likelihoods do not split per ALT without samples
        out.info[key] = value
    out.info["VE_STATUS"] = row["status"]
    out.info["VE_KIND"] = row["kind"]
    if row["clipped"]:
        out.info["VE_CLIPPED"] = True
    for name in descriptions:
        if pd.notna(row[name]):
            out.info[name] = float(row[name])
    return out
