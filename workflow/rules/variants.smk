# Variant effects (apply.variants): a VCF's alleles checked against the genome, scored in
# chunks by each model's pre-training head (zero-shot) and by fine-tuned cells (supervised),
# merged into a VCF and a TSV; on the simulated genome, the AUROC of each score on the
# planted ground truth. Nothing here runs unless apply.variants is set.


rule planted_variants:
    input:
        fasta=GENOME_FA,
        fai=GENOME_FAI,
        gzi=GENOME_GZI,
        annotation=ANNOTATION,
    output:
        PLANTED_VCF,
    log:
        "logs/planted_variants/{genome}.log",
    benchmark:
        "benchmarks/results/planted_variants/{genome}.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        seed=planted_seed,
        per_element=VARIANTS["per_element"] if VARIANTS else None,
    script:
        "../scripts/planted_variants.py"


checkpoint variant_alleles:
    input:
        unpack(variants_genome),
        vcf=variants_vcf,
    output:
        VARIANT_ALLELES,
    log:
        "logs/variants/{vcf}/alleles.log",
    benchmark:
        "benchmarks/results/variants/{vcf}/alleles.tsv"
    conda:
        "../../envs/genome.yaml"
    params:
        window=VARIANTS["window"] if VARIANTS else None,
        ref_mismatch=VARIANTS["ref_mismatch"] if VARIANTS else None,
        truth=truth_flag(VARIANTS) if VARIANTS else None,
        group=group_info(VARIANTS) if VARIANTS else None,
    script:
        "../scripts/variant_alleles.py"


rule score_variants_zero_shot:
    input:
        alleles=VARIANT_ALLELES,
        model=finetune_model_dir,
    output:
        VARIANT_ZERO_SHOT_CHUNK,
    log:
        "logs/variants/{vcf}/zero_shot/{model}/{variant}/chunk{chunk}.log",
    benchmark:
        "benchmarks/results/variants/{vcf}/zero_shot/{model}/{variant}/chunk{chunk}.tsv"
    conda:
        "../../envs/apply.yaml"
    resources:
        gpu=model_gpus,
    params:
        scorer=zero_shot_scorer,
        chunk=VARIANTS["chunk"] if VARIANTS else None,
        batch_size=VARIANTS["batch_size"] if VARIANTS else None,
    script:
        "../scripts/score_variants.py"


rule score_variants_supervised:
    input:
        alleles=VARIANT_ALLELES,
        model=FINETUNE_MODEL,
        meta=TASK_META,
    output:
        VARIANT_SUPERVISED_CHUNK,
    log:
        "logs/variants/{vcf}/supervised/{task}/{model}/{variant}/f{fraction}/s{seed}/chunk{chunk}.log",
    benchmark:
        "benchmarks/results/variants/{vcf}/supervised/{task}/{model}/{variant}/f{fraction}/s{seed}/chunk{chunk}.tsv"
    conda:
        "../../envs/apply.yaml"
    resources:
        gpu=model_gpus,
    params:
        scorer=supervised_scorer,
        chunk=VARIANTS["chunk"] if VARIANTS else None,
        batch_size=VARIANTS["batch_size"] if VARIANTS else None,
    script:
        "../scripts/score_variants.py"


rule merge_variant_scores:
    input:
        unpack(variants_genome),
        vcf=variants_vcf,
        alleles=VARIANT_ALLELES,
        chunks=variant_chunks,
    output:
        vcf=report(
            VARIANT_SCORES_VCF,
            caption="../report/variant_scores.rst",
            category="Variant effects",
            labels={"file": "scores.vcf.gz"},
        ),
        tsv=VARIANT_SCORES_TSV,
    log:
        "logs/variants/{vcf}/merge.log",
    benchmark:
        "benchmarks/results/variants/{vcf}/merge.tsv"
    conda:
        "../../envs/apply.yaml"
    params:
        descriptions={
            s["name"]: describe(s) for s in ZERO_SHOT_SCORERS + SUPERVISED_SCORERS
        },
    script:
        "../scripts/merge_variant_scores.py"


rule variant_auroc:
    input:
        VARIANT_SCORES_TSV,
    output:
        VARIANT_AUROC,
    log:
        "logs/variants/{vcf}/auroc.log",
    benchmark:
        "benchmarks/results/variants/{vcf}/auroc.tsv"
    conda:
        "../../envs/report.yaml"
    params:
        scorers=ZERO_SHOT_SCORERS + SUPERVISED_SCORERS,
        bootstrap=config["evaluate"]["bootstrap"],
        confidence=config["evaluate"]["confidence"],
        seed=config["evaluate"]["seed"],
    script:
        "../scripts/variant_auroc.py"
