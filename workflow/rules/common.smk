# Config validation, paths and input functions shared by the rule files.
# Rules stay declarative: anything computed lives here or in the dnatune package.
import os
import sys

# The dnatune library of this checkout is importable here and in every job,
# including per-rule conda envs (--sdm conda) and Slurm jobs (--export=ALL).
DNATUNE_SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, DNATUNE_SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (DNATUNE_SRC, os.environ.get("PYTHONPATH")) if p
    )
)

from dnatune.config import (
    BASELINE_MODEL,
    BASELINES,
    describe_source,
    grid,
    is_scratch_spec,
    model_pretrain,
    naming_source,
    pretrain_genomes,
    pretrain_stage,
    task_finetune,
    tokenizer_id,
    validate_config,
)
from snakemake.logging import logger

# errors name the config files actually loaded (the default or --configfile) and --config
CONFIG_SOURCE = describe_source(
    workflow.configfiles, workflow.config_settings.config_args
)
validate_config(
    config,
    workflow.source_path("../schemas/config.schema.yaml"),
    source=CONFIG_SOURCE,
    notify=logger.info,
)

GENOMES = list(config["genomes"])
MODELS = list(config["models"])
TASKS = list(config["tasks"])
PRETRAIN_GENOMES = config["pretrain"].get("genomes") or GENOMES
LM_VARIANTS = ("scratch", "pretrained", "continued")


wildcard_constraints:
    genome="[A-Za-z0-9][A-Za-z0-9_.-]*",
    model="[A-Za-z0-9][A-Za-z0-9_.-]*",
    task="[A-Za-z0-9][A-Za-z0-9_.-]*",
    tokenizer="[A-Za-z0-9][A-Za-z0-9_.-]*",
    variant="|".join(LM_VARIANTS + BASELINES),
    stage="pretrained|continued",
    fraction="[0-9.]+",
    seed="[0-9]+",
    split="train|val|test",


# ---------------------------------------------------------------- paths
GENOME_DIR = "results/genomes/{genome}"
GENOME_FA = f"{GENOME_DIR}/genome.fa.gz"
GENOME_MANIFEST = f"{GENOME_DIR}/manifest.json"
ANNOTATION = f"{GENOME_DIR}/annotation.parquet"
WINDOWS = "results/windows/{genome}/windows.parquet"
TOKENIZER_DIR = "results/tokenizers/{tokenizer}"
CORPUS_DIR = "results/corpus/{genome}/{tokenizer}"
MODEL_BASE = "results/models/{model}/base"
MODEL_STAGE = "results/models/{model}/{stage}"
TASK_DIR = "results/tasks/{task}"
CELL = "{task}/{model}/{variant}/f{fraction}/s{seed}"
FINETUNE_DIR = f"results/finetune/{CELL}"
EVAL_METRICS = f"results/eval/{CELL}/metrics.json"
REPORT_DIR = "results/report"
STATS_DIR = "results/stats"


def all_targets():
    if TASKS:
        return [REPORT_SUMMARY, REPORT_HTML]
    return [
        MODEL_STAGE.format(model=m, stage=pretrain_stage(config["models"][m]))
        for m in MODELS
    ]


# ---------------------------------------------------------------- genome stage
from dnatune.genome.source import genome_has_annotation, source_kind

GENOME_FAI = "results/genomes/{genome}/genome.fa.gz.fai"
GENOME_GZI = "results/genomes/{genome}/genome.fa.gz.gzi"
GENOME_DOWNLOAD = "results/genomes/{genome}/download/genome.download"
GENOME_DOWNLOAD_META = "results/genomes/{genome}/download/genome.download.json"
ANNOTATION_DOWNLOAD = "results/genomes/{genome}/download/annotation.download"
ANNOTATION_DOWNLOAD_META = "results/genomes/{genome}/download/annotation.download.json"
SIMULATED_FASTA = "results/genomes/{genome}/simulated/genome.fa"
SIMULATED_GFF = "results/genomes/{genome}/simulated/annotation.gff3"
DOWNLOAD_RETRIES = 5
DOWNLOAD_BACKOFF = 2.0  # seconds before the 2nd try, doubled for each later one
DOWNLOAD_TIMEOUT = 60.0  # seconds without data before a try counts as failed
FASTA_LINE_WIDTH = 60
ANNOTATED_GENOMES = [g for g in GENOMES if genome_has_annotation(config["genomes"][g])]


