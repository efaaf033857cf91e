"""One chunk of the genome scored by a fine-tuned cell's model -> stitched scores (Parquet)."""

from dnatune.apply.track_jobs import cell_track_chunk
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
settings = snakemake.params.settings
cell_track_chunk(
    snakemake.input.model,
    snakemake.input.genome,
    snakemake.input.plan,
    int(snakemake.wildcards.chunk),
    snakemake.input.meta,
    snakemake.output[0],
    window=settings["window"],
    stride=settings["stride"],
    both_strands=settings["both_strands"],
    batch_size=settings["batch_size"],
    trust_remote_code=settings["trust_remote_code"],
)
