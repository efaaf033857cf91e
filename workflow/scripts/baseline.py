"""Train one baseline cell (one-hot CNN or k-mer spectrum regression)."""

from pathlib import Path

from dnatune.baselines import BaselineArguments, train_baseline
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
train_baseline(
    BaselineArguments(
        variant=snakemake.wildcards.variant,
        task_dir=str(Path(snakemake.input.meta).parent),
        output_dir=str(Path(snakemake.output.predictions).parent),
        threads=snakemake.threads,
        **snakemake.params.cell,
    )
)
