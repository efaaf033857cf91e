# Variant effects (apply.variants): a VCF's alleles checked against the genome, scored in
# chunks by each model's pre-training head (zero-shot) and by fine-tuned cells (supervised),
# merged into a VCF and a TSV; on the simulated genome, the AUROC of each score on the
# planted ground truth. Nothing here runs unless apply.variants is set.
from dnatune.apply.variant_plan import (
    check_variants_config,
    describe,
    info_id,
    supervised_scorers,
    truth_flag,
    variants_settings,
    vcf_name,
    zero_shot_scorers,
)

with naming_source(CONFIG_SOURCE):
    check_variants_config(config)

VARIANTS = variants_settings(config)
VARIANTS_NAME = vcf_name(VARIANTS) if VARIANTS else None
ZERO_SHOT_SCORERS = zero_shot_scorers(config)
SUPERVISED_SCORERS = supervised_scorers(config)
PLANTED_VCF = f"{GENOME_DIR}/planted_variants.vcf.gz"
VARIANTS_DIR = "results/apply/variants/{vcf}"
VARIANT_ALLELES = f"{VARIANTS_DIR}/alleles.parquet"
VARIANT_ZERO_SHOT_CHUNK = (
    f"{VARIANTS_DIR}/zero_shot/{{model}}/{{variant}}/chunk{{chunk}}.parquet"
)
VARIANT_SUPERVISED_CHUNK = f"{VARIANTS_DIR}/supervised/{CELL}/chunk{{chunk}}.parquet"
VARIANT_SCORES_VCF = f"{VARIANTS_DIR}/scores.vcf.gz"
VARIANT_SCORES_TSV = f"{VARIANTS_DIR}/scores.tsv"
VARIANT_AUROC = f"{VARIANTS_DIR}/auroc.tsv"


wildcard_constraints:
    vcf=names_pattern([VARIANTS_NAME] if VARIANTS else []),
    chunk="[0-9]+",


def variant_targets():
    if not VARIANTS:
        return []
    paths = [VARIANT_SCORES_VCF, VARIANT_SCORES_TSV]
    if truth_flag(VARIANTS):
        paths.append(VARIANT_AUROC)
    return [p.format(vcf=VARIANTS_NAME) for p in paths]


def report_variant_auroc(wildcards):
    """The variant AUROC table the report shows, where there is one."""
    return [p for p in variant_targets() if p.endswith("auroc.tsv")]


def variants_vcf(wildcards):
    if VARIANTS["vcf"] == "simulated":
        return PLANTED_VCF.format(genome=VARIANTS["genome"])
    return VARIANTS["vcf"]


def variants_genome(wildcards):
    genome = VARIANTS["genome"]
    return {
        "fasta": GENOME_FA.format(genome=genome),
        "fai": GENOME_FAI.format(genome=genome),
        "gzi": GENOME_GZI.format(genome=genome),
    }


def zero_shot_scorer(wildcards):
    """The zero-shot scorer of a model variant: `scratch` is the base model's architecture with
    random weights (a scratch spec's base is exactly that, so it is used as saved)."""
    scratch = wildcards.variant == "scratch"
    cfg = config["models"][wildcards.model]
    return {
        "name": info_id("ZS", wildcards.model, wildcards.variant),
        "kind": "zero_shot",
        "reinitialise": scratch and not is_scratch_spec(cfg),
        "seed": init_seed(wildcards),
        "trust_remote_code": bool(cfg.get("trust_remote_code", False)),
    }


def supervised_scorer(wildcards):
    cfg = config["models"][wildcards.model]
    return {
        "name": info_id(
            "SV",
            wildcards.task,
            wildcards.model,
            wildcards.variant,
            f"f{wildcards.fraction}",
            f"s{wildcards.seed}",
        ),
        "kind": "supervised",
        "trust_remote_code": bool(cfg.get("trust_remote_code", False)),
    }


def variant_chunks(wildcards):
    """Every scorer's chunk files, scorer by scorer (zero-shot first, then supervised)."""
    import pyarrow.parquet as pq

    from dnatune.apply.variants import chunk_count

    alleles = checkpoints.variant_alleles.get(vcf=wildcards.vcf).output[0]
    n_chunks = chunk_count(pq.read_metadata(alleles).num_rows, VARIANTS["chunk"])
    paths = [
        VARIANT_ZERO_SHOT_CHUNK.format(vcf=wildcards.vcf, chunk=i, **s)
        for s in ZERO_SHOT_SCORERS
        for i in range(n_chunks)
    ]
    paths += [
        VARIANT_SUPERVISED_CHUNK.format(vcf=wildcards.vcf, chunk=i, **s)
        for s in SUPERVISED_SCORERS
        for i in range(n_chunks)
    ]
    return paths


def planted_seed(wildcards):
    """The planted variants are drawn with the simulated genome's own seed."""
    return simulate_spec(wildcards)["seed"]


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
        "../../envs/train.yaml"
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
        "../../envs/train.yaml"
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
        "../../envs/genome.yaml"
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
