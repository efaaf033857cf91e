"""Fine-tune one cell of the variant grid: task x model x variant x label fraction x seed.

Laid out like transformers' examples/pytorch/text-classification/run_glue.py:
one dataclass of arguments and a linear `finetune()`; the Trainer does the
training loop, evaluation, early stopping and best-model selection.

- methods: `full`, `lora` (peft adapters; the head stays trainable via
  modules_to_save) and `probe` (frozen backbone, trainable head);
- dynamic padding (DataCollatorWithPadding) and length-grouped batches;
- model selection on val only; test is predicted once, at the end;
- sequences longer than the model accepts are truncated or slid over in
  overlapping windows (predictions averaged per sequence), and counted;
- checkpoints go to `checkpoint_dir`, outside the cell's outputs, so that a
  killed or requeued job resumes from the last one (early-stopping state and
  the best checkpoint included) when its settings and inputs are unchanged;
- under torchrun (`dnatune.train.launch`) it trains with DDP over the processes,
  `batch_size` being the global batch; rank 0 writes the outputs.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    TrainerState,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import TrainOutput
from transformers.utils import logging as hf_logging

from dnatune import metrics
from dnatune.cell_outputs import json_safe, prediction_arrays
from dnatune.settings import FinetuneSettings
from dnatune.tasks.frames import (
    FinetuneInputError,
    Task,
    check_classes,
    label_subsample,
    load_task,
)
from dnatune.train.cell_arguments import cell_training_arguments
from dnatune.train.cell_checkpoints import (
    FINGERPRINT,
    cell_checkpoints,
    run_fingerprint,
    training_stopped,
)
from dnatune.train.cell_history import data_record, model_record, training_record
from dnatune.train.cell_trainer import (
    CellTrainer,
    EvaluateAtEnd,
    TrainerMetrics,
    _weighted_loss,
    scores_from_logits,
)
from dnatune.train.checkpoints import (
    discard_stale_checkpoints,
    last_complete_checkpoint,
)
from dnatune.train.encoding import Encoded, by_length, enc_to_dataset, encode_split
from dnatune.train.loading import can_mask_padding
from dnatune.train.methods import lora_target_modules, prepare_method
from dnatune.train.models import load_sequence_classifier, max_model_tokens
from dnatune.train.pooling import POOLINGS
from dnatune.train.predictions import (
    prediction_frame,
    rc_average,
    save_cell,
    strand_averaged_frame,
)
from dnatune.train.throughput import ThroughputCallback, run_precision

# What moved out of this module stays importable from it, for code written against it.
__all__ = [
    "FINGERPRINT",
    "FinetuneArguments",
    "FinetuneInputError",
    "finetune",
    "encode_split",
    "label_subsample",
    "lora_target_modules",
    "prepare_method",
    "run_fingerprint",
    "scores_from_logits",
]

logger = logging.getLogger(__name__)

PROBLEM_TYPES = {
    "binary": "single_label_classification",
    "multiclass": "single_label_classification",
    "multilabel": "multi_label_classification",
    "regression": "regression",
}


@dataclass
class FinetuneArguments(FinetuneSettings):
    """One cell: its finetune settings (task_finetune(config, task)), paths and grid place.

    The settings have no defaults here: the workflow passes the block the schema filled
    (`from_config`), tests and benchmarks take the schema's with `defaults()`.
    """

    model_dir: str
    task_dir: str
    output_dir: str
    # checkpoints, outside the outputs so that a killed job resumes from them
    # (results/checkpoints/finetune/{cell}); "" puts them in output_dir/.checkpoints
    checkpoint_dir: str = ""
    keep_checkpoints: bool = False  # else deleted once the cell's outputs are complete
    reinitialise: bool = False  # the scratch variant
    label_fraction: float = 1.0
    seed: int = 0
    lora_target_modules: list[str] | None = None  # models.<m>.lora_target_modules
    metric: str | None = None  # tasks.<task>.metric; None: the task type's headline metric
    trust_remote_code: bool = False  # models.<m>.trust_remote_code
    threads: int | None = None
    # The benchmark's baseline switches these (run_glue.py has pad_to_max_length too).
    pad_to_max_length: bool = False
    group_by_length: bool = True
    attn_implementation: str | None = "sdpa"


@dataclass
class CellData:
    """What a cell trains and is scored on: the task, its train subsample, encoded splits."""

    task: Task
    train_frame: pd.DataFrame
    headline: str  # the metric that selects the best checkpoint
    encoded: dict[str, Encoded]
    datasets: dict
    encode: Callable[[pd.DataFrame], Encoded]  # as the splits were (strand averaging re-encodes)

    @property
    def long_counts(self) -> dict[str, int]:
        return {split: enc.n_long for split, enc in self.encoded.items()}


@dataclass
class CellModel:
    """The model being fine-tuned, its tokenizer, and what the history records of it."""

    model: object
    tokenizer: object
    max_length: int
    trainable: int
    total: int


def finetune(args: FinetuneArguments, callbacks: list | None = None) -> dict:
    """Train one cell and write model/, history.json and predictions.parquet; return the history.

    The history comes back JSON-safe (as written), so `dnatune.train.launch` can hand it over
    from a torchrun worker. `callbacks`: extra TrainerCallbacks (tests use them).
    """
    on_cpu = not torch.cuda.is_available()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    set_seed(args.seed, deterministic=on_cpu)
    hf_logging.disable_progress_bar()  # saving takes well under a second
    if args.threads:
        torch.set_num_threads(max(1, args.threads // world_size))
    _check_arguments(args)

    task, train_frame, headline = load_cell_task(args)
    cell_model = load_cell_model(args, task)
    data = encode_cell(args, task, train_frame, headline, cell_model)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with cell_checkpoints(args) as checkpoint_dir:
        training_args = cell_training_arguments(args, cell_model.model, data, checkpoint_dir)
        last = resumable_checkpoint(args, training_args, checkpoint_dir)
        throughput = ThroughputCallback(
            cell_model.model, run_precision(training_args), stage="finetune"
        )
        trainer = make_trainer(
            args, cell_model, data, training_args, [throughput, *(callbacks or [])]
        )
        started = time.perf_counter()
        train_result = train_or_finish(trainer, last, args.select)
        train_seconds = time.perf_counter() - started
        state = trainer.state
        logger.info(
            "trained %d steps in %.1f s (%.1f samples/s); best %s %.4g at step %s",
            state.global_step,
            train_seconds,
            train_result.metrics.get("train_samples_per_second", float("nan")),
            headline,
            state.best_metric if state.best_metric is not None else float("nan"),
            state.best_global_step,
        )
        # model selection is done: val and test are predicted once, with the best model
        both_strands = rc_average(args, cell_model.model)
        predictions = predict_cell(trainer, data, both_strands)
        history = {
            **training_record(args, trainer, train_result, train_seconds, last),
            "world_size": world_size,
            "val_metrics": val_metrics(predictions, task.type),
            **data_record(args, data),
            **model_record(args, cell_model, trainer, both_strands),
            "throughput": throughput.record,  # empty when this job resumed a finished run
        }
        if trainer.is_world_process_zero():
            save_cell(trainer, cell_model.tokenizer, task, args, history, predictions, output_dir)
    return json_safe(history)


# ---------------------------------------------------------------- the steps, in order


def load_cell_task(args: FinetuneArguments) -> tuple[Task, pd.DataFrame, str]:
    """The task, its train split subsampled to the label fraction, and the headline metric."""
    task = load_task(args.task_dir, seed=args.seed)
    headline = metrics.headline_metric(task.type, args.metric, where=f"tasks.{task.name}.metric")
    train_frame = label_subsample(
        task.frames["train"], task.type, args.label_fraction, args.seed, task.paths["train"]
    )
    check_classes(
        task, {"train": train_frame, "val": task.frames["val"], "test": task.frames["test"]}
    )
    logger.info(
        "task %s (%s): %d of %d train examples (label fraction %g, seed %d), %d val, %d test",
        task.name,
        task.type,
        len(train_frame),
        len(task.frames["train"]),
        args.label_fraction,
        args.seed,
        len(task.frames["val"]),
        len(task.frames["test"]),
    )
    return task, train_frame, headline


def load_cell_model(args: FinetuneArguments, task: Task) -> CellModel:
    """The model with a fresh head for the task, set up for the method (full, probe, lora)."""
    model, tokenizer = load_sequence_classifier(
        args.model_dir,
        num_labels=1 if task.type == "regression" else task.num_labels,
        problem_type=PROBLEM_TYPES[task.type],
        reinitialise=args.reinitialise,
        seed=args.seed,
        trust_remote_code=args.trust_remote_code,
        pooling=args.pooling,
    )
    if args.attn_implementation:
        _set_attention(model, args.attn_implementation)
    max_length = max_model_tokens(model.config, tokenizer.max_length)
    model = prepare_method(model, args)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info(
        "model %s (%s, attention %s): method %s trains %d of %d parameters",
        args.model_dir,
        "re-initialised" if args.reinitialise else "pretrained weights",
        getattr(model.config, "_attn_implementation", "?"),
        args.method,
        trainable,
        total,
    )
    return CellModel(model, tokenizer, max_length, trainable, total)


def encode_cell(args, task: Task, train_frame, headline: str, cell_model: CellModel) -> CellData:
    """The splits tokenised; val and test sorted by length (evaluated in dataset order)."""
    frames = {"train": train_frame, "val": task.frames["val"], "test": task.frames["test"]}
    encode = functools.partial(
        encode_split,
        tokenizer=cell_model.tokenizer,
        max_length=cell_model.max_length,
        long_sequences=args.long_sequences,
        task_type=task.type,
    )
    encoded = {split: encode(frame) for split, frame in frames.items()}
    # evaluation batches run in dataset order: sorted by length they carry little padding
    encoded["val"], encoded["test"] = by_length(encoded["val"]), by_length(encoded["test"])
    datasets = {split: enc_to_dataset(enc) for split, enc in encoded.items()}
    data = CellData(task, train_frame, headline, encoded, datasets, encode)
    if any(data.long_counts.values()):
        logger.warning(
            "sequences longer than %d tokens (%s): %s",
            cell_model.max_length,
            "truncated" if args.long_sequences == "truncate" else "split into windows",
            ", ".join(f"{s} {n}" for s, n in data.long_counts.items()),
        )
    return data


def resumable_checkpoint(args, training_args: TrainingArguments, checkpoint_dir: str):
    """The last checkpoint of this exact cell, if a killed job left one (else None)."""
    with training_args.main_process_first(desc="checkpoints"):
        if training_args.process_index == 0:
            discard_stale_checkpoints(checkpoint_dir, run_fingerprint(args), FINGERPRINT)
        last = last_complete_checkpoint(checkpoint_dir, clean=training_args.process_index == 0)
    if last:
        logger.info("resuming from %s", last)
    return last


def make_trainer(args, cell_model: CellModel, data: CellData, training_args, callbacks):
    """The cell's Trainer: dynamic padding, the task's metrics, early stopping with `best`."""
    callbacks = [EvaluateAtEnd(), *(callbacks or [])]
    if args.early_stopping_patience > 0 and args.select == "best":
        callbacks.append(EarlyStoppingCallback(args.early_stopping_patience))
    elif args.early_stopping_patience > 0:
        logger.info("select: last trains every epoch; early stopping is off")
    # a model that cannot mask padding is never padded (see unpadded_batches)
    padding = (
        "max_length" if args.pad_to_max_length and can_mask_padding(cell_model.model) else "longest"
    )
    hf_tokenizer = cell_model.tokenizer.hf
    task_type = data.task.type
    return CellTrainer(
        model=cell_model.model,
        args=training_args,
        train_dataset=data.datasets["train"],
        eval_dataset=data.datasets["val"],
        processing_class=hf_tokenizer,
        data_collator=DataCollatorWithPadding(
            hf_tokenizer, padding=padding, max_length=cell_model.max_length
        ),
        compute_metrics=TrainerMetrics(task_type),
        compute_loss_func=_weighted_loss(task_type, data.encoded["train"].labels)
        if args.class_weights
        else None,
        callbacks=callbacks,
    )


def train_or_finish(trainer, last: str | None, select: str) -> TrainOutput:
    """Train (from `last`, if resuming), or only finish a run killed after its last checkpoint."""
    if last and training_stopped(last):
        # killed after its final checkpoint, before its outputs: train() would run a
        # step more; only its ending is left, loading the model it keeps
        trainer.state = TrainerState.load_from_json(str(Path(last) / "trainer_state.json"))
        if select == "best":
            trainer._load_best_model()
        else:
            trainer._load_from_checkpoint(last)
        return TrainOutput(trainer.state.global_step, float("nan"), {})
    return trainer.train(resume_from_checkpoint=last)


def predict_cell(trainer, data: CellData, both_strands: bool) -> pd.DataFrame:
    """Val and test predictions, one row per task example (strand-averaged if asked)."""
    frames = []
    for split in ("val", "test"):
        if both_strands:
            frames.append(
                strand_averaged_frame(trainer, split, data.task, data.encoded[split], data.encode)
            )
        else:
            logits = trainer.predict(data.datasets[split]).predictions
            frames.append(prediction_frame(split, data.task, data.encoded[split], logits))
    return pd.concat(frames, ignore_index=True)


def val_metrics(predictions: pd.DataFrame, task_type: str) -> dict:
    val = predictions[predictions["split"] == "val"]
    return metrics.compute_metrics(task_type, *prediction_arrays(val, task_type))


# ---------------------------------------------------------------- checks and switches


def _set_attention(model, implementation: str) -> None:
    try:
        model.set_attn_implementation(implementation)
    except (ValueError, ImportError, AttributeError) as err:
        logger.warning("attention '%s' not available for this model (%s)", implementation, err)


def _check_arguments(args: FinetuneArguments) -> None:
    choices = {
        "method": ("full", "lora", "probe"),
        "long_sequences": ("truncate", "slide"),
        "pooling": POOLINGS,
        "select": ("best", "last"),
    }
    for key, allowed in choices.items():
        if getattr(args, key) not in allowed:
            raise FinetuneInputError(
                f"key 'finetune.{key}': '{getattr(args, key)}' is not one of {', '.join(allowed)}"
            )
