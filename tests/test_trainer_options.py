"""The `trainer:` pass-through: TrainingArguments fields the schema does not name, checked."""

import copy

import pytest
import yaml
from conftest import ROOT

from dnatune.config import ConfigError, naming_source, validate_config
from dnatune.train.trainer_options import check_options, check_trainer_options

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture(scope="module")
def demo_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def checked(config: dict, edit) -> None:
    """Validate `config` after `edit`, then check its trainer blocks as common.smk does."""
    config = copy.deepcopy(config)
    edit(config)
    validated = validate_config(config, SCHEMA, source="config mine.yaml")
    with naming_source("config mine.yaml"):
        check_trainer_options(validated)


@pytest.mark.parametrize(
    ("block", "key", "error"),
    [
        (
            "finetune",
            "gradient_accumulaton_steps",
            r"key 'finetune.trainer.gradient_accumulaton_steps': not a TrainingArguments field; "
            r"did you mean 'gradient_accumulation_steps'\?",
        ),
        (
            "finetune",
            "learning_rate",
            r"key 'finetune.trainer.learning_rate': .* set it with the key 'finetune.lr'",
        ),
        (
            "finetune",
            "weight_decay",  # a key the schema names (x-training-argument)
            r"key 'finetune.trainer.weight_decay': .* set it with the key 'finetune.weight_decay'",
        ),
        (
            "finetune",
            "metric_for_best_model",
            r"set it with the key 'tasks.<task>.metric'",
        ),
        (
            "pretrain",
            "save_steps",
            r"key 'pretrain.trainer.save_steps': .* set it with the key 'pretrain.save_steps'",
        ),
        (
            "pretrain",
            "report_to",
            r"key 'pretrain.trainer.report_to': .* the pipeline sets it for every run",
        ),
    ],
)
def test_refused_keys_name_the_field_or_the_schema_key(block, key, error):
    with pytest.raises(ValueError, match=error):
        check_options({key: 1}, f"{block}.trainer", block)


def test_free_knobs_pass(demo_config):
    check_options(
        {"gradient_accumulation_steps": 2, "lr_scheduler_type": "cosine", "adam_epsilon": 1e-6},
        "finetune.trainer",
        "finetune",
    )
    checked(demo_config, lambda c: c["pretrain"].update(trainer={"adam_beta2": 0.98}))


def test_the_workflow_checks_every_trainer_block_before_any_job(demo_config):
    task = next(iter(demo_config["tasks"]))
    model = next(iter(demo_config["models"]))
    with pytest.raises(
        ConfigError,
        match=rf"config mine.yaml: key 'tasks.{task}.finetune."
        r"trainer.num_train_epochs': .*'finetune.epochs'",
    ):
        checked(
            demo_config,
            lambda c: c["tasks"][task].update(finetune={"trainer": {"num_train_epochs": 2}}),
        )
    with pytest.raises(ConfigError, match=rf"key 'models.{model}.pretrain.trainer.sed'"):
        checked(demo_config, lambda c: c["models"][model].update(pretrain={"trainer": {"sed": 1}}))
