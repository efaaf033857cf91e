# Model sources (a hub/local model fetched, or an architecture spec initialised)
# and (continued) pre-training on the corpus of the configured genomes.


localrules:
    fetch_model,


rule fetch_model:
    output:
        directory(MODEL_BASE),
    log:
        "logs/fetch_model/{model}.log",
    benchmark:
        "benchmarks/results/fetch_model/{model}.tsv"
    wildcard_constraints:
        model=names_pattern(HF_MODELS),
    conda:
        "../../envs/train.yaml"
    params:
        spec=hf_model_spec,
    script:
        "../scripts/fetch_model.py"


rule init_model:
    input:
        tokenizer=model_tokenizer_dir,
    output:
        directory(MODEL_BASE),
    log:
        "logs/init_model/{model}.log",
    benchmark:
        "benchmarks/results/init_model/{model}.tsv"
    wildcard_constraints:
        model=names_pattern(SCRATCH_MODELS),
    conda:
        "../../envs/train.yaml"
    params:
        spec=scratch_model_spec,
        seed=config["pretrain"]["seed"],
    script:
        "../scripts/init_model.py"


rule pretrain:
    input:
        model=MODEL_BASE,
        corpus=pretrain_corpus_dirs,
    output:
        directory(MODEL_STAGE),
    log:
        "logs/pretrain/{model}/{stage}.log",
    benchmark:
        "benchmarks/results/pretrain/{model}/{stage}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: PRETRAIN_THREADS
    resources:
        gpu=model_gpus,
    params:
        settings=pretrain_settings,
        genomes=PRETRAIN_GENOMES,
        checkpoint_dir=PRETRAIN_CHECKPOINT_DIR,
    script:
        "../scripts/pretrain.py"
