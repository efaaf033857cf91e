"""Typed settings: one dataclass per config block that code consumes.

The defaults live in one place, the JSON schema (workflow/schemas/config.schema.yaml):
Snakemake's `validate` fills them into the config, rules pass the filled blocks as
params, and scripts rebuild a dataclass with `from_config`, which takes exactly the
block's keys (an unknown or a missing one is an error naming the key). The dataclasses
carry no defaults of their own; `defaults()` fills the schema's for code run outside
the workflow (tests, benchmarks). tests/test_settings.py checks that every dataclass
has the fields of its schema block and no others, so the two cannot drift.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml

from dnatune.config import SCHEMA_DIR
from dnatune.config_coerce import resolve_ref

SCHEMA_PATH = SCHEMA_DIR / "config.schema.yaml"
# A schema property whose value is handed to transformers' TrainingArguments as it is:
# `x-training-argument: <field>` names the field (see train/trainer_options.py).
TRAINING_ARGUMENT = "x-training-argument"


class SettingsError(ValueError):
    """Settings that do not match their config block; the message names the key."""


@functools.cache
def schema() -> dict:
    with open(SCHEMA_PATH) as handle:
        return yaml.safe_load(handle)


def schema_node(pointer: str) -> dict:
    """The schema node at a '/'-separated pointer (`properties/finetune`), $refs followed."""
    node = schema()
    for part in pointer.split("/"):
        node = resolve_ref(node, schema())[part]
    return resolve_ref(node, schema())


def fill_defaults(value: dict, node: dict, root: dict | None = None) -> dict:
    """Fill, in place, the schema defaults of `node` that `value` lacks, in nested blocks too.

    What Snakemake's validate(set_default=True) does to the config, for one block
    outside a workflow run.
    """
    root = root or schema()
    node = resolve_ref(node, root)
    for key, sub in node.get("properties", {}).items():
        if key not in value and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])
        if isinstance(value.get(key), dict):
            fill_defaults(value[key], sub, root)
    return value


class SchemaSettings:
    """Base of the settings dataclasses: `BLOCK` points at the schema block they mirror.

    `EXCLUDED`: keys of the block the dataclass leaves out on purpose (said where set).
    Keys marked `x-training-argument` go, by their TrainingArguments name, into the
    field `training_arguments`: such a knob is a schema entry and nothing else.
    A field with no schema default that the schema does not require is None when absent.
    """

    BLOCK: ClassVar[str]
    WHERE: ClassVar[str]  # the config key errors name
    EXCLUDED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def block(cls) -> dict:
        return schema_node(cls.BLOCK)

    @classmethod
    def training_argument_keys(cls) -> dict[str, str]:
        """Schema key -> the TrainingArguments field it is passed to, for the marked keys."""
        properties = cls.block().get("properties", {})
        return {k: v[TRAINING_ARGUMENT] for k, v in properties.items() if TRAINING_ARGUMENT in v}

    @classmethod
    def from_config(cls, values: dict, **extra) -> Any:
        """The dataclass from a block the workflow filled (plus `extra` fields, e.g. paths)."""
        given = {**values, **extra}
        marked = cls.training_argument_keys()
        names = [f.name for f in dataclasses.fields(cls) if f.init]
        if "training_arguments" in names and "training_arguments" not in given:
            given["training_arguments"] = {
                marked[key]: given.pop(key) for key in list(given) if key in marked
            }
            _check_present(cls, [k for k in marked if marked[k] not in given["training_arguments"]])
        unknown = [key for key in given if key not in names]
        if unknown:
            raise SettingsError(
                f"key '{cls.WHERE}.{unknown[0]}' is not a setting of {cls.__name__}; "
                f"known keys: {', '.join(names)}"
            )
        absent = [f.name for f in dataclasses.fields(cls) if f.name not in given and _required(f)]
        _check_present(cls, absent)
        given.update(dict.fromkeys(absent))  # only optional keys without a default are left
        return cls(**given)

    @classmethod
    def defaults(cls, *args, **given) -> Any:
        """The dataclass with the schema's defaults for every key not given."""
        positional = [f.name for f in dataclasses.fields(cls) if f.init and not f.kw_only]
        positional = positional[: len(args)]
        values = fill_defaults(copy.deepcopy(given), cls.block())
        for key in [*positional, *cls.EXCLUDED]:
            values.pop(key, None)
        return cls.from_config({**dict(zip(positional, args, strict=True)), **values})


