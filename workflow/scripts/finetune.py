"""Fine-tune one grid cell; with `gpu` > 1 it runs under torchrun, one process per GPU.

Every hyper-parameter comes from the rule's params; checkpoints go to
params.checkpoint_dir, outside the outputs, so a rerun of a killed job resumes.
"""

from pathlib import Path

from dnatune.logs import setup_logging
from dnatune.train.finetune import FinetuneArguments
from dnatune.train.gpu_slots import claim_gpus
from dnatune.train.launch import launch

setup_logging(snakemake.log[0])
args = FinetuneArguments.from_config(
    snakemake.params.settings,
    model_dir=snakemake.input.model,
    task_dir=str(Path(snakemake.input.meta).parent),
    output_dir=str(Path(snakemake.output.predictions).parent),
    checkpoint_dir=snakemake.params.checkpoint_dir,
    threads=snakemake.threads,
)
# the job's own GPUs (Slurm's, or free local ones); none on a CPU-only machine
with claim_gpus(snakemake.resources.get("gpu", 0)) as devices:
    launch("dnatune.train.finetune:finetune", args, nproc=max(1, len(devices)))
