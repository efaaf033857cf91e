# Genome stage: any source (url, ncbi, path, simulate) to an indexed bgzip FASTA
# with its manifest, and an annotation (GFF3, GTF, BED) to a sorted feature table.


# Downloads need internet: a cluster's login node has it, compute nodes often not.
localrules:
    download_genome,
    download_annotation,


rule download_genome:
    output:
        file=GENOME_DOWNLOAD,
        meta=GENOME_DOWNLOAD_META,
    log:
        "logs/download_genome/{genome}.log",
    benchmark:
        "benchmarks/results/download_genome/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        source=genome_download_spec,
        part="genome",
        retries=DOWNLOAD_RETRIES,
        backoff=DOWNLOAD_BACKOFF,
        timeout=DOWNLOAD_TIMEOUT,
    script:
        "../scripts/download_source.py"


rule download_annotation:
    output:
        file=ANNOTATION_DOWNLOAD,
        meta=ANNOTATION_DOWNLOAD_META,
    log:
        "logs/download_annotation/{genome}.log",
    benchmark:
        "benchmarks/results/download_annotation/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        source=annotation_download_spec,
        part="annotation",
        retries=DOWNLOAD_RETRIES,
        backoff=DOWNLOAD_BACKOFF,
        timeout=DOWNLOAD_TIMEOUT,
    script:
        "../scripts/download_source.py"


rule simulate_genome:
    output:
        fasta=temp(SIMULATED_FASTA),
        gff=SIMULATED_GFF,
    log:
        "logs/simulate_genome/{genome}.log",
    benchmark:
        "benchmarks/results/simulate_genome/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        simulate=simulate_spec,
    script:
        "../scripts/simulate_genome.py"


rule genome_fasta:
    input:
        unpack(genome_fasta_input),
    output:
        fasta=GENOME_FA,
        fai=GENOME_FAI,
        gzi=GENOME_GZI,
        manifest=GENOME_MANIFEST,
    log:
        "logs/genome_fasta/{genome}.log",
    benchmark:
        "benchmarks/results/genome_fasta/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        source=genome_source_spec,
        line_width=FASTA_LINE_WIDTH,
    script:
        "../scripts/genome_fasta.py"


rule annotation_table:
    input:
        annotation=annotation_input,
        fai=GENOME_FAI,
    output:
        ANNOTATION,
    log:
        "logs/annotation_table/{genome}.log",
    benchmark:
        "benchmarks/results/annotation_table/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        format=annotation_format,
        display=annotation_display,
    script:
        "../scripts/annotation_table.py"
