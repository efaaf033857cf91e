"""Every scorer's chunks -> scores.vcf.gz (INFO fields) and scores.tsv (columns)."""

from dnatune.apply.variants import merge_scores
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
names = list(snakemake.params.descriptions)
chunks = list(snakemake.input.chunks)
per_scorer = len(chunks) // len(names) if names else 0
merge_scores(
    snakemake.input.vcf,
    snakemake.input.fasta,
    snakemake.input.alleles,
    {name: chunks[i * per_scorer : (i + 1) * per_scorer] for i, name in enumerate(names)},
    snakemake.params.descriptions,
    snakemake.output.vcf,
    snakemake.output.tsv,
)
