"""A task's sequences (train, val, test) -> a base model's embeddings with their ids."""

from pathlib import Path

from dnatune.apply.embeddings import embed_task
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
embed_task(
    snakemake.input.model,
    Path(snakemake.input.meta).parent,
    snakemake.output[0],
    **snakemake.params.settings,
)
