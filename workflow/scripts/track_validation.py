"""The applied cells' tracks scored against the annotation -> tracks.tsv and a region figure."""

from dnatune.apply.validation import validate_tracks
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
validate_tracks(
    snakemake.params.entries,
    snakemake.output.tsv,
    snakemake.output.figure,
    n_boot=snakemake.params.bootstrap,
    confidence=snakemake.params.confidence,
    seed=snakemake.params.seed,
)