def _genome(wildcards):
    return config["genomes"][wildcards.genome]


def genome_source_spec(wildcards):
    """The genome's source config without its annotation (so an annotation edit does not rerun it)."""
    return {k: v for k, v in _genome(wildcards).items() if k != "annotation"}


def genome_download_spec(wildcards):
    spec = genome_source_spec(wildcards)
    if source_kind(spec) not in ("url", "ncbi"):
        raise ValueError(
            f"genomes.{wildcards.genome} is not downloaded (no url or ncbi)"
        )
    return spec


def genome_fasta_input(wildcards):
    """Named inputs of genome_fasta: the source file, plus the download record if fetched."""
    cfg = _genome(wildcards)
    kind = source_kind(cfg)
    if kind == "path":
        return {"source": cfg["path"]}
    if kind == "simulate":
        return {"source": SIMULATED_FASTA.format(genome=wildcards.genome)}
    return {
        "source": GENOME_DOWNLOAD.format(genome=wildcards.genome),
        "meta": GENOME_DOWNLOAD_META.format(genome=wildcards.genome),
    }


def simulate_spec(wildcards):
    """length, chromosomes and seed of a simulate genome (schema defaults filled in)."""
    return dict(_genome(wildcards)["simulate"])


def _annotation_cfg(wildcards):
    cfg = _genome(wildcards)
    if not genome_has_annotation(cfg):
        raise ValueError(
            f"genomes.{wildcards.genome} has no annotation: add genomes.{wildcards.genome}"
            f".annotation (path or url of a GFF3, GTF or BED file), or use a genome that has one"
        )
    return cfg


def annotation_download_spec(wildcards):
    cfg = _annotation_cfg(wildcards)
    if "annotation" in cfg:
        return cfg["annotation"]
    return {"ncbi": cfg["ncbi"]}


def annotation_input(wildcards):
    cfg = _annotation_cfg(wildcards)
    if "path" in cfg.get("annotation", {}):
        return cfg["annotation"]["path"]
    if "annotation" not in cfg and "simulate" in cfg:
        return SIMULATED_GFF.format(genome=wildcards.genome)
    return ANNOTATION_DOWNLOAD.format(genome=wildcards.genome)


def annotation_format(wildcards):
    """gff3, gtf, bed or auto; simulated and NCBI annotations are GFF3."""
    cfg = _annotation_cfg(wildcards)
    return cfg["annotation"].get("format", "auto") if "annotation" in cfg else "gff3"


def annotation_display(wildcards):
    """How error messages name the annotation (its URL or path; its suffix helps `auto`)."""
    cfg = _annotation_cfg(wildcards)
    if "annotation" in cfg:
        return cfg["annotation"].get("url") or cfg["annotation"]["path"]
    if "ncbi" in cfg:
        return f"NCBI {cfg['ncbi']['accession']} genomic.gff.gz"
    return SIMULATED_GFF.format(genome=wildcards.genome)


# ---------------------------------------------------------------- windows and corpus stage
TOKENIZER_THREADS = 4  # bpe training (the tokenizers library); built-in kinds use one
CORPUS_SHARD_WINDOWS = 250_000  # rows per corpus shard
# Arrow IPC streams, memory-mapped by load_corpus (or "parquet": smaller, slower to write)
CORPUS_SHARD_FORMAT = "arrow"
# the keys of models.<name>.scratch.tokenizer each kind uses (others would only cause reruns)
TOKENIZER_KEYS = {
    "char": ("kind",),
    "kmer": ("kind", "k", "overlap"),
    "bpe": ("kind", "vocab_size", "train_windows"),
    "hf": ("kind", "name"),
}


