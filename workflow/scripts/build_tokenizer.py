"""Build a tokenizer directory: a built-in kind, bpe trained on the pre-training genomes'
train windows, or an hf model's own tokenizer copied from its fetched base directory."""

import os

os.environ.setdefault("RAYON_NUM_THREADS", str(snakemake.threads))  # bpe training threads

from dnatune.corpus.shards import build_workflow_tokenizer  # noqa: E402
from dnatune.logs import setup_logging  # noqa: E402

setup_logging(snakemake.log[0])
build_workflow_tokenizer(
    dict(snakemake.params.spec),
    snakemake.output[0],
    genome_fas=list(snakemake.input.get("genomes", [])),
    windows_paths=list(snakemake.input.get("windows", [])),
    model_dir=snakemake.input.get("model"),
)
