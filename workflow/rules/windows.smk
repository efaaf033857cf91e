# Windows stage: cut each genome into windows with a leak-free train/val/test split.


rule windows:
    input:
        unpack(windows_inputs),
    output:
        WINDOWS,
    log:
        "logs/windows/{genome}.log",
    benchmark:
        "benchmarks/results/windows/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        settings=config["windows"],
    script:
        "../scripts/windows.py"
