"""A cell's scored chunks -> bigWig and bedGraph per track, and an IGV session."""

from dnatune.apply.track_jobs import merge_cell_tracks
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
merge_cell_tracks(
    list(snakemake.input.chunks),
    snakemake.input.fai,
    snakemake.output[0],
    snakemake.input.genome,
    snakemake.params.title,
)
