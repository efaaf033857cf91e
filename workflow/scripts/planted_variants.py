"""The simulated genome's planted variants (broken elements and matched background) -> VCF."""

from dnatune.genome.planted_variants import planted_variants
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
planted_variants(
    snakemake.input.fasta,
    snakemake.input.annotation,
    snakemake.output[0],
    seed=snakemake.params.seed,
    per_element=snakemake.params.per_element,
)
