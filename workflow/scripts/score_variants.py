"""One scorer (a model's pre-training head, or a fine-tuned cell) on one chunk of alleles."""

import json

from dnatune.apply.variants import score_chunk
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
scorer = dict(snakemake.params.scorer, model_dir=snakemake.input.model)
if scorer["kind"] == "supervised":
    with open(snakemake.input.meta) as meta:
        scorer["task_type"] = json.load(meta)["type"]
score_chunk(
    snakemake.input.alleles,
    int(snakemake.wildcards.chunk),
    snakemake.params.chunk,
    scorer,
    snakemake.output[0],
    snakemake.params.batch_size,
)
