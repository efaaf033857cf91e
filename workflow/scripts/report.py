"""summary.tsv, predictions, histories and overview files -> report.html, transfer.tsv, figures/."""

from dnatune.logs import setup_logging
from dnatune.report import ReportInputs, write_report

setup_logging(snakemake.log[0])
inputs = snakemake.input
write_report(
    ReportInputs(
        summary_tsv=inputs.summary,
        metrics=list(inputs.metrics),
        histories=list(inputs.histories),
        predictions=list(inputs.predictions),
        manifests=list(inputs.manifests),
        windows=list(inputs.windows),
        corpus_stats=list(inputs.corpus),
        model_dirs=list(inputs.models),
        pretrain_dirs=list(inputs.pretrained),
        task_meta=list(inputs.task_meta),
        benchmark_dir=snakemake.params.benchmark_dir,
    ),
    snakemake.output.html,
    snakemake.params.config,
    transfer_tsv=snakemake.output.transfer,
    figures_dir=snakemake.output.figures,
    title=snakemake.params.title,
    n_boot=snakemake.params.bootstrap,
    confidence=snakemake.params.confidence,
    seed=snakemake.params.seed,
)
