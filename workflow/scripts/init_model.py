"""Randomly initialise an architecture spec with its tokenizer into results/models/{model}/base."""

import dataclasses

from dnatune.logs import setup_logging
from dnatune.settings import ScratchModelSettings
from dnatune.train.models import init_scratch_model

setup_logging(snakemake.log[0])
spec = ScratchModelSettings.from_config(snakemake.params.spec)  # every key, none unknown
init_scratch_model(
    dataclasses.asdict(spec),
    snakemake.input.tokenizer,
    snakemake.output[0],
    seed=snakemake.params.seed,
)
