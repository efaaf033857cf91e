"""Normalise a genome source to bgzip genome.fa.gz + .fai + .gzi and manifest.json."""

from dnatune.genome.source import build_genome
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
build_genome(
    snakemake.input.source,
    snakemake.output.fasta,
    snakemake.output.manifest,
    genome=snakemake.wildcards.genome,
    spec=snakemake.params.source,
    meta_path=getattr(snakemake.input, "meta", None),
    line_width=snakemake.params.line_width,
)
