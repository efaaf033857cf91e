"""Build one task's train/val/test parquet files and meta.json (TASK_DIR)."""

from pathlib import Path

from dnatune.logs import setup_logging
from dnatune.tasks.build import build_task

setup_logging(snakemake.log[0])
build_task(
    snakemake.wildcards.task,
    snakemake.params.spec,
    Path(snakemake.output.meta).parent,
    inputs=dict(snakemake.input.items()),
)