def windows_inputs(wildcards):
    """The genome with its index, and the include/exclude BED files when configured."""
    files = {
        "genome": GENOME_FA.format(genome=wildcards.genome),
        "fai": GENOME_FAI.format(genome=wildcards.genome),
        "gzi": GENOME_GZI.format(genome=wildcards.genome),
    }
    for key in ("include_bed", "exclude_bed"):
        if config["windows"].get(key):
            files[key] = config["windows"][key]
    return files


def _tokenizer_model(wildcards):
    """The first model whose tokenizer id is {tokenizer}, with its config."""
    for model, cfg in config["models"].items():
        if tokenizer_id(model, cfg) == wildcards.tokenizer:
            return model, cfg
    raise ValueError(
        f"results/tokenizers/{wildcards.tokenizer} belongs to no model in the config; "
        f"tokenizers in use: {sorted({tokenizer_id(m, c) for m, c in config['models'].items()})}"
    )


def tokenizer_spec(wildcards):
    """What build_tokenizer builds: the keys of the model's tokenizer spec its kind uses,
    or for an hf model the remote-code flag and DNABERT k of the model it is copied from.
    """
    model, cfg = _tokenizer_model(wildcards)
    if not is_scratch_spec(cfg):
        return {
            "kind": "hf",
            "name": cfg["hf"],
            "trust_remote_code": bool(cfg["trust_remote_code"]),
            "kmer": cfg.get("kmer"),
        }
    spec = cfg["scratch"]["tokenizer"]
    return {key: spec[key] for key in TOKENIZER_KEYS[spec["kind"]] if key in spec}


def tokenizer_inputs(wildcards):
    """bpe: genome and windows of every pre-training genome; hf model: its fetched base dir.

    A bpe tokenizer is shared by the models with its spec, so it learns from the global
    pretrain.genomes, not from one model's own list (which would rerun the others).
    """
    model, cfg = _tokenizer_model(wildcards)
    if not is_scratch_spec(cfg):
        return {"model": MODEL_BASE.format(model=model)}
    if cfg["scratch"]["tokenizer"]["kind"] != "bpe":
        return {}
    return {
        "genomes": [GENOME_FA.format(genome=g) for g in PRETRAIN_GENOMES],
        "fais": [GENOME_FAI.format(genome=g) for g in PRETRAIN_GENOMES],
        "gzis": [GENOME_GZI.format(genome=g) for g in PRETRAIN_GENOMES],
        "windows": [WINDOWS.format(genome=g) for g in PRETRAIN_GENOMES],
    }


# ---------------------------------------------------------------- models and pretraining stage
# Checkpoints live outside the rule's output (snakemake deletes outputs before a
# job runs), so a killed or requeued pre-training resumes from the last one.
PRETRAIN_CHECKPOINT_DIR = "results/checkpoints/pretrain/{model}/{stage}"
PRETRAIN_THREADS = 8  # capped by --cores locally; cpus per task on a cluster
HF_MODELS = [m for m in MODELS if not is_scratch_spec(config["models"][m])]
SCRATCH_MODELS = [m for m in MODELS if is_scratch_spec(config["models"][m])]


def names_pattern(names):
    """A wildcard constraint matching exactly these names (or nothing when there are none)."""
    import re

    return "|".join(re.escape(name) for name in names) or "(?!)"


def _model(wildcards):
    return config["models"][wildcards.model]


def hf_model_spec(wildcards):
    """What fetch_model depends on: hub id or directory, revision, remote code, k-mer, length."""
    cfg = _model(wildcards)
    keys = ("hf", "revision", "trust_remote_code", "kmer", "max_length")
    return {key: cfg.get(key) for key in keys}


