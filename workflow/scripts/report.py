"""summary.tsv, the stats tables, histories and overview files -> report.html, figures/,
and claims.tsv beside summary.tsv."""

from dnatune.logs import setup_logging
from dnatune.report.render import ReportInputs, write_report
from dnatune.stats.tables import StatsPaths

setup_logging(snakemake.log[0])
inputs = snakemake.input
write_report(
    ReportInputs(
        summary_tsv=inputs.summary,
        stats=StatsPaths(
            inputs.transfer,
            inputs.tasks,
            inputs.curves,
            inputs.confusion,
            inputs.cells,
            inputs.claims,
        ),
        histories=list(inputs.histories),
        manifests=list(inputs.manifests),
        windows=list(inputs.windows),
        corpus_stats=list(inputs.corpus),
        model_dirs=list(inputs.models),
        pretrain_dirs=list(inputs.pretrained),
        task_meta=list(inputs.task_meta),
        benchmark_dir=snakemake.params.benchmark_dir,
        variant_auroc=list(inputs.variant_auroc),
        track_validation=list(snakemake.input.tracks),
    ),
    snakemake.output.html,
    snakemake.params.config,
    figures_dir=snakemake.output.figures,
    title=snakemake.params.title,
    n_boot=snakemake.params.bootstrap,
    confidence=snakemake.params.confidence,
    claims_copy=snakemake.output.claims,
)
