# Fine-tuning: one job per grid cell (task x model x variant x label fraction x seed).
# Every hyper-parameter enters through params, so editing one task's settings
# reruns only that task's cells.


rule finetune:
    input:
        model=finetune_model_dir,
        train=TASK_SPLIT.replace("{split}", "train"),
        val=TASK_SPLIT.replace("{split}", "val"),
        test=TASK_SPLIT.replace("{split}", "test"),
        meta=TASK_META,
    output:
        predictions=FINETUNE_PREDICTIONS,
        history=FINETUNE_HISTORY,
        model=directory(FINETUNE_MODEL),
    log:
        "logs/finetune/{task}/{model}/{variant}/f{fraction}/s{seed}.log",
    benchmark:
        "benchmarks/results/finetune/{task}/{model}/{variant}/f{fraction}/s{seed}.tsv"
    wildcard_constraints:
        variant=names_pattern(LM_VARIANTS),
    conda:
        "../../envs/train.yaml"
    threads: FINETUNE_THREADS
    resources:
        gpu=model_gpus,
    params:
        settings=finetune_settings,
        checkpoint_dir=FINETUNE_CHECKPOINT_DIR,
    script:
        "../scripts/finetune.py"
