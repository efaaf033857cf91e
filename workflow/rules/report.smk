# Report stage: every grid cell's metrics -> summary.tsv; then, with the stats
# stage's tables, the figures and the self-contained report.html (rendering only).


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
        transfer=STATS_TRANSFER,
        tasks=STATS_TASKS,
        curves=STATS_CURVES,
        confusion=STATS_CONFUSION,
        cells=STATS_CELLS,
        claims=STATS_CLAIMS,
        histories=report_histories,
        manifests=report_manifests,
        windows=report_windows,
        corpus=report_corpus_dirs,
        models=report_model_dirs,
        pretrained=report_pretrain_dirs,
        task_meta=report_task_meta,
        variant_auroc=report_variant_auroc,
        tracks=report_track_validation,
    output:
        html=report(
            REPORT_HTML,
            caption="../report/report.rst",
            category="Report",
            labels={"page": "transfer learning report"},
        ),
        figures=report(
            directory(REPORT_FIGURES),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
            labels={"figure": "{name}"},
        ),
        claims=report(
            REPORT_CLAIMS,
            caption="../report/claims.rst",
            category="Tables",
            labels={"table": "three claims of transfer learning"},
        ),
    log:
        "logs/report/report.log",
    benchmark:
        "benchmarks/results/report/report.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        config=report_config(),
        title=config["report"]["title"],
        bootstrap=config["evaluate"]["bootstrap"],
        confidence=config["evaluate"]["confidence"],
        benchmark_dir=BENCHMARK_DIR,
    script:
        "../scripts/report.py"
