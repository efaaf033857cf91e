# Config validation, paths and input functions shared by the rule files.
# Rules stay declarative: anything computed lives here or in the dnatune package.
from dnatune.config import (
    fraction_label,
    grid,
    is_scratch_spec,
    pretrain_stage,
    task_finetune,
    tokenizer_id,
    validate_config,
    variants_for,
)

validate_config(
    config,
    workflow.source_path("../schemas/config.schema.yaml"),
    source="config (config/config.yaml and --config overrides)",
)

GENOMES = list(config["genomes"])
MODELS = list(config["models"])
TASKS = list(config["tasks"])
PRETRAIN_GENOMES = config["pretrain"].get("genomes") or GENOMES


wildcard_constraints:
    genome="[A-Za-z0-9][A-Za-z0-9_.-]*",
    model="[A-Za-z0-9][A-Za-z0-9_.-]*",
    task="[A-Za-z0-9][A-Za-z0-9_.-]*",
    tokenizer="[A-Za-z0-9][A-Za-z0-9_.-]*",
    variant="scratch|pretrained|continued",
    stage="pretrained|continued",
    fraction="[0-9.]+",
    seed="[0-9]+",
    split="train|val|test",


# ---------------------------------------------------------------- paths
GENOME_DIR = "results/genomes/{genome}"
GENOME_FA = GENOME_DIR + "/genome.fa.gz"
GENOME_MANIFEST = GENOME_DIR + "/manifest.json"
ANNOTATION = GENOME_DIR + "/annotation.parquet"
WINDOWS = "results/windows/{genome}/windows.parquet"
TOKENIZER_DIR = "results/tokenizers/{tokenizer}"
CORPUS_DIR = "results/corpus/{genome}/{tokenizer}"
MODEL_BASE = "results/models/{model}/base"
MODEL_STAGE = "results/models/{model}/{stage}"
TASK_DIR = "results/tasks/{task}"
CELL = "{task}/{model}/{variant}/f{fraction}/s{seed}"
FINETUNE_DIR = "results/finetune/" + CELL
EVAL_METRICS = "results/eval/" + CELL + "/metrics.json"
REPORT_DIR = "results/report"


def all_targets():
    if TASKS:
        return [REPORT_DIR + "/summary.tsv", REPORT_DIR + "/report.html"]
    return [
        MODEL_STAGE.format(model=m, stage=pretrain_stage(config["models"][m]))
        for m in MODELS
    ]


# ---------------------------------------------------------------- genome stage


# ---------------------------------------------------------------- windows and corpus stage


# ---------------------------------------------------------------- models and pretraining stage


# ---------------------------------------------------------------- tasks stage


# ---------------------------------------------------------------- finetune and evaluation stage


# ---------------------------------------------------------------- report stage
