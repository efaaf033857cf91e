"""A VCF's alleles checked against the genome, with their windows -> alleles.parquet."""

from dnatune.apply.variants import index_variants
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
index_variants(
    snakemake.input.vcf,
    snakemake.input.fasta,
    snakemake.output[0],
    window=snakemake.params.window,
    ref_mismatch=snakemake.params.ref_mismatch,
    truth=snakemake.params.truth,
    group=snakemake.params.group,
)
