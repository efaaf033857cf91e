"""The genome windows of one plan chunk -> a base model's embeddings with their ids."""

from dnatune.apply.embeddings import embed_genome_chunk
from dnatune.apply.track_jobs import plan_chunk
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
embed_genome_chunk(
    snakemake.input.model,
    snakemake.input.genome,
    snakemake.input.windows,
    plan_chunk(snakemake.input.plan, int(snakemake.wildcards.chunk)),
    snakemake.output[0],
    **snakemake.params.settings,
)