def _check_present(cls, absent: list[str]) -> None:
    """Raise for the first key of `absent` that the schema gives a default or requires."""
    block = cls.block()
    for name in absent:
        spec = block.get("properties", {}).get(name)
        if spec is None:
            raise SettingsError(f"{cls.__name__}: argument '{name}' is missing")
        if "default" in spec or name in block.get("required", ()):
            raise SettingsError(
                f"key '{cls.WHERE}.{name}' is missing; settings come from the config "
                "validated against workflow/schemas/config.schema.yaml, which fills every "
                "default (outside the workflow, use defaults())"
            )


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


# ---------------------------------------------------------------- the blocks


@dataclass(kw_only=True)
class FinetuneSettings(SchemaSettings):
    """finetune (and tasks.<task>.finetune over it): how one grid cell trains."""

    BLOCK = "properties/finetune"
    WHERE = "finetune"
    # the grid's axes: config.grid reads them, and each cell gets its own seed and fraction
    EXCLUDED = ("seeds", "label_fractions", "variants")

    method: str
    pooling: str  # encoder heads: mean of the token states, or "first" ([CLS])
    # average each val/test prediction with its reverse complement's; auto: the family's default
    rc_average: bool | str
    epochs: float
    max_steps: int
    lr: float
    batch_size: int
    warmup_ratio: float
    early_stopping_patience: int
    eval_steps: int | str  # steps between evaluations; auto: ten per run
    select: str  # the model kept: best val checkpoint, or the last (all epochs run)
    class_weights: bool
    long_sequences: str
    lora: dict
    precision: str
    compile: bool  # torch.compile (train/training_speed.py)
    fused_optimizer: bool | str  # auto: the Trainer's choice
    trainer: dict  # further TrainingArguments (train/trainer_options.py)
    # the block's keys marked x-training-argument, by TrainingArguments field name
    training_arguments: dict


@dataclass(kw_only=True)
class PretrainSettings(SchemaSettings):
    """pretrain (and models.<model>.pretrain over it): one (continued) pre-training run."""

    BLOCK = "properties/pretrain"
    WHERE = "pretrain"

    genomes: list | None  # recorded only: the corpora come in as the rule's inputs
    objective: str  # auto: mlm for encoders, clm for decoders
    max_steps: int
    batch_size: int  # global batch, split over the processes of a multi-GPU run
    lr: float
    warmup_ratio: float
    mlm_probability: float
    save_steps: int
    logging_steps: int
    precision: str  # auto: bf16 on a CUDA GPU that supports it, fp32 otherwise
    seed: int
    packing: bool | str  # auto: where exact and fast, flash-attention 2 (train/packing.py)
    compile: bool  # torch.compile (train/training_speed.py)
    fused_optimizer: bool | str  # auto: the Trainer's choice
    trainer: dict  # further TrainingArguments (train/trainer_options.py)
    # the block's keys marked x-training-argument, by TrainingArguments field name
    training_arguments: dict


@dataclass(frozen=True, kw_only=True)
class WindowSettings(SchemaSettings):
    """windows: how genomes are cut into pre-training windows."""

    BLOCK = "properties/windows"
    WHERE = "windows"

    size: int
    stride: int
    max_n_fraction: float
    softmask: str
    max_softmask_fraction: float
    reverse_complement: bool
    include_bed: str | None
    exclude_bed: str | None
    split: dict


@dataclass(frozen=True, kw_only=True)
class EvaluateSettings(SchemaSettings):
    """evaluate: bootstrap CIs and the binary threshold rule of every cell's test metrics."""

    BLOCK = "properties/evaluate"
    WHERE = "evaluate"

    bootstrap: int
    confidence: float
    seed: int
    threshold: str


@dataclass(frozen=True, kw_only=True)
class ScratchModelSettings(SchemaSettings):
    """models.<name>.scratch: an architecture spec initialised with random weights."""

    BLOCK = "definitions/scratch_model"
    WHERE = "models.<name>.scratch"

    architecture: str
    tokenizer: dict
    layers: int
    hidden: int
    heads: int
    intermediate: int | None  # None: 4 x hidden
    max_length: int
    dropout: float


@dataclass(frozen=True, kw_only=True)
class TokenizerSettings(SchemaSettings):
    """models.<name>.scratch.tokenizer: a built-in tokenizer (char, kmer, bpe) or hf."""

    BLOCK = "definitions/tokenizer"
    WHERE = "models.<name>.scratch.tokenizer"

    kind: str
    k: int
    overlap: bool
    vocab_size: int
    train_windows: int
    name: str | None


SETTINGS = (
    FinetuneSettings,
    PretrainSettings,
    WindowSettings,
    EvaluateSettings,
    ScratchModelSettings,
    TokenizerSettings,
)
