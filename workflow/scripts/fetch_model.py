"""Copy a hub or local Hugging Face model with its tokenizer into results/models/{model}/base,
proving it loads, runs and saves with its pre-training and classification heads."""

from dnatune.logs import setup_logging
from dnatune.train.models import fetch_model

setup_logging(snakemake.log[0])
fetch_model(snakemake.params.spec, snakemake.output[0], name=snakemake.wildcards.model)
