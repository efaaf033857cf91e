"""Config checks and the variant grid derived from a validated config.

Snakemake's `validate` reports a misspelt key as a generic
"Additional properties are not allowed" deep inside a jsonschema traceback.
`check_keys` runs first and names the key path with the nearest valid name,
so a typo is caught before any job runs with a message a user can act on.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from dnatune.config_coerce import coerce_text, resolve_ref

logger = logging.getLogger(__name__)
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "workflow" / "schemas"


class ConfigError(ValueError):
    """A config problem, with the key path and the fix in the message."""


def load_schema(path: str | Path) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


def check_keys(config: dict, schema: dict, source: str = "config") -> None:
    """Raise ConfigError for the first unknown key, suggesting the nearest valid one."""
    problems = list(_unknown_keys(config, schema, schema, []))
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))


def _unknown_keys(value, node: dict, root: dict, path: list[str]) -> Iterator[str]:
    node = resolve_ref(node, root)
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


# Blocks that override a global section for one task or model: they keep only the
# keys the user wrote (schema defaults filled into them would undo the global settings).
OVERRIDE_BLOCKS = (("tasks", "finetune"), ("models", "pretrain"))


def validate_config(
    config: dict,
    schema_path: str | Path,
    source: str = "config",
    notify: Callable[[str], None] = logger.info,
) -> dict:
    """Check keys, read numbers given as text, validate types, fill defaults, check the grid.

    `source` names where the config came from (its files, --config) in every error;
    `notify` receives a line for each number written 1e-4 style (see config_coerce).
    """
    from snakemake.utils import validate

    schema = load_schema(schema_path)
    check_keys(config, schema, source)
    for line in coerce_text(config, schema):
        notify(f"{source}: {line}")
    overrides = [
        (spec, block, list(spec[block]))
        for section, block in OVERRIDE_BLOCKS
        for spec in config.get(section, {}).values()
        if isinstance(spec, dict) and isinstance(spec.get(block), dict)
    ]
    try:
        validate(config, str(schema_path), set_default=True)
    except Exception as err:  # snakemake wraps jsonschema errors in WorkflowError
        raise ConfigError(f"{source}: {_first_line(err)}") from None
    for spec, block, written in overrides:  # with the defaults inside the blocks written
        spec[block] = {key: spec[block][key] for key in written}
    with naming_source(source):
        _check_references(config)
        check_grid(config)
    return config


@contextmanager
def naming_source(source: str) -> Iterator[None]:
    """Prefix a config check's error (a ValueError naming a key) with the config's source."""
    try:
        yield
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None


def describe_source(configfiles, config_args) -> str:
    """How errors name the config: the files Snakemake loaded, and any --config values."""
    files = ", ".join(str(f) for f in configfiles) or "(no config file)"
    if config_args:
        return f"config {files} with --config {' '.join(config_args)}"
    return f"config {files}"


def _first_line(err: Exception) -> str:
    text = str(err)
    cause = err.__cause__ or err.__context__
    if cause is not None and hasattr(cause, "message"):
        where = ".".join(str(p) for p in getattr(cause, "absolute_path", []))
        schema = getattr(cause, "schema", None)
        why = schema.get("description") if isinstance(schema, dict) else None
        return f"key '{where or '<top>'}': {cause.message}" + (f"; {why}" if why else "")
    return text.splitlines()[0] if text else repr(err)


def _check_references(config: dict) -> None:
    genomes = set(config["genomes"])
    lists = {"pretrain.genomes": config.get("pretrain", {}).get("genomes", [])}
    for model, spec in config["models"].items():
        lists[f"models.{model}.pretrain.genomes"] = spec.get("pretrain", {}).get("genomes", [])
    for key, names in lists.items():
        for name in names:
            if name not in genomes:
                raise ConfigError(
                    f"key '{key}': unknown genome '{name}'; defined genomes: {sorted(genomes)}"
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


# Baseline variants (dnatune.baselines) belong to a task, not to a model: their cells lie
# in the model folder BASELINE_MODEL, a name no configured model may take.
BASELINES = ("cnn", "kmer_lr")
BASELINE_MODEL = "baseline"


def is_scratch_spec(model_cfg: dict) -> bool:
    return "scratch" in model_cfg


def variants_for(model_cfg: dict, requested: list[str]) -> list[str]:
    """Language-model variants that exist for a model (baselines are no model's).

    An architecture-only model has no off-the-shelf weights: its `pretrained`
    variant is the workflow's own pre-training, and `continued` does not apply.
    """
    lm_variants = [v for v in requested if v not in BASELINES]
    if is_scratch_spec(model_cfg):
        return [v for v in lm_variants if v != "continued"]
    return lm_variants


def baselines_for(requested: list[str]) -> list[str]:
    """The baseline variants among a task's requested variants."""
    return [v for v in requested if v in BASELINES]


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


def model_pretrain(config: dict, model: str) -> dict:
    """Global pretrain settings overlaid with the model's own `pretrain:` block."""
    merged = {k: v for k, v in config["pretrain"].items()}
    merged.update(config["models"][model].get("pretrain", {}))
    return merged


def pretrain_genomes(config: dict, model: str) -> list[str]:
    """Genomes a model is pre-trained on: its own `pretrain.genomes`, the global ones, or all."""
    return model_pretrain(config, model).get("genomes") or list(config["genomes"])


def grid_key(config: dict, task: str, key: str) -> str:
    """The config key a task's grid setting comes from (its own block, else the global one)."""
    if key in config["tasks"][task].get("finetune", {}):
        return f"tasks.{task}.finetune.{key}"
    return f"finetune.{key}"


def check_grid(config: dict) -> None:
    """Reject, naming the key, a grid the schema accepts but whose cells could not run.

    Duplicates and negative seeds are the schema's (uniqueItems, minimum); this checks
    what needs the whole config: result folders named alike, and models left without
    any variant of the grid (a task asking for baselines only has no model cells).
    """
    if BASELINE_MODEL in config.get("models", {}):
        raise ConfigError(
            f"key 'models.{BASELINE_MODEL}': the model name '{BASELINE_MODEL}' is reserved for "
            f"the baseline cells' folder (results/finetune/{{task}}/{BASELINE_MODEL}/...); "
            "rename the model"
        )
    for task in config.get("tasks", {}):
        settings = task_finetune(config, task)
        folders: dict[str, float] = {}
        for fraction in settings["label_fractions"]:
            label = fraction_label(fraction)
            if label in folders:
                raise ConfigError(
                    f"key '{grid_key(config, task, 'label_fractions')}': label fractions "
                    f"{folders[label]!r} and {fraction!r} would share the result folder "
                    f"f{label} (fractions are named by 6 significant digits); "
                    "drop one or make them differ within 6 digits"
                )
            folders[label] = fraction
        if settings["variants"] == baselines_for(settings["variants"]):
            continue
        for model, model_cfg in config["models"].items():
            if not variants_for(model_cfg, settings["variants"]):
                raise ConfigError(
                    f"key '{grid_key(config, task, 'variants')}': model '{model}' has none of "
                    f"the variants {settings['variants']}, so task '{task}' would get no cell "
                    f"for it: an architecture spec has no 'continued' (its 'pretrained' "
                    "variant is the workflow's own pre-training); add 'scratch' or 'pretrained'"
                )


def grid(config: dict) -> list[Cell]:
    cells = []
    for task in config.get("tasks", {}):
        settings = task_finetune(config, task)
        for model, model_cfg in config["models"].items():
            for variant in variants_for(model_cfg, settings["variants"]):
                for fraction in settings["label_fractions"]:
                    for seed in settings["seeds"]:
                        cells.append(Cell(task, model, variant, fraction_label(fraction), seed))
        for variant in baselines_for(settings["variants"]):
            for fraction in settings["label_fractions"]:
                for seed in settings["seeds"]:
                    cells.append(
                        Cell(task, BASELINE_MODEL, variant, fraction_label(fraction), seed)
                    )
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
        return f"bpe{spec['vocab_size']}-{spec['train_windows']}w"
    return f"hf-{model}"