def scratch_model_spec(wildcards):
    """The architecture spec (models.<name>.scratch) that init_model builds."""
    return dict(_model(wildcards)["scratch"])


def model_tokenizer_dir(wildcards):
    tokenizer = tokenizer_id(wildcards.model, _model(wildcards))
    return TOKENIZER_DIR.format(tokenizer=tokenizer)


def pretrain_corpus_dirs(wildcards):
    """Corpus of every pre-training genome, tokenized with the model's tokenizer."""
    cfg = _model(wildcards)
    if wildcards.stage != pretrain_stage(cfg):
        raise ValueError(
            f"results/models/{wildcards.model}/{wildcards.stage} is not made: model "
            f"'{wildcards.model}' is pre-trained into results/models/{wildcards.model}/"
            f"{pretrain_stage(cfg)} ('pretrained' for scratch specs, 'continued' for hf models)"
        )
    tokenizer = tokenizer_id(wildcards.model, cfg)
    return [
        CORPUS_DIR.format(genome=g, tokenizer=tokenizer)
        for g in model_pretrain_genomes(wildcards)
    ]


def model_pretrain_genomes(wildcards):
    """The model's pretrain.genomes (its own block, else the global key, else all genomes)."""
    return pretrain_genomes(config, wildcards.model)


def pretrain_settings(wildcards):
    """Hyper-parameters of the pretrain rule: config `pretrain` overlaid with the model's own
    `pretrain:` block (so editing it reruns only this model), and its remote-code flag.
    """
    settings = {
        k: v
        for k, v in model_pretrain(config, wildcards.model).items()
        if k != "genomes"
    }
    remote_code = _model(wildcards)["trust_remote_code"]
    settings["trust_remote_code"] = bool(remote_code)
    return settings


def init_seed(wildcards):
    """Seed of a scratch model's random initial weights: its pretrain.seed."""
    return model_pretrain(config, wildcards.model)["seed"]


def model_gpus(wildcards):
    """GPUs of a training job: models.<name>.resources.gpu, else 1.

    Only the training rules ask for GPUs; a machine without any runs them on CPU.
    """
    return int(_model(wildcards).get("resources", {}).get("gpu", 1))


# ---------------------------------------------------------------- tasks stage
from dnatune.tasks.protocols import apply_protocols
from dnatune.tasks.spec import check_task_specs, task_genomes, task_source_files
from dnatune.train.trainer_options import check_trainer_options

with naming_source(CONFIG_SOURCE):
    apply_protocols(config)  # suite presets fill the task keys the user left out
    check_task_specs(config)
    # finetune.trainer and pretrain.trainer, globally and per task or model
    check_trainer_options(config)
TASK_SPLIT = f"{TASK_DIR}/{{split}}.parquet"  # split: train, val, test
TASK_META = f"{TASK_DIR}/meta.json"


def task_spec(wildcards):
    """The task's data settings: editing them rebuilds this task (and what follows) only.

    Its `finetune`, `metric` and `protocol` keys shape training and reporting, not the data.
    """
    spec = config["tasks"][wildcards.task]
    return {
        k: v for k, v in spec.items() if k not in ("finetune", "metric", "protocol")
    }


def task_inputs(wildcards):
    """The user's files of a task, plus the genome (and annotation) it is derived from."""
    source = config["tasks"][wildcards.task]["source"]
    files = task_source_files(source)
    genomes = task_genomes(source)
    for genome in genomes:
        key = "genome" if len(genomes) == 1 else f"genome_{genome}"
        files[key] = GENOME_FA.format(genome=genome)
        files[f"{key}_fai"] = f"{files[key]}.fai"
    if "annotation" in source:
        files["annotation"] = ANNOTATION.format(genome=source["annotation"]["genome"])
    return files


