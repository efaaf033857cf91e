"""The genome's fai and apply.tracks.regions -> the chunk plan of the track jobs."""

from dnatune.apply.regions import write_plan
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
write_plan(
    snakemake.params.regions,
    snakemake.input.fai,
    snakemake.params.chunk_bp,
    snakemake.output[0],
)
