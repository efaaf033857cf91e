"""Config checks and the variant grid derived from a validated config.

Snakemake's `validate` reports a misspelt key as a generic
"Additional properties are not allowed" deep inside a jsonschema traceback.
`check_keys` runs first and names the key path with the nearest valid name,
so a typo is caught before any job runs with a message a user can act on.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "workflow" / "schemas"


class ConfigError(ValueError):
    """A config problem, with the key path and the fix in the message."""


def load_schema(path: str | Path) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


def _resolve(node: dict, root: dict) -> dict:
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, got {ref}")
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def check_keys(config: dict, schema: dict, source: str = "config") -> None:
    """Raise ConfigError for the first unknown key, suggesting the nearest valid one."""
    problems = list(_unknown_keys(config, schema, schema, []))
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))


def _unknown_keys(value, node: dict, root: dict, path: list[str]) -> Iterator[str]:
    node = _resolve(node, root)
    if not isinstance(value, dict) or node.get("type") not in (None, "object"):
        return
    properties = node.get("properties", {})
    extra = node.get("additionalProperties", True)
    for key, item in value.items():
        where = ".".join([*path, str(key)])
        if key in properties:
            yield from _unknown_keys(item, properties[key], root, [*path, str(key)])
        elif isinstance(extra, dict):
            yield from _unknown_keys(item, extra, root, [*path, str(key)])
        elif extra is False:
            close = difflib.get_close_matches(str(key), list(properties), n=1, cutoff=0.5)
            hint = (
                f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(properties)}"
            )
            yield f"unknown key '{where}': {hint}"


def validate_config(config: dict, schema_path: str | Path, source: str = "config") -> dict:
    """Check keys, then validate types and fill defaults with snakemake's validator."""
    from snakemake.utils import validate

    check_keys(config, load_schema(schema_path), source)
    # A task's own `finetune:` block overrides only the keys the user wrote there;
    # schema defaults filled into it would silently undo the global settings.
    task_overrides = {
        task: copy.deepcopy(spec["finetune"])
        for task, spec in config.get("tasks", {}).items()
        if isinstance(spec, dict) and "finetune" in spec
    }
    try:
        validate(config, str(schema_path), set_default=True)
    except Exception as err:  # snakemake wraps jsonschema errors in WorkflowError
        raise ConfigError(f"{source}: {_first_line(err)}") from None
    for task, overrides in task_overrides.items():
        config["tasks"][task]["finetune"] = overrides
    _check_references(config)
    return config


def _first_line(err: Exception) -> str:
    text = str(err)
    cause = err.__cause__ or err.__context__
    if cause is not None and hasattr(cause, "message"):
        where = ".".join(str(p) for p in getattr(cause, "absolute_path", []))
        return f"key '{where or '<top>'}': {cause.message}"
    return text.splitlines()[0] if text else repr(err)


def _check_references(config: dict) -> None:
    genomes = set(config["genomes"])
    for name in config.get("pretrain", {}).get("genomes", []):
        if name not in genomes:
            raise ConfigError(
                f"key 'pretrain.genomes': unknown genome '{name}'; defined genomes: {sorted(genomes)}"
            )
    for task, spec in config.get("tasks", {}).items():
        for kind in ("bed", "annotation"):
            ref = spec["source"].get(kind, {}).get("genome")
            if ref is not None and ref not in genomes:
                raise ConfigError(
                    f"key 'tasks.{task}.source.{kind}.genome': unknown genome '{ref}'; "
                    f"defined genomes: {sorted(genomes)}"
                )


# ---------------------------------------------------------------- the variant grid


def is_scratch_spec(model_cfg: dict) -> bool:
    return "scratch" in model_cfg


def variants_for(model_cfg: dict, requested: list[str]) -> list[str]:
    """Variants that exist for a model.

    An architecture-only model has no off-the-shelf weights: its `pretrained`
    variant is the workflow's own pre-training, and `continued` does not apply.
    """
    if is_scratch_spec(model_cfg):
        return [v for v in requested if v != "continued"]
    return list(requested)


def pretrain_stage(model_cfg: dict) -> str:
    """Name of the model directory the pre-training rule writes."""
    return "pretrained" if is_scratch_spec(model_cfg) else "continued"


def fraction_label(fraction: float) -> str:
    return f"{float(fraction):g}"


@dataclass(frozen=True)
class Cell:
    task: str
    model: str
    variant: str
    fraction: str
    seed: int

    @property
    def path(self) -> str:
        return f"{self.task}/{self.model}/{self.variant}/f{self.fraction}/s{self.seed}"


def task_finetune(config: dict, task: str) -> dict:
    """Global finetune settings overlaid with the task's own `finetune:` block."""
    merged = {k: v for k, v in config["finetune"].items()}
    merged.update(config["tasks"][task].get("finetune", {}))
    return merged


def grid(config: dict) -> list[Cell]:
    cells = []
    for task in config.get("tasks", {}):
        settings = task_finetune(config, task)
        for model, model_cfg in config["models"].items():
            for variant in variants_for(model_cfg, settings["variants"]):
                for fraction in settings["label_fractions"]:
                    for seed in settings["seeds"]:
                        cells.append(Cell(task, model, variant, fraction_label(fraction), seed))
    return cells


def tokenizer_id(model: str, model_cfg: dict) -> str:
    """Directory name of a model's tokenizer under results/tokenizers/.

    Built-in tokenizers are named by their spec, so models sharing one share
    the corpus too; a hub model's tokenizer is its own.
    """
    if not is_scratch_spec(model_cfg):
        return f"hf-{model}"
    spec = model_cfg["scratch"]["tokenizer"]
    kind = spec["kind"]
    if kind == "char":
        return "char"
    if kind == "kmer":
        return f"kmer{spec['k']}-{'overlap' if spec['overlap'] else 'nonoverlap'}"
    if kind == "bpe":
        return f"bpe{spec['vocab_size']}-{spec.get('train_windows', 20000)}w"
    return f"hf-{model}"
