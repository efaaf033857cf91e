"""The settings dataclasses mirror their schema blocks, and carry no defaults of their own."""

import dataclasses

import pytest
import yaml
from conftest import ROOT

from dnatune.settings import (
    SETTINGS,
    EvaluateSettings,
    FinetuneSettings,
    PretrainSettings,
    ScratchModelSettings,
    SettingsError,
    TokenizerSettings,
    WindowSettings,
    schema,
)

# schema type -> the annotation a field of that type has
ANNOTATIONS = {
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "string": "str",
    "array": "list",
    "object": "dict",
}


def expected_annotation(spec: dict) -> str | None:
    """The field annotation a schema property implies, where that is simple to say."""
    if "$ref" in spec:
        spec = {**schema()["definitions"][spec["$ref"].rsplit("/", 1)[-1]], **spec}
    if "enum" in spec:
        kinds = sorted({"bool" if isinstance(v, bool) else "str" for v in spec["enum"]})
        return " | ".join(kinds)
    kinds = spec.get("type")
    if isinstance(kinds, list):
        return " | ".join(ANNOTATIONS[k] for k in kinds)
    return ANNOTATIONS.get(kinds)


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda c: c.__name__)
def test_fields_are_the_schema_blocks_keys_both_ways(cls):
    properties = cls.block()["properties"]
    marked = cls.training_argument_keys()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    expected = set(properties) - set(cls.EXCLUDED) - set(marked)
    if "training_arguments" in fields:
        expected.add("training_arguments")
    assert set(fields) == expected, (set(fields) ^ expected, cls.BLOCK)
    assert set(cls.EXCLUDED) <= set(properties)
    for name, f in fields.items():
        assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, name
        if name not in properties:
            continue
        want = expected_annotation(properties[name])
        optional = "default" not in properties[name] and name not in cls.block().get("required", ())
        if want is not None:
            assert f.type == (f"{want} | None" if optional else want), (name, f.type, want)


def test_defaults_are_the_schemas():
    finetune = FinetuneSettings.defaults()
    block = schema()["properties"]["finetune"]["properties"]
    assert finetune.lr == block["lr"]["default"] == 5e-5
    assert finetune.lora == {"r": 8, "alpha": 16, "dropout": 0.05}
    assert finetune.training_arguments["weight_decay"] == 0.01
    assert finetune.trainer == {}
    pretrain = PretrainSettings.defaults(max_steps=7)
    assert pretrain.max_steps == 7 and pretrain.lr == 5e-4 and pretrain.genomes is None
    windows = WindowSettings.defaults(size=100)
    assert windows.split == {"val": 0.05, "test": 0.05, "by": "chromosome", "block_size": 1000000}
    assert (windows.size, windows.stride, windows.include_bed) == (100, 256, None)
    assert EvaluateSettings.defaults().bootstrap == 1000


def test_from_config_names_an_unknown_or_missing_key():
    block = dataclasses.asdict(EvaluateSettings.defaults())
    assert EvaluateSettings.from_config(block) == EvaluateSettings.defaults()
    with pytest.raises(SettingsError, match=r"key 'evaluate.bootstrapp' is not a setting"):
        EvaluateSettings.from_config({**block, "bootstrapp": 10})
    del block["confidence"]
    with pytest.raises(SettingsError, match=r"key 'evaluate.confidence' is missing"):
        EvaluateSettings.from_config(block)


def test_marked_knobs_reach_training_arguments_by_their_field_name():
    defaults = FinetuneSettings.defaults()
    block = {k: v for k, v in dataclasses.asdict(defaults).items() if k != "training_arguments"}
    marked = FinetuneSettings.training_argument_keys()
    assert marked["weight_decay"] == "weight_decay"
    for key, field in marked.items():
        block[key] = defaults.training_arguments[field]
    settings = FinetuneSettings.from_config({**block, "weight_decay": 0.5})
    assert settings.training_arguments == {**defaults.training_arguments, "weight_decay": 0.5}
    del block["weight_decay"]
    with pytest.raises(SettingsError, match=r"key 'finetune.weight_decay' is missing"):
        FinetuneSettings.from_config(block)


# ---------------------------------------------------------------- config/README.md

# the README section documenting each block, and the prefix its keys are written with
README_SECTIONS = {
    WindowSettings: ("## windows", ""),
    PretrainSettings: ("## pretrain", ""),
    FinetuneSettings: ("## finetune", ""),
    EvaluateSettings: ("## evaluate", ""),
    ScratchModelSettings: ("## models", "scratch."),
    TokenizerSettings: ("### models.\\<name\\>.scratch.tokenizer", ""),
}


def readme_defaults(heading: str, prefix: str) -> dict[str, str]:
    """key -> its default cell, from the `| key | default | meaning |` rows of a section."""
    lines = (ROOT / "config" / "README.md").read_text().splitlines()
    start, fenced, rows = lines.index(heading) + 1, False, {}
    for line in lines[start:]:
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            break
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if fenced or len(cells) != 3 or not cells[0].startswith("`"):
            continue
        keys = [k.strip("` ") for k in cells[0].split(",")]
        if not all(k.startswith(prefix) for k in keys):
            continue
        keys = [k.removeprefix(prefix) for k in keys]
        values = cells[1].split(", ") if len(keys) > 1 else [cells[1]]
        rows.update(zip(keys, values, strict=True))
    return rows


def schema_defaults(node: dict, path: str = "") -> dict:
    """dotted key -> schema default, nested blocks included."""
    found = {}
    for key, spec in node.get("properties", {}).items():
        if "default" in spec and spec["default"] != {}:
            found[path + key] = spec["default"]
        if "properties" in spec:
            found.update(schema_defaults(spec, f"{path}{key}."))
    return found


@pytest.mark.parametrize("cls", list(README_SECTIONS), ids=lambda c: c.__name__)
def test_the_readme_states_the_schemas_defaults(cls):
    """config/README.md documents each default as the schema has it (the schema is the source)."""
    rows = readme_defaults(*README_SECTIONS[cls])
    for key, default in schema_defaults(cls.block()).items():
        assert key in rows, f"config/README.md {README_SECTIONS[cls][0]}: no row for `{key}`"
        written = yaml.safe_load(rows[key].replace("`", ""))
        if isinstance(default, float) and not isinstance(written, bool):
            written = float(written)
        assert written == default, (cls.__name__, key, rows[key], default)
