"""Randomly initialise an architecture spec with its tokenizer into results/models/{model}/base."""

from dnatune.logs import setup_logging
from dnatune.train.models import init_scratch_model

setup_logging(snakemake.log[0])
init_scratch_model(
    snakemake.params.spec,
    snakemake.input.tokenizer,
    snakemake.output[0],
    seed=snakemake.params.seed,
)
