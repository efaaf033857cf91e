# Tokenize stage: tokenizers (built-in kinds, bpe trained on the pre-training genomes,
# or an hf model's own) and the token corpus of each genome for each tokenizer.


rule build_tokenizer:
    input:
        unpack(tokenizer_inputs),
    output:
        directory(TOKENIZER_DIR),
    log:
        "logs/build_tokenizer/{tokenizer}.log",
    benchmark:
        "benchmarks/results/build_tokenizer/{tokenizer}.tsv"
    conda:
        "../../envs/genome.yaml"
    threads: TOKENIZER_THREADS
    params:
        spec=tokenizer_spec,
    script:
        "../scripts/build_tokenizer.py"


rule corpus:
    input:
        genome=GENOME_FA,
        fai=GENOME_FAI,
        gzi=GENOME_GZI,
        windows=WINDOWS,
        tokenizer=TOKENIZER_DIR,
    output:
        directory(CORPUS_DIR),
    log:
        "logs/corpus/{genome}/{tokenizer}.log",
    benchmark:
        "benchmarks/results/corpus/{genome}/{tokenizer}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        shard_windows=CORPUS_SHARD_WINDOWS,
        shard_format=CORPUS_SHARD_FORMAT,
    script:
        "../scripts/corpus.py"
