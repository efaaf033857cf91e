# Apply stage (config `apply:`): prediction tracks of fine-tuned cells over genomes, their
# validation against the annotation, and embeddings of base models. A genome's regions are
# cut into chunks by a checkpoint (its fai is known only once the genome is built); each
# chunk is one job, merged after, so a cluster spreads a genome over its GPUs.
include: "apply_common.smk"


checkpoint track_plan:
    input:
        unpack(plan_inputs),
    output:
        APPLY_PLAN,
    log:
        "logs/apply/track_plan/{genome}.log",
    benchmark:
        "benchmarks/results/apply/track_plan/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        regions=TRACKS.get("regions", "all"),
        chunk_bp=TRACKS.get("chunk_bp", 5_000_000),
    script:
        "../scripts/track_plan.py"


rule track_chunk:
    input:
        model=FINETUNE_MODEL,
        meta=TASK_META,
        genome=GENOME_FA,
        fai=GENOME_FAI,
        gzi=GENOME_GZI,
        plan=APPLY_PLAN,
    output:
        TRACK_CHUNK,
    log:
        "logs/apply/track_chunk/{task}/{model}/{variant}/f{fraction}/s{seed}/{genome}/{chunk}.log",
    benchmark:
        "benchmarks/results/apply/track_chunk/{task}/{model}/{variant}/f{fraction}/s{seed}/{genome}/{chunk}.tsv"
    wildcard_constraints:
        chunk="[0-9]+",
        variant=names_pattern(LM_VARIANTS),
    conda:
        "../../envs/apply.yaml"
    threads: APPLY_THREADS
    resources:
        gpu=model_gpus,
    params:
        settings=track_settings,
    script:
        "../scripts/track_chunk.py"


rule track_merge:
    input:
        chunks=track_chunk_files,
        genome=GENOME_FA,
        fai=GENOME_FAI,
    output:
        directory(TRACK_DIR),
    log:
        "logs/apply/track_merge/{task}/{model}/{variant}/f{fraction}/s{seed}/{genome}.log",
    benchmark:
        "benchmarks/results/apply/track_merge/{task}/{model}/{variant}/f{fraction}/s{seed}/{genome}.tsv"
    conda:
        "../../envs/apply.yaml"
    params:
        title=track_title,
    script:
        "../scripts/track_merge.py"


rule track_validation:
    input:
        unpack(validation_inputs),
    output:
        tsv=TRACK_VALIDATION,
        figure=TRACK_FIGURE,
    log:
        "logs/apply/track_validation.log",
    benchmark:
        "benchmarks/results/apply/track_validation.tsv"
    conda:
        "../../envs/apply.yaml"
    params:
        entries=_validation_entries(),
        bootstrap=config["evaluate"]["bootstrap"],
        confidence=config["evaluate"]["confidence"],
        seed=config["evaluate"]["seed"],
    script:
        "../scripts/track_validation.py"


rule embed_task:
    input:
        model=apply_base_model,
        train=TASK_SPLIT.replace("{split}", "train"),
        val=TASK_SPLIT.replace("{split}", "val"),
        test=TASK_SPLIT.replace("{split}", "test"),
        meta=TASK_META,
    output:
        EMBED_TASK,
    log:
        "logs/apply/embed_task/{model}/{task}.log",
    benchmark:
        "benchmarks/results/apply/embed_task/{model}/{task}.tsv"
    conda:
        "../../envs/apply.yaml"
    threads: APPLY_THREADS
    resources:
        gpu=model_gpus,
    params:
        settings=embed_settings,
    script:
        "../scripts/embed_task.py"


rule embed_chunk:
    input:
        model=apply_base_model,
        genome=GENOME_FA,
        fai=GENOME_FAI,
        gzi=GENOME_GZI,
        windows=WINDOWS,
        plan=APPLY_PLAN,
    output:
        EMBED_CHUNK,
    log:
        "logs/apply/embed_chunk/{model}/{genome}/{chunk}.log",
    benchmark:
        "benchmarks/results/apply/embed_chunk/{model}/{genome}/{chunk}.tsv"
    wildcard_constraints:
        chunk="[0-9]+",
    conda:
        "../../envs/apply.yaml"
    threads: APPLY_THREADS
    resources:
        gpu=model_gpus,
    params:
        settings=embed_settings,
    script:
        "../scripts/embed_chunk.py"


rule embed_genome:
    input:
        chunks=embed_chunk_files,
    output:
        EMBED_GENOME,
    log:
        "logs/apply/embed_genome/{model}/{genome}.log",
    benchmark:
        "benchmarks/results/apply/embed_genome/{model}/{genome}.tsv"
    conda:
        "../../envs/apply.yaml"
    script:
        "../scripts/embed_merge.py"
