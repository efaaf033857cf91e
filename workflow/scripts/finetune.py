"""Fine-tune one grid cell; every hyper-parameter comes from the rule's params."""

from pathlib import Path

from dnatune.finetune import FinetuneArguments, finetune
from dnatune.gpu_slots import claim_gpus
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
with claim_gpus(snakemake.resources.get("gpu", 0)):  # a GPU of its own when run locally
    finetune(
        FinetuneArguments.from_settings(
            snakemake.params.settings,
            model_dir=snakemake.input.model,
            task_dir=str(Path(snakemake.input.meta).parent),
            output_dir=str(Path(snakemake.output.predictions).parent),
            threads=snakemake.threads,
        )
    )
