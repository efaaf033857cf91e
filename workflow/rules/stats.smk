# Statistics stage: every cell's metrics and test predictions -> the tables the report
# renders (transfer gains with CIs and paired tests, the three claims of transfer learning,
# ROC/PR points, confusion counts); the histories give the validation curves.


rule stats:
    input:
        summary=REPORT_SUMMARY,
        metrics=report_metrics,
        predictions=report_predictions,
        histories=report_histories,
    output:
        transfer=report(
            STATS_TRANSFER,
            caption="../report/transfer.rst",
            category="Tables",
            labels={"table": "transfer gain per task"},
        ),
        tasks=STATS_TASKS,
        curves=STATS_CURVES,
        confusion=STATS_CONFUSION,
        cells=STATS_CELLS,
        claims=STATS_CLAIMS,
    log:
        "logs/stats/stats.log",
    benchmark:
        "benchmarks/results/stats/stats.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        settings=config["evaluate"],
    script:
        "../scripts/stats.py"
