# Report stage: every grid cell's metrics -> summary.tsv, then the transfer
# statistics, figures and the self-contained report.html.


rule summary:
    input:
        metrics=report_metrics,
        histories=report_histories,
    output:
        report(
            REPORT_SUMMARY,
            caption="../report/summary.rst",
            category="Tables",
            labels={"table": "all metrics per run"},
        ),
    log:
        "logs/summary/summary.log",
    benchmark:
        "benchmarks/results/summary/summary.tsv"
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/summary.py"


rule report:
    input:
        summary=REPORT_SUMMARY,
        metrics=report_metrics,
        histories=report_histories,
        predictions=report_predictions,
        manifests=report_manifests,
        windows=report_windows,
        corpus=report_corpus_dirs,
        models=report_model_dirs,
        pretrained=report_pretrain_dirs,
        task_meta=report_task_meta,
    output:
        html=report(
            REPORT_HTML,
            caption="../report/report.rst",
            category="Report",
            labels={"page": "transfer learning report"},
        ),
        transfer=report(
            REPORT_TRANSFER,
            caption="../report/transfer.rst",
            category="Tables",
            labels={"table": "transfer gain per task"},
        ),
        figures=report(
            directory(REPORT_FIGURES),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
    log:
        "logs/report/report.log",
    benchmark:
        "benchmarks/results/report/report.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        config=config,
        title=config["report"]["title"],
        bootstrap=config["evaluate"]["bootstrap"],
        confidence=config["evaluate"]["confidence"],
        seed=config["evaluate"]["seed"],
        benchmark_dir=BENCHMARK_DIR,
    script:
        "../scripts/report.py"
