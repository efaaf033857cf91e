"""summary.tsv and every cell's metrics, predictions and history -> results/stats/ tables."""

from dnatune.logs import setup_logging
from dnatune.settings import EvaluateSettings
from dnatune.stats.tables import StatsPaths, write_stats

setup_logging(snakemake.log[0])
settings = EvaluateSettings.from_config(snakemake.params.settings)
out = snakemake.output
write_stats(
    snakemake.input.summary,
    list(snakemake.input.metrics),
    list(snakemake.input.predictions),
    StatsPaths(out.transfer, out.tasks, out.curves, out.confusion, out.cells, out.claims),
    n_boot=settings.bootstrap,
    confidence=settings.confidence,
    seed=settings.seed,
    history_paths=list(snakemake.input.histories),
)
