"""Score one grid cell's test predictions into metrics.json."""

from dnatune.evaluate.score import evaluate_cell
from dnatune.logs import setup_logging
from dnatune.settings import EvaluateSettings

setup_logging(snakemake.log[0])
settings = EvaluateSettings.from_config(snakemake.params.settings)
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
    bootstrap=settings.bootstrap,
    confidence=settings.confidence,
    bootstrap_seed=settings.seed,
    threshold_rule=settings.threshold,
)
