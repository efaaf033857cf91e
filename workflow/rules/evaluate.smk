# Evaluation: one cell's test predictions -> metrics.json with bootstrap CIs.


rule evaluate:
    input:
        predictions=FINETUNE_PREDICTIONS,
        history=FINETUNE_HISTORY,
        meta=TASK_META,
    output:
        EVAL_METRICS,
    log:
        "logs/evaluate/{task}/{model}/{variant}/f{fraction}/s{seed}.log",
    benchmark:
        "benchmarks/results/evaluate/{task}/{model}/{variant}/f{fraction}/s{seed}.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        metric=task_metric,
        settings=config["evaluate"],
    script:
        "../scripts/evaluate.py"
