"""The `apply:` config block: the fine-tuned cells and base models it names, checked against
the config, and a cell's saved model loaded back as the finetune stage wrote it."""

from __future__ import annotations

import json
from pathlib import Path

from dnatune.config import BASELINE_MODEL, Cell, ConfigError, fraction_label, grid, is_scratch_spec

FINETUNE_MODEL = "results/finetune/{path}/model"
MODEL_BASE = "results/models/{model}/base"
MODEL_PRETRAINED = "results/models/{model}/pretrained"
FINETUNE_RECORD = "dnatune_finetune.json"  # written beside a cell's model by finetune.save_cell


class ApplyError(ValueError):
    """An `apply:` setting or input that cannot be used; the message names it and the fix."""


def apply_block(config: dict) -> dict:
    return config.get("apply") or {}


def selected_cells(config: dict) -> list[Cell]:
    """The cells of apply.cells, each checked to be a language-model cell of the grid."""
    cells = {(c.task, c.model, c.variant, c.fraction, c.seed): c for c in grid(config)}
    chosen = []
    for i, entry in enumerate(apply_block(config).get("cells", [])):
        key = (
            entry["task"],
            entry["model"],
            entry["variant"],
            fraction_label(entry["fraction"]),
            int(entry["seed"]),
        )
        if key not in cells or key[1] == BASELINE_MODEL:
            listed = ", ".join(c.path for c in cells.values() if c.model != BASELINE_MODEL)
            raise ConfigError(
                f"key 'apply.cells[{i}]': {'/'.join(key[:3])}/f{key[3]}/s{key[4]} is not a "
                f"language-model cell of the grid (tasks x models x finetune.variants x "
                f"label_fractions x seeds); cells of the grid: {listed}"
            )
        chosen.append(cells[key])
    return chosen


def check_apply(config: dict) -> None:
    """Reject, naming the key, an `apply:` block that refers to what the config lacks."""
    block = apply_block(config)
    selected_cells(config)
    names = {
        "apply.models": (block.get("models", []), config["models"], "models"),
        "apply.tracks.genomes": (
            block.get("tracks", {}).get("genomes", []),
            config["genomes"],
            "genomes",
        ),
        "apply.embeddings.genomes": (
            block.get("embeddings", {}).get("genomes", []),
            config["genomes"],
            "genomes",
        ),
        "apply.embeddings.tasks": (
            block.get("embeddings", {}).get("tasks", []),
            config.get("tasks", {}),
            "tasks",
        ),
    }
    for key, (given, defined, what) in names.items():
        for name in given:
            if name not in defined:
                raise ConfigError(
                    f"key '{key}': unknown {what[:-1]} '{name}'; {what}: {sorted(defined)}"
                )
    if block.get("tracks", {}).get("genomes") and not block.get("cells"):
        raise ConfigError(
            "key 'apply.tracks.genomes': tracks are of fine-tuned cells; list them in apply.cells"
        )
    embeddings = block.get("embeddings", {})
    if (embeddings.get("tasks") or embeddings.get("genomes")) and not block.get("models"):
        raise ConfigError(
            "key 'apply.embeddings': embeddings are of base models; list them in apply.models"
        )


def cell_model_dir(cell: Cell) -> str:
    """The fine-tuned model a cell saved (finetune rule output `model`)."""
    return FINETUNE_MODEL.format(path=cell.path)


def base_model_dir(config: dict, model: str) -> str:
    """A base model's weights: the workflow's pre-training for an architecture spec (its base
    is random), the model as given for a hub model."""
    if is_scratch_spec(config["models"][model]):
        return MODEL_PRETRAINED.format(model=model)
    return MODEL_BASE.format(model=model)


def finetune_record(model_dir: str | Path) -> dict:
    """What finetune.save_cell recorded beside a cell's model: task type, labels, method."""
    path = Path(model_dir) / FINETUNE_RECORD
    if not path.exists():
        raise ApplyError(
            f"{path} is missing: {model_dir} is not a fine-tuned cell's model; rerun its "
            "finetune job"
        )
    return json.loads(path.read_text())


def load_cell_model(model_dir: str | Path, trust_remote_code: bool = False):
    """(model in eval mode, DnaTokenizer, record) of a fine-tuned cell's saved model/.

    full and probe cells saved a whole classifier, reloaded with the pooling it was trained
    with; LoRA cells saved an adapter and the head, put back on their base model by peft.
    """
    from dnatune.corpus.tokenizers import DnaTokenizer
    from dnatune.train.finetune import PROBLEM_TYPES
    from dnatune.train.models import load_sequence_classifier

    record = finetune_record(model_dir)
    num_labels = 1 if record["type"] == "regression" else record["num_labels"]
    problem = PROBLEM_TYPES[record["type"]]
    if (Path(model_dir) / "adapter_config.json").exists():
        from peft import PeftModel

        base, _ = load_sequence_classifier(
            record["base_model"],
            num_labels,
            problem,
            False,
            0,
            trust_remote_code,
            pooling=record.get("pooling"),
        )
        model = PeftModel.from_pretrained(base, str(model_dir)).merge_and_unload()
        tokenizer = DnaTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    else:
        model, tokenizer = load_sequence_classifier(
            model_dir, num_labels, problem, False, 0, trust_remote_code
        )
    return model.eval(), tokenizer, record
