# Tasks stage: each task's source (csv, tsv, parquet, fasta, bed + genome or
# annotation + genome) to checked, split train/val/test parquet files + meta.json.


rule build_task:
    input:
        unpack(task_inputs),
    output:
        train=f"{TASK_DIR}/train.parquet",
        val=f"{TASK_DIR}/val.parquet",
        test=f"{TASK_DIR}/test.parquet",
        meta=TASK_META,
    log:
        "logs/build_task/{task}.log",
    benchmark:
        "benchmarks/results/build_task/{task}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        spec=task_spec,
    script:
        "../scripts/build_task.py"
