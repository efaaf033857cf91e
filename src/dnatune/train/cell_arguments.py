"""The TrainingArguments of a fine-tuning cell: schedule, evaluation, precision, devices."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import TYPE_CHECKING

import torch
from transformers import TrainingArguments

from dnatune import metrics
from dnatune.tasks.frames import FinetuneInputError
from dnatune.train.launch import device_flags, per_device_batch
from dnatune.train.loading import unpadded_batches
from dnatune.train.trainer_options import training_arguments
from dnatune.train.training_speed import speed_arguments

if TYPE_CHECKING:
    from dnatune.train.finetune import CellData, FinetuneArguments

# eval_steps "auto": this many evaluations per run, so that early stopping (patience 3 by
# default) can end a run whose val metric stopped improving
AUTO_EVALUATIONS = 10


def cell_training_arguments(args, model, data: CellData, checkpoint_dir: str):
    """TrainingArguments of the cell: the pipeline's, the marked schema knobs, `trainer:`."""
    on_cpu = not torch.cuda.is_available()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    eval_every = evaluation_interval(
        args.eval_steps, total_steps(args, len(data.datasets["train"]))
    )
    precision = cell_precision(args.precision)
    batch_size = per_device_batch(args.batch_size, world_size)  # global batch kept under DDP
    lengths = {s: {len(ids) for ids in enc.input_ids} for s, enc in data.encoded.items()}
    pipeline = dict(
        output_dir=checkpoint_dir,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.lr,
        **unpadded_batches(
            model, batch_size, lengths["train"], eval_lengths=lengths["val"] | lengths["test"]
        ),
        warmup_steps=int(args.warmup_ratio * total_steps(args, len(data.datasets["train"]))),
        eval_strategy="steps",
        eval_steps=eval_every,
        save_strategy="steps",
        save_steps=eval_every,
        save_total_limit=1,  # plus the best one: the Trainer keeps it for load_best_model_at_end
        load_best_model_at_end=args.select == "best",
        restore_callback_states_from_checkpoint=True,  # early stopping's patience count
        metric_for_best_model=data.headline,
        greater_is_better=metrics.greater_is_better(data.headline),
        logging_steps=eval_every,
        logging_first_step=True,
        seed=args.seed,
        data_seed=args.seed,
        full_determinism=on_cpu,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        dataloader_pin_memory=not on_cpu,
        report_to="none",
        disable_tqdm=True,
        **_sampling_arguments(args.group_by_length),
        **speed_arguments(args.compile, args.fused_optimizer, "finetune"),
        # probe and LoRA leave weights out of the backward pass: let DDP look for them
        **device_flags(world_size, find_unused_parameters=None),
        # classification heads average their loss over the batch; with the default (True)
        # transformers also scales it by the process count, doubling DDP's gradients
        average_tokens_across_devices=False,
    )
    return training_arguments(pipeline, args, "finetune")


def total_steps(args: FinetuneArguments, n_train: int) -> int:
    """Optimiser steps of the run: max_steps, else the epochs' updates (as the Trainer counts
    them: one per `trainer.gradient_accumulation_steps` batches, 1 unless set)."""
    if args.max_steps > 0:
        return args.max_steps
    batches = math.ceil(n_train / args.batch_size)
    updates = math.ceil(batches / args.trainer.get("gradient_accumulation_steps", 1))
    return math.ceil(args.epochs * updates)


def evaluation_interval(eval_steps: int | str, total_steps: int) -> int:
    """Steps between val evaluations (a run shorter than that is evaluated at its end, see
    EvaluateAtEnd); "auto": AUTO_EVALUATIONS per run.

    Counted in steps, not epochs: a tiny label fraction has epochs of a step or two.
    """
    if eval_steps == "auto":
        return max(1, math.ceil(total_steps / AUTO_EVALUATIONS))
    if isinstance(eval_steps, bool) or not isinstance(eval_steps, int) or eval_steps < 1:
        raise FinetuneInputError(
            f"key 'finetune.eval_steps': {eval_steps!r} is neither a step count >= 1 nor auto"
        )
    return min(eval_steps, total_steps)


def cell_precision(precision: str) -> str:
    if precision != "auto":
        return precision
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def _sampling_arguments(group_by_length: bool) -> dict:
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    if "train_sampling_strategy" in fields:  # transformers >= 5
        return {"train_sampling_strategy": "group_by_length" if group_by_length else "random"}
    return {"group_by_length": group_by_length}
