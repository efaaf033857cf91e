"""TrainingArguments from the settings: the pipeline's own, the marked schema knobs, `trainer:`.

`finetune.trainer` and `pretrain.trainer` (and a task's or a model's own block) hand
further transformers TrainingArguments to the Trainer, for knobs no schema key names
(gradient_accumulation_steps, lr_scheduler_type, max_grad_norm, ...). A key that is not
a TrainingArguments field is an error naming the closest field; a key the pipeline sets
itself is an error naming the schema key that sets it. The workflow checks every block
when it starts (check_trainer_options, from common.smk); each job checks its own again.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools

from dnatune.settings import FinetuneSettings, PretrainSettings, SchemaSettings

# TrainingArguments fields the pipeline sets itself -> the schema key that sets them
# (None: no key, the pipeline decides them for every run)
PIPELINE = dict.fromkeys(
    (
        "output_dir",
        "eval_strategy",
        "save_strategy",
        "save_total_limit",
        "logging_strategy",
        "logging_first_step",
        "restore_callback_states_from_checkpoint",
        "full_determinism",
        "dataloader_pin_memory",
        "report_to",
        "disable_tqdm",
        "train_sampling_strategy",
        "group_by_length",
        "average_tokens_across_devices",
        "remove_unused_columns",
        "prediction_loss_only",
        "resume_from_checkpoint",
        "use_cpu",
        "ddp_backend",
        "ddp_find_unused_parameters",
    )
)
CONTROLLED = {
    "finetune": {
        **PIPELINE,
        "learning_rate": "lr",
        "num_train_epochs": "epochs",
        "max_steps": "max_steps",
        "per_device_train_batch_size": "batch_size",
        "per_device_eval_batch_size": "batch_size",
        "warmup_steps": "warmup_ratio",
        "warmup_ratio": "warmup_ratio",
        "eval_steps": "eval_steps",
        "save_steps": "eval_steps",
        "logging_steps": "eval_steps",
        "seed": "seeds",
        "data_seed": "seeds",
        "bf16": "precision",
        "fp16": "precision",
        "load_best_model_at_end": "select",
        "metric_for_best_model": "tasks.<task>.metric",
        "greater_is_better": "tasks.<task>.metric",
    },
    "pretrain": {
        **PIPELINE,
        "learning_rate": "lr",
        "max_steps": "max_steps",
        "per_device_train_batch_size": "batch_size",
        "per_device_eval_batch_size": "batch_size",
        "warmup_steps": "warmup_ratio",
        "warmup_ratio": "warmup_ratio",
        "eval_steps": "save_steps",
        "save_steps": "save_steps",
        "logging_steps": "logging_steps",
        "seed": "seed",
        "data_seed": "seed",
        "bf16": "precision",
        "fp16": "precision",
    },
}
BLOCKS = {"finetune": FinetuneSettings, "pretrain": PretrainSettings}


@functools.cache
def training_argument_fields() -> frozenset[str]:
    from transformers import TrainingArguments

    return frozenset(f.name for f in dataclasses.fields(TrainingArguments) if f.init)


def check_options(options: dict, where: str, block: str) -> None:
    """Raise ValueError for the first `trainer:` key (at `where`) the pass-through refuses."""
    fields = training_argument_fields()
    settings: type[SchemaSettings] = BLOCKS[block]
    schema_key = {
        **CONTROLLED[block],
        **{field: key for key, field in settings.training_argument_keys().items()},
    }
    for key in options:
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "see transformers' TrainingArguments"
            raise ValueError(f"key '{where}.{key}': not a TrainingArguments field; {hint}")
        if key in schema_key:
            use = schema_key[key]
            fix = (
                f"set it with the key '{use if '.' in use else f'{block}.{use}'}'"
                if use
                else "the pipeline sets it for every run"
            )
            raise ValueError(
                f"key '{where}.{key}': TrainingArguments.{key} is not passed through: {fix}"
            )


def check_trainer_options(config: dict) -> None:
    """Check every `trainer:` block of a validated config (global, per task, per model)."""
    blocks = [
        ("finetune.trainer", "finetune", config.get("finetune", {}).get("trainer")),
        ("pretrain.trainer", "pretrain", config.get("pretrain", {}).get("trainer")),
    ]
    for task, spec in config.get("tasks", {}).items():
        options = spec.get("finetune", {}).get("trainer")
        blocks.append((f"tasks.{task}.finetune.trainer", "finetune", options))
    for model, spec in config.get("models", {}).items():
        options = spec.get("pretrain", {}).get("trainer")
        blocks.append((f"models.{model}.pretrain.trainer", "pretrain", options))
    for where, block, options in blocks:
        if options:  # transformers is imported only for a config that uses the pass-through
            check_options(options, where, block)


def training_arguments(pipeline: dict, settings, block: str):
    """TrainingArguments: the pipeline's `pipeline` kwargs, the marked knobs, then `trainer:`."""
    from transformers import TrainingArguments

    check_options(settings.trainer, f"{block}.trainer", block)
    return TrainingArguments(**{**pipeline, **settings.training_arguments, **settings.trainer})
