"""(Continued) pre-training; with `gpu` > 1 it runs under torchrun, one process per GPU."""

from dnatune.logs import setup_logging
from dnatune.train.gpu_slots import claim_gpus
from dnatune.train.launch import launch
from dnatune.train.pretrain import PretrainArguments

setup_logging(snakemake.log[0])
args = PretrainArguments.from_config(
    snakemake.params.settings,
    model_dir=snakemake.input.model,
    corpus_dirs=list(snakemake.input.corpus),
    output_dir=snakemake.output[0],
    checkpoint_dir=snakemake.params.checkpoint_dir,
    threads=snakemake.threads,
    genomes=list(snakemake.params.genomes),
)
# the job's own GPUs (Slurm's, or free local ones); none on a CPU-only machine
with claim_gpus(snakemake.resources.get("gpu", 0)) as devices:
    launch("dnatune.train.pretrain:main", args, nproc=max(1, len(devices)))
