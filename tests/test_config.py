"""Config validation: typos, wrong types and dangling references fail before any job runs."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from dnatune.config import (
    ConfigError,
    describe_source,
    fraction_label,
    grid,
    model_pretrain,
    pretrain_genomes,
    task_finetune,
    tokenizer_id,
    validate_config,
    variants_for,
)
from dnatune.config_coerce import resolve_ref

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def config():
    with open(ROOT / "config" / "config.yaml") as handle:
        return yaml.safe_load(handle)


def test_default_config_is_valid_and_gets_schema_defaults(config):
    validated = validate_config(copy.deepcopy(config), SCHEMA)
    assert validated["windows"]["reverse_complement"] is False
    assert validated["evaluate"]["bootstrap"] >= 1
    assert validated["finetune"]["early_stopping_patience"] == 3


def test_misspelt_key_names_key_and_suggests_nearest(config):
    config["windows"]["strid"] = 100
    with pytest.raises(ConfigError, match=r"windows\.strid.*did you mean 'stride'"):
        validate_config(config, SCHEMA)


def test_misspelt_key_inside_named_entry(config):
    config["models"]["tiny"]["scratch"]["layer"] = 3
    with pytest.raises(ConfigError, match=r"models\.tiny\.scratch\.layer.*'layers'"):
        validate_config(config, SCHEMA)


def test_unknown_top_level_key_lists_valid_ones(config):
    config["zzz"] = 1
    with pytest.raises(ConfigError, match=r"unknown key 'zzz': valid keys: genomes"):
        validate_config(config, SCHEMA)


def test_wrong_value_names_key_and_expectation(config):
    config["windows"]["softmask"] = "lower"
    with pytest.raises(ConfigError, match=r"windows\.softmask.*'upper', 'drop'"):
        validate_config(config, SCHEMA)


def test_wrong_type_names_key(config):
    config["finetune"]["seeds"] = "0,1"
    with pytest.raises(ConfigError, match=r"finetune\.seeds.*array"):
        validate_config(config, SCHEMA)


def test_genome_needs_exactly_one_source(config):
    config["genomes"]["demo"]["path"] = "/data/x.fa"
    with pytest.raises(ConfigError, match=r"genomes\.demo"):
        validate_config(config, SCHEMA)


def test_task_referring_to_unknown_genome(config):
    config["tasks"]["promoter"]["source"]["annotation"]["genome"] = "dem0"
    with pytest.raises(ConfigError, match=r"tasks\.promoter\.source\.annotation\.genome.*'dem0'"):
        validate_config(config, SCHEMA)


def test_grid_multiplies_tasks_models_variants_fractions_seeds(config):
    config = validate_config(config, SCHEMA)
    config["finetune"].update(seeds=[0, 1, 2], label_fractions=[0.05, 1.0])
    config["finetune"]["variants"] = ["scratch", "pretrained", "continued"]
    cells = grid(config)
    # the tiny model is an architecture spec: `continued` does not apply to it
    assert len(cells) == len(config["tasks"]) * 1 * 2 * 2 * 3
    assert {c.variant for c in cells} == {"scratch", "pretrained"}
    assert {c.fraction for c in cells} == {"0.05", "1"}


def test_task_finetune_overrides_only_that_task(config):
    config = validate_config(config, SCHEMA)
    config["tasks"]["promoter"]["finetune"] = {"lr": 1e-5}
    assert task_finetune(config, "promoter")["lr"] == 1e-5
    assert task_finetune(config, "coding")["lr"] == config["finetune"]["lr"]


def test_task_finetune_block_keeps_global_settings_it_does_not_name(config):
    config["finetune"]["lr"] = 5e-4
    config["tasks"]["promoter"]["finetune"] = {"epochs": 5}
    config = validate_config(config, SCHEMA)
    settings = task_finetune(config, "promoter")
    assert settings["epochs"] == 5 and settings["lr"] == 5e-4


def test_variants_and_tokenizer_ids():
    spec = {"scratch": {"tokenizer": {"kind": "kmer", "k": 6, "overlap": False}}}
    hub = {"hf": "org/model"}
    assert variants_for(spec, ["scratch", "continued"]) == ["scratch"]
    assert variants_for(hub, ["scratch", "continued"]) == ["scratch", "continued"]
    assert tokenizer_id("m", spec) == "kmer6-nonoverlap"
    assert tokenizer_id("nt", hub) == "hf-nt"
    bpe = {"scratch": {"tokenizer": {"kind": "bpe", "vocab_size": 512, "train_windows": 100}}}
    assert tokenizer_id("b", bpe) == "bpe512-100w"  # trained differently: a tokenizer of its own
    assert fraction_label(0.050) == "0.05" and fraction_label(1) == "1"


# ---------------------------------------------------------------- numbers given as text


def test_config_override_text_is_read_as_the_schema_types(config):
    # what `snakemake --config finetune='{lr: 1e-4, seeds: [0, 1], class_weights: true}'`
    # hands over: YAML's BaseLoader keeps every scalar as a string
    config["finetune"].update(lr="1e-4", seeds=["0", "1"], class_weights="true", epochs="2.5")
    config["report"] = {"title": "123"}
    said = []
    validated = validate_config(config, SCHEMA, source="config my.yaml", notify=said.append)
    assert validated["finetune"]["lr"] == 1e-4
    assert validated["finetune"]["seeds"] == [0, 1]
    assert validated["finetune"]["class_weights"] is True
    assert validated["finetune"]["epochs"] == 2.5
    assert validated["report"]["title"] == "123"  # a string key keeps its text
    # only the exponent without a dot is worth a word: it is the YAML file pitfall
    assert said == [
        "config my.yaml: key 'finetune.lr': text '1e-4' read as the number 0.0001 "
        "(YAML reads a number with an exponent but no dot as text; write 1.0e-4)"
    ]


def test_yaml_file_with_exponent_without_dot_is_read_as_a_number(config):
    text = "finetune: {lr: 1e-4}\ntasks:\n  promoter: {finetune: {lr: 5E-5}}\n"
    loaded = yaml.safe_load(text)
    assert loaded["finetune"]["lr"] == "1e-4"  # the pitfall itself: PyYAML reads text
    config["finetune"].update(loaded["finetune"])
    config["tasks"]["promoter"]["finetune"] = loaded["tasks"]["promoter"]["finetune"]
    said = []
    validated = validate_config(config, SCHEMA, notify=said.append)
    assert validated["finetune"]["lr"] == 1e-4
    assert task_finetune(validated, "promoter")["lr"] == 5e-5
    assert any("tasks.promoter.finetune.lr" in line and "write 5.0e-5" in line for line in said)


def test_text_that_is_no_number_is_still_an_error(config):
    config["finetune"]["lr"] = "fast"
    with pytest.raises(ConfigError, match=r"key 'finetune\.lr': 'fast' is not of type 'number'"):
        validate_config(config, SCHEMA)


def test_errors_name_the_config_files_used_and_the_overrides(config):
    source = describe_source(["/data/run1.yaml"], ["finetune={seeds: [0, 0]}"])
    assert source == "config /data/run1.yaml with --config finetune={seeds: [0, 0]}"
    assert describe_source(["config/config.yaml"], []) == "config config/config.yaml"
    config["windows"]["strid"] = 1
    with pytest.raises(ConfigError, match=r"^config /data/run1\.yaml with --config .*strid"):
        validate_config(config, SCHEMA, source=source)
    config["windows"].pop("strid")
    config["pretrain"]["genomes"] = ["dem0"]
    with pytest.raises(ConfigError, match=r"^config /data/run1\.yaml .*pretrain\.genomes"):
        validate_config(config, SCHEMA, source=source)


# ---------------------------------------------------------------- grids that could not run


def _set(path: str, value):
    """A config edit setting the key at dotted `path`."""

    def change(config):
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("finetune.seeds", [0, 1, 0], r"key 'finetune\.seeds': \[0, 1, 0\] has non-unique"),
        ("finetune.seeds", [-1], r"key 'finetune\.seeds\.0': -1 is less than the minimum of 0"),
        ("finetune.seeds", [2**32], r"key 'finetune\.seeds\.0': .* greater than the maximum"),
        ("finetune.seeds", [], r"key 'finetune\.seeds': \[\] should be non-empty"),
        ("finetune.label_fractions", [0.5, 0.5], r"key 'finetune\.label_fractions': .*non-unique"),
        ("finetune.label_fractions", [1, 1.0], r"key 'finetune\.label_fractions': .*non-unique"),
        ("finetune.label_fractions", [1e-5], r"key 'finetune\.label_fractions\.0': .*0\.0001"),
        (
            "finetune.label_fractions",
            [0.1, 0.1000001],
            r"key 'finetune\.label_fractions': label fractions 0\.1 and 0\.1000001 would "
            r"share the result folder f0\.1",
        ),
        ("finetune.variants", ["scratch", "scratch"], r"key 'finetune\.variants': .*non-unique"),
        (
            "finetune.variants",
            ["continued"],
            r"key 'finetune\.variants': model 'tiny' has none of the variants \['continued'\]",
        ),
        ("pretrain.seed", -3, r"key 'pretrain\.seed': -3 is less than the minimum of 0"),
        ("evaluate.seed", -1, r"key 'evaluate\.seed': -1 is less than the minimum of 0"),
        ("pretrain.genomes", ["demo", "demo"], r"key 'pretrain\.genomes': .*non-unique"),
        (
            "tasks.promoter.finetune.seeds",
            [3, 3],
            r"key 'tasks\.promoter\.finetune\.seeds': \[3, 3\] has non-unique",
        ),
        (
            "tasks.coding.finetune.label_fractions",
            [0.25, 0.2500001],
            r"key 'tasks\.coding\.finetune\.label_fractions': label fractions 0\.25 and",
        ),
        (
            "tasks.coding.finetune.variants",
            ["continued"],
            r"key 'tasks\.coding\.finetune\.variants': model 'tiny' has none",
        ),
    ],
)
def test_grid_that_could_not_run_is_rejected_naming_the_key(config, path, value, error):
    _set(path, value)(config)
    with pytest.raises(ConfigError, match=error):
        validate_config(config, SCHEMA)


def test_grid_of_a_hub_model_keeps_continued_only(config):
    config["models"]["nt"] = {"hf": "org/model"}
    config["tasks"]["coding"]["finetune"] = {"variants": ["continued"]}
    config["models"].pop("tiny")
    config = validate_config(config, SCHEMA)
    assert {c.variant for c in grid(config) if c.task == "coding"} == {"continued"}


# ---------------------------------------------------------------- per-task grids


def test_task_grid_keys_override_the_global_grid_for_that_task_only(config):
    config["tasks"]["promoter"]["finetune"] = {"seeds": [0, 1, 2, 3], "label_fractions": [0.5]}
    config["tasks"]["coding"]["finetune"] = {"variants": ["scratch"]}
    config = validate_config(config, SCHEMA)
    assert config["tasks"]["promoter"]["finetune"] == {
        "seeds": [0, 1, 2, 3],
        "label_fractions": [0.5],
    }
    cells = grid(config)
    promoter = {(c.variant, c.fraction, c.seed) for c in cells if c.task == "promoter"}
    coding = {(c.variant, c.fraction, c.seed) for c in cells if c.task == "coding"}
    globals_ = config["finetune"]
    assert promoter == {(v, "0.5", s) for v in globals_["variants"] for s in (0, 1, 2, 3)}
    assert coding == {
        ("scratch", fraction_label(f), s)
        for f in globals_["label_fractions"]
        for s in globals_["seeds"]
    }


# ---------------------------------------------------------------- per-model pre-training


def test_model_pretrain_block_overrides_global_pretrain_for_that_model(config):
    config["models"]["other"] = copy.deepcopy(config["models"]["tiny"])
    config["models"]["tiny"]["pretrain"] = {"max_steps": 10, "lr": "1e-3"}
    config = validate_config(config, SCHEMA, notify=lambda line: None)
    assert config["models"]["tiny"]["pretrain"] == {"max_steps": 10, "lr": 1e-3}
    tiny, other = model_pretrain(config, "tiny"), model_pretrain(config, "other")
    assert (tiny["max_steps"], tiny["lr"]) == (10, 1e-3)
    assert (other["max_steps"], other["lr"]) == (
        config["pretrain"]["max_steps"],
        config["pretrain"]["lr"],
    )
    assert tiny["batch_size"] == other["batch_size"] == config["pretrain"]["batch_size"]


def test_model_pretrain_genomes_fall_back_to_global_then_all(config):
    config["genomes"]["other"] = {"simulate": {"length": 50000}}
    config["models"]["other_bert"] = copy.deepcopy(config["models"]["tiny"])
    config["models"]["other_bert"]["pretrain"] = {"genomes": ["other"]}
    config["pretrain"].pop("genomes")
    config = validate_config(config, SCHEMA)
    assert pretrain_genomes(config, "tiny") == ["demo", "other"]
    assert pretrain_genomes(config, "other_bert") == ["other"]
    config["pretrain"]["genomes"] = ["demo"]
    assert pretrain_genomes(config, "tiny") == ["demo"]


@pytest.mark.parametrize(
    ("block", "error"),
    [
        ({"max_step": 10}, r"models\.tiny\.pretrain\.max_step.*did you mean 'max_steps'"),
        ({"genomes": ["dem0"]}, r"key 'models\.tiny\.pretrain\.genomes': unknown genome 'dem0'"),
        ({"genomes": ["demo", "demo"]}, r"key 'models\.tiny\.pretrain\.genomes': .*non-unique"),
        ({"lr": 0}, r"key 'models\.tiny\.pretrain\.lr': 0 is less than or equal"),
    ],
)
def test_model_pretrain_block_is_checked(config, block, error):
    config["models"]["tiny"]["pretrain"] = block
    with pytest.raises(ConfigError, match=error):
        validate_config(config, SCHEMA)


def test_every_schema_key_is_documented_in_the_config_readme():
    schema = yaml.safe_load(SCHEMA.read_text())
    readme = (ROOT / "config" / "README.md").read_text()

    def keys(node, path):
        node = resolve_ref(node, schema)
        for key, child in node.get("properties", {}).items():
            yield [*path, key]
            yield from keys(child, [*path, key])
        for child in (node.get("additionalProperties"), node.get("items")):
            if isinstance(child, dict):
                yield from keys(child, [*path, "<name>"])

    undocumented = [
        ".".join(path)
        for path in keys(schema, [])
        if not re.search(rf"[`.]{re.escape(path[-1])}[`:,. ]", readme)
    ]
    assert not undocumented, f"keys missing from config/README.md: {undocumented}"
