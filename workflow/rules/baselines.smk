# Baselines: one job per task x baseline x label fraction x seed, writing what a
# finetune cell writes, so that the evaluate and report rules treat it as any cell.


rule baseline:
    input:
        train=TASK_SPLIT.replace("{split}", "train"),
        val=TASK_SPLIT.replace("{split}", "val"),
        test=TASK_SPLIT.replace("{split}", "test"),
        meta=TASK_META,
    output:
        predictions=f"{BASELINE_DIR}/predictions.parquet",
        history=f"{BASELINE_DIR}/history.json",
        model=directory(f"{BASELINE_DIR}/model"),
    log:
        f"logs/baseline/{{task}}/{{variant}}/f{{fraction}}/s{{seed}}.log",
    benchmark:
        f"benchmarks/results/baseline/{{task}}/{{variant}}/f{{fraction}}/s{{seed}}.tsv"
    wildcard_constraints:
        variant=names_pattern(BASELINES),
    conda:
        "../../envs/train.yaml"
    threads: BASELINE_THREADS
    params:
        cell=baseline_settings,
    script:
        "../scripts/baseline.py"