# ---------------------------------------------------------------- finetune and evaluation stage
# One job per grid cell. Grid keys (seeds, label_fractions, variants) decide which
# cells exist, so they stay out of a cell's params: adding a seed runs only new cells.
# tiny models train fastest with one thread per job; give big ones --set-threads finetune=N
FINETUNE_THREADS = 1
GRID_KEYS = ("seeds", "label_fractions", "variants")
FINETUNE_PREDICTIONS = f"{FINETUNE_DIR}/predictions.parquet"
FINETUNE_HISTORY = f"{FINETUNE_DIR}/history.json"
FINETUNE_MODEL = f"{FINETUNE_DIR}/model"
# a cell's checkpoints, outside its outputs: a killed or requeued job resumes from them
FINETUNE_CHECKPOINT_DIR = f"results/checkpoints/finetune/{CELL}"
# baseline cells: the outputs of a finetune cell, in the model folder BASELINE_MODEL
BASELINE_DIR = (
    f"results/finetune/{{task}}/{BASELINE_MODEL}/{{variant}}/f{{fraction}}/s{{seed}}"
)
BASELINE_THREADS = 1  # the demo's baselines take seconds on one core
from dnatune.metrics import headline_metric

with naming_source(CONFIG_SOURCE):  # a wrong metric name fails before any job
    for _task, _spec in config["tasks"].items():
        headline_metric(
            _spec["type"], _spec.get("metric"), where=f"tasks.{_task}.metric"
        )


def finetune_model_dir(wildcards):
    """Variant -> model dir.

    scratch: the base model (re-initialised); pretrained: the given model (hf) or the
    workflow's pre-training (scratch specs); continued: the continued pre-training (hf).
    """
    cfg = config["models"][wildcards.model]
    if wildcards.variant == "scratch":
        return MODEL_BASE.format(model=wildcards.model)
    if wildcards.variant == "pretrained":
        if is_scratch_spec(cfg):
            return MODEL_STAGE.format(model=wildcards.model, stage="pretrained")
        return MODEL_BASE.format(model=wildcards.model)
    if is_scratch_spec(cfg):
        raise ValueError(
            f"variant 'continued' does not apply to model '{wildcards.model}': an architecture "
            "spec has no off-the-shelf weights to continue from; its 'pretrained' variant is "
            "the workflow's own pre-training"
        )
    return MODEL_STAGE.format(model=wildcards.model, stage="continued")


def finetune_settings(wildcards):
    """Every hyper-parameter of one cell.

    The task's finetune settings, the model's remote-code flag and LoRA targets, the
    variant, the label fraction and the seed.
    """
    settings = {
        k: v
        for k, v in task_finetune(config, wildcards.task).items()
        if k not in GRID_KEYS
    }
    cfg = config["models"][wildcards.model]
    settings.update(
        reinitialise=wildcards.variant == "scratch",
        metric=config["tasks"][wildcards.task].get("metric"),
        trust_remote_code=bool(cfg["trust_remote_code"]),
        lora_target_modules=cfg.get("lora_target_modules"),
        label_fraction=float(wildcards.fraction),
        seed=int(wildcards.seed),
    )
    return dict(sorted(settings.items()))


def baseline_settings(wildcards):
    """Every hyper-parameter of one baseline cell: config baselines.<variant>, the task's
    metric, the label fraction and the seed."""
    return {
        "settings": dict(config["baselines"][wildcards.variant]),
        "metric": config["tasks"][wildcards.task].get("metric"),
        "label_fraction": float(wildcards.fraction),
        "seed": int(wildcards.seed),
    }


def task_metric(wildcards):
    """The task's headline metric (tasks.<task>.metric; null = the default of its type)."""
    return config["tasks"][wildcards.task].get("metric")


