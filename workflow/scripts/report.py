"""summary.tsv, the stats tables, histories and overview files -> report.html, figures/."""

from dnatune.logs import setup_logging
from dnatune.report import ReportInputs, write_report
from dnatune.stats import StatsPaths

setup_logging(snakemake.log[0])
inputs = snakemake.input
write_report(
    ReportInputs(
        summary_tsv=inputs.summary,
        stats=StatsPaths(
            inputs.transfer, inputs.tasks, inputs.curves, inputs.confusion, inputs.cells
        ),
        histories=list(inputs.histories),
        manifests=list(inputs.manifests),
        windows=list(inputs.windows),
        corpus_stats=list(inputs.corpus),
        model_dirs=list(inputs.models),
        pretrain_dirs=list(inputs.pretrained),
        task_meta=list(inputs.task_meta),
        benchmark_dir=snakemake.params.benchmark_dir,
        track_validation=list(snakemake.input.tracks),
    ),
    snakemake.output.html,
    snakemake.params.config,
    figures_dir=snakemake.output.figures,
    title=snakemake.params.title,
    n_boot=snakemake.params.bootstrap,
    confidence=snakemake.params.confidence,
)
