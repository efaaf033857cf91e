"""Score one grid cell's test predictions into metrics.json."""

from dnatune.evaluate.score import evaluate_cell
from dnatune.logs import setup_logging

setup_logging(snakemake.log[0])
evaluate_cell(
    snakemake.input.predictions,
    snakemake.input.history,
    snakemake.input.meta,
    snakemake.output[0],
    task=snakemake.wildcards.task,
    model=snakemake.wildcards.model,
    variant=snakemake.wildcards.variant,
    label_fraction=float(snakemake.wildcards.fraction),
    seed=int(snakemake.wildcards.seed),
    metric=snakemake.params.metric,
    bootstrap=snakemake.params.bootstrap,
    confidence=snakemake.params.confidence,
    bootstrap_seed=snakemake.params.seed,
    threshold_rule=snakemake.params.threshold,
)
