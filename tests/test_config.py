"""Config validation: typos, wrong types and dangling references fail before any job runs."""

import copy
from pathlib import Path

import pytest
import yaml

from dnatune.config import (
    ConfigError,
    fraction_label,
    grid,
    task_finetune,
    tokenizer_id,
    validate_config,
    variants_for,
)

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