# ---------------------------------------------------------------- stats and report stages
# The stats stage scores every cell of the grid once; the report renders its tables
# plus the overview files of what the grid actually used, so adding a task runs that
# task's cells, the stats and the report only.
REPORT_SUMMARY = f"{REPORT_DIR}/summary.tsv"
REPORT_HTML = f"{REPORT_DIR}/report.html"
REPORT_FIGURES = f"{REPORT_DIR}/figures"
STATS_TRANSFER = f"{STATS_DIR}/transfer.tsv"
STATS_TASKS = f"{STATS_DIR}/tasks.tsv"
STATS_CURVES = f"{STATS_DIR}/curves.parquet"
STATS_CONFUSION = f"{STATS_DIR}/confusion.tsv"
STATS_CELLS = f"{STATS_DIR}/cells.tsv"
STATS_CLAIMS = f"{STATS_DIR}/claims.tsv"
REPORT_CLAIMS = f"{REPORT_DIR}/claims.tsv"  # a copy beside summary.tsv
BENCHMARK_DIR = "benchmarks/results"


def _grid_paths(pattern):
    return [
        pattern.format(
            task=c.task,
            model=c.model,
            variant=c.variant,
            fraction=c.fraction,
            seed=c.seed,
        )
        for c in grid(config)
    ]


def report_metrics(wildcards):
    return _grid_paths(EVAL_METRICS)


def report_histories(wildcards):
    return _grid_paths(FINETUNE_HISTORY)


def report_predictions(wildcards):
    return _grid_paths(FINETUNE_PREDICTIONS)


def _report_models():
    """Configured models with cells in the grid (baseline cells have no model directory)."""
    return sorted({c.model for c in grid(config) if c.model != BASELINE_MODEL})


def _report_pretrained_models():
    """Models whose own pre-training a variant uses ('pretrained' spec, 'continued' hf)."""
    return sorted(
        {
            c.model
            for c in grid(config)
            if c.model != BASELINE_MODEL
            and c.variant == pretrain_stage(config["models"][c.model])
        }
    )


def report_model_dirs(wildcards):
    return [MODEL_BASE.format(model=m) for m in _report_models()]


def report_pretrain_dirs(wildcards):
    return [
        MODEL_STAGE.format(model=m, stage=pretrain_stage(config["models"][m]))
        for m in _report_pretrained_models()
    ]


def report_corpus_dirs(wildcards):
    return [
        CORPUS_DIR.format(genome=g, tokenizer=tokenizer_id(m, config["models"][m]))
        for m in _report_pretrained_models()
        for g in pretrain_genomes(config, m)
    ]


def _report_pretrain_genomes():
    """Genomes the grid's pre-trained models were pre-trained on."""
    used = {g for m in _report_pretrained_models() for g in pretrain_genomes(config, m)}
    return [g for g in GENOMES if g in used]


def report_windows(wildcards):
    return [WINDOWS.format(genome=g) for g in _report_pretrain_genomes()]


def _report_genomes():
    """Genomes the grid used: pre-training corpora and genome-derived tasks."""
    used = set(_report_pretrain_genomes())
    for task in sorted({c.task for c in grid(config)}):
        used.update(task_genomes(config["tasks"][task]["source"]))
    return [g for g in GENOMES if g in used]


def report_manifests(wildcards):
    return [GENOME_MANIFEST.format(genome=g) for g in _report_genomes()]


def report_config():
    """The config behind what the report shows (its provenance section and hash).

    Genomes the grid does not use, and `windows` and `pretrain` when no model is
    pre-trained, are left out: editing them changes no result, so it does not
    re-render the report.
    """
    pretrained = bool(_report_pretrained_models())
    shown = {}
    for key, value in config.items():
        if key == "genomes":
            value = {g: value[g] for g in _report_genomes()}
        elif key == "models":
            value = {m: spec for m, spec in value.items() if m in _report_models()}
        elif key in ("windows", "pretrain") and not pretrained:
            continue
        shown[key] = value
    return shown


def report_task_meta(wildcards):
    return [TASK_META.format(task=t) for t in TASKS]


# ---------------------------------------------------------------- apply.variants
from dnatune.apply.variant_plan import (
    check_variants_config,
    describe,
    group_info,
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
