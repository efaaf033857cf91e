"""Write the synthetic genome (plain FASTA) and the GFF3 of what it planted."""

from dnatune.genome.source import simulate_source
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
simulate_source(snakemake.output.fasta, snakemake.output.gff, **snakemake.params.simulate)
