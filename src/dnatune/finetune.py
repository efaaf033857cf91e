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
- under torchrun (`dnatune.launch`) it trains with DDP over the processes,
  `batch_size` being the global batch; rank 0 writes the outputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import Sampler, SequentialSampler
from transformers import (
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    TrainerCallback,
    TrainerState,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import TrainOutput
from transformers.utils import logging as hf_logging

from dnatune import kmer, metrics
from dnatune.atomic import atomic_path
from dnatune.cell_outputs import json_safe, prediction_arrays, prediction_table, write_records
from dnatune.checkpoints import (
    checkpoint_step,
    discard_stale_checkpoints,
    inputs_digest,
    last_complete_checkpoint,
    remove_checkpoints,
    save_final_model,
)
from dnatune.families import GENERIC_HEAD, family_of
from dnatune.launch import device_flags, per_device_batch
from dnatune.model_loading import AliasSafeTrainer, can_mask_padding, unpadded_batches
from dnatune.models import load_sequence_classifier, max_model_tokens
from dnatune.pooling import POOLINGS
from dnatune.task_frames import (
    FinetuneInputError,
    Task,
    check_classes,
    label_array,
    label_subsample,
    load_task,
)
from dnatune.throughput import ThroughputCallback
from dnatune.training_speed import speed_arguments

logger = logging.getLogger(__name__)

PROBLEM_TYPES = {
    "binary": "single_label_classification",
    "multiclass": "single_label_classification",
    "multilabel": "multi_label_classification",
    "regression": "regression",
}
FINGERPRINT = "dnatune_finetune_args.json"  # beside the checkpoints: what they were made with
# eval_steps "auto": this many evaluations per run, so that early stopping (patience 3 by
# default) can end a run whose val metric stopped improving
AUTO_EVALUATIONS = 10
# checkpoint_dir's parents a finished cell removes when left empty: f{fraction}, variant,
# model, task, finetune/ and checkpoints/ of results/checkpoints/finetune/{cell}
CHECKPOINT_PARENTS = 6


@dataclass
class FinetuneArguments:
    """Everything one cell needs; the workflow fills it from task_finetune(config, task)."""

    model_dir: str
    task_dir: str
    output_dir: str
    # checkpoints, outside the outputs so that a killed job resumes from them
    # (results/checkpoints/finetune/{cell}); "" puts them in output_dir/.checkpoints
    checkpoint_dir: str = ""
    keep_checkpoints: bool = False  # else deleted once the cell's outputs are complete
    reinitialise: bool = False
    label_fraction: float = 1.0
    seed: int = 0
    method: str = "full"
    pooling: str = "mean"  # encoder heads: mean of the token states, or "first" ([CLS])
    # average each val/test prediction with its reverse complement's; auto: the family's default
    rc_average: bool | str = "auto"
    epochs: float = 3.0
    max_steps: int = -1
    lr: float = 5e-5
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    early_stopping_patience: int = 3
    eval_steps: int | str = "auto"  # steps between evaluations; auto: AUTO_EVALUATIONS per run
    select: str = "best"  # the model kept: best val checkpoint, or the last (all epochs run)
    class_weights: bool = False
    long_sequences: str = "truncate"
    lora: dict = field(default_factory=dict)
    lora_target_modules: list[str] | None = None  # models.<m>.lora_target_modules
    precision: str = "auto"
    metric: str | None = None
    trust_remote_code: bool = False
    threads: int | None = None
    # The benchmark's baseline switches these (run_glue.py has pad_to_max_length too).
    pad_to_max_length: bool = False
    group_by_length: bool = True
    attn_implementation: str | None = "sdpa"
    compile: bool = False  # torch.compile (training_speed.py)
    fused_optimizer: bool | str = "auto"  # auto: fused AdamW on a CUDA GPU

    @classmethod
    def from_settings(cls, settings: dict, **kwargs) -> FinetuneArguments:
        """Arguments from a finetune settings dict; grid keys (seeds, ...) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        picked = {k: v for k, v in settings.items() if k in names}
        picked.update(kwargs)
        return cls(**picked)


@dataclass
class Encoded:
    """A tokenised split: `row[i]` is the task row example i came from (windows share rows)."""

    input_ids: list
    attention_mask: list
    labels: np.ndarray
    row: np.ndarray
    n_long: int = 0
    n_truncated: int = 0
    n_windows: int = 0


def finetune(args: FinetuneArguments, callbacks: list | None = None) -> dict:
    """Train one cell and write model/, history.json and predictions.parquet; return the history.

    The history comes back JSON-safe (as written), so `dnatune.launch` can hand it over
    from a torchrun worker. `callbacks`: extra TrainerCallbacks (tests use them).
    """
    on_cpu = not torch.cuda.is_available()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    set_seed(args.seed, deterministic=on_cpu)
    hf_logging.disable_progress_bar()  # saving takes well under a second
    if args.threads:
        torch.set_num_threads(max(1, args.threads // world_size))
    _check_arguments(args)

    task = load_task(args.task_dir)
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

    frames = {"train": train_frame, "val": task.frames["val"], "test": task.frames["test"]}
    encode = functools.partial(
        encode_split,
        tokenizer=tokenizer,
        max_length=max_length,
        long_sequences=args.long_sequences,
        task_type=task.type,
    )
    encoded = {split: encode(frame) for split, frame in frames.items()}
    # evaluation batches run in dataset order: sorted by length they carry little padding
    encoded["val"], encoded["test"] = by_length(encoded["val"]), by_length(encoded["test"])
    long_counts = {split: enc.n_long for split, enc in encoded.items()}
    if any(long_counts.values()):
        logger.warning(
            "sequences longer than %d tokens (%s): %s",
            max_length,
            "truncated" if args.long_sequences == "truncate" else "split into windows",
            ", ".join(f"{s} {n}" for s, n in long_counts.items()),
        )
    datasets = {split: enc_to_dataset(enc) for split, enc in encoded.items()}

    steps_per_epoch = math.ceil(len(datasets["train"]) / args.batch_size)
    total_steps = args.max_steps if args.max_steps > 0 else math.ceil(args.epochs * steps_per_epoch)
    eval_every = evaluation_interval(args.eval_steps, total_steps)
    precision = _precision(args.precision)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with cell_checkpoints(args) as checkpoint_dir:
        batch_size = per_device_batch(args.batch_size, world_size)  # global batch kept under DDP
        training_args = TrainingArguments(
            output_dir=checkpoint_dir,
            num_train_epochs=args.epochs,
            max_steps=args.max_steps,
            learning_rate=args.lr,
            **unpadded_batches(
                model,
                batch_size,
                train_lengths={len(ids) for ids in encoded["train"].input_ids},
                eval_lengths={len(ids) for s in ("val", "test") for ids in encoded[s].input_ids},
            ),
            weight_decay=args.weight_decay,
            warmup_steps=int(args.warmup_ratio * total_steps),
            eval_strategy="steps",
            eval_steps=eval_every,
            save_strategy="steps",
            save_steps=eval_every,
            save_total_limit=1,  # plus the best one: the Trainer keeps it for load_best_model_at_end
            load_best_model_at_end=args.select == "best",
            restore_callback_states_from_checkpoint=True,  # early stopping's patience count
            metric_for_best_model=headline,
            greater_is_better=metrics.greater_is_better(headline),
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
        # resume from the last checkpoint of this exact cell, if a killed job left one
        with training_args.main_process_first(desc="checkpoints"):
            if training_args.process_index == 0:
                discard_stale_checkpoints(checkpoint_dir, run_fingerprint(args), FINGERPRINT)
            last = last_complete_checkpoint(checkpoint_dir, clean=training_args.process_index == 0)
        if last:
            logger.info("resuming from %s", last)
        throughput = ThroughputCallback(model, precision, stage="finetune")
        callbacks = [EvaluateAtEnd(), throughput, *(callbacks or [])]
        if args.early_stopping_patience > 0 and args.select == "best":
            callbacks.append(EarlyStoppingCallback(args.early_stopping_patience))
        elif args.early_stopping_patience > 0:
            logger.info("select: last trains every epoch; early stopping is off")
        # a model that cannot mask padding is never padded (see unpadded_batches)
        maskable = can_mask_padding(model)
        padding = "max_length" if args.pad_to_max_length and maskable else "longest"
        trainer = CellTrainer(
            model=model,
            args=training_args,
            train_dataset=datasets["train"],
            eval_dataset=datasets["val"],
            processing_class=tokenizer.hf,
            data_collator=DataCollatorWithPadding(
                tokenizer.hf, padding=padding, max_length=max_length
            ),
            compute_metrics=TrainerMetrics(task.type),
            compute_loss_func=_weighted_loss(task.type, encoded["train"].labels)
            if args.class_weights
            else None,
            callbacks=callbacks,
        )
        started = time.perf_counter()
        if last and training_stopped(last):
            # killed after its final checkpoint, before its outputs: train() would run a
            # step more; only its ending is left, loading the model it keeps
            trainer.state = TrainerState.load_from_json(str(Path(last) / "trainer_state.json"))
            if args.select == "best":
                trainer._load_best_model()
            else:
                trainer._load_from_checkpoint(last)
            train_result = TrainOutput(trainer.state.global_step, float("nan"), {})
        else:
            train_result = trainer.train(resume_from_checkpoint=last)
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
        both_strands = rc_average(args, model)
        predictions = pd.concat(
            [
                prediction_frame(
                    split,
                    task,
                    encoded[split],
                    trainer.predict(datasets[split]).predictions,
                )
                if not both_strands
                else strand_averaged_frame(trainer, split, task, encoded[split], encode)
                for split in ("val", "test")
            ],
            ignore_index=True,
        )
        val = predictions[predictions["split"] == "val"]
        val_metrics = metrics.compute_metrics(task.type, *prediction_arrays(val, task.type))

        history = {
            "log_history": state.log_history,
            "train_seconds": train_seconds,
            "train_steps": state.global_step,
            "resumed_from_step": checkpoint_step(last),  # train_seconds counts this job only
            "world_size": world_size,
            "train_samples_per_second": train_result.metrics.get("train_samples_per_second"),
            "best_step": state.best_global_step,
            "best_metric": state.best_metric,
            "metric": headline,
            "val_metrics": val_metrics,
            "n_train": len(train_frame),
            "n_train_available": len(task.frames["train"]),
            "n_val": len(task.frames["val"]),
            "n_test": len(task.frames["test"]),
            "label_fraction": args.label_fraction,
            "seed": args.seed,
            "method": args.method,
            "pooling": getattr(model.config, "dnatune_pooling", None),
            "rc_average": both_strands,
            "reinitialise": args.reinitialise,
            "trainable_parameters": trainable,
            "total_parameters": total,
            "max_length": max_length,
            "long_sequences": args.long_sequences,
            "long": long_counts,
            "truncated": {split: enc.n_truncated for split, enc in encoded.items()},
            "windows": {split: enc.n_windows for split, enc in encoded.items()},
            "eval_steps": eval_every,
            "select": args.select,
            "kept_step": state.best_global_step if args.select == "best" else state.global_step,
            "precision": precision,
            "attn_implementation": getattr(model.config, "_attn_implementation", None),
            "device": str(training_args.device),
            "padding": padding if maskable else "none (batches of one length)",
            "group_by_length": args.group_by_length,
            "throughput": throughput.record,  # empty when this job resumed a finished run
        }
        if trainer.is_world_process_zero():
            save_cell(trainer, tokenizer, task, args, history, predictions, output_dir)
    return json_safe(history)


# ---------------------------------------------------------------- tokenisation


def encode_split(
    frame: pd.DataFrame, tokenizer, max_length: int, long_sequences: str, task_type: str
) -> Encoded:
    """Tokenise without padding; sequences over max_length are truncated or slid over."""
    sequences = frame["sequence"].tolist()
    full = tokenizer(sequences, truncation=False)["input_ids"]
    lengths = np.array([len(ids) for ids in full])
    long_rows = np.flatnonzero(lengths > max_length)
    labels = label_array(frame["label"], task_type)
    if long_rows.size == 0:
        return Encoded(
            input_ids=[list(ids) for ids in full],
            attention_mask=[[1] * len(ids) for ids in full],
            labels=labels,
            row=np.arange(len(frame)),
        )
    if long_sequences == "truncate":
        clipped = tokenizer([sequences[i] for i in long_rows], max_length=max_length)["input_ids"]
        input_ids = [list(ids) for ids in full]
        for i, ids in zip(long_rows, clipped, strict=True):
            input_ids[i] = list(ids)
        return Encoded(
            input_ids=input_ids,
            attention_mask=[[1] * len(ids) for ids in input_ids],
            labels=labels,
            row=np.arange(len(frame)),
            n_long=len(long_rows),
            n_truncated=len(long_rows),
        )
    return _slide(sequences, full, labels, tokenizer, max_length)


def _slide(sequences, full, labels, tokenizer, max_length) -> Encoded:
    """Overlapping windows (half-window stride) for long sequences; one example per window."""
    specials = tokenizer.hf.num_special_tokens_to_add()
    input_ids, rows, n_long, n_truncated, n_windows = [], [], 0, 0, 0
    for i, (sequence, ids) in enumerate(zip(sequences, full, strict=True)):
        if len(ids) <= max_length:
            input_ids.append(list(ids))
            rows.append(i)
            continue
        n_long += 1
        tokens_per_base = max(len(ids) - specials, 1) / len(sequence)
        window = max(1, int(0.95 * (max_length - specials) / tokens_per_base))
        stride = max(1, window // 2)
        starts = list(range(0, len(sequence) - window + 1, stride))
        if starts[-1] + window < len(sequence):
            starts.append(len(sequence) - window)
        pieces = [sequence[s : s + window] for s in starts]
        encoded = tokenizer(pieces, truncation=False)["input_ids"]
        over = [j for j, piece_ids in enumerate(encoded) if len(piece_ids) > max_length]
        if over:  # a window denser in tokens than the sequence's average (e.g. N runs)
            n_truncated += len(over)
            clipped = tokenizer([pieces[j] for j in over], max_length=max_length)["input_ids"]
            for j, piece_ids in zip(over, clipped, strict=True):
                encoded[j] = piece_ids
        input_ids.extend(list(piece_ids) for piece_ids in encoded)
        rows.extend([i] * len(pieces))
        n_windows += len(pieces)
    rows = np.asarray(rows)
    return Encoded(
        input_ids=input_ids,
        attention_mask=[[1] * len(ids) for ids in input_ids],
        labels=labels[rows],
        row=rows,
        n_long=n_long,
        n_truncated=n_truncated,
        n_windows=n_windows,
    )


def by_length(enc: Encoded) -> Encoded:
    """The examples sorted by token count; `row` keeps each one's task row."""
    order = np.argsort([len(ids) for ids in enc.input_ids], kind="stable")
    return dataclasses.replace(
        enc,
        input_ids=[enc.input_ids[i] for i in order],
        attention_mask=[enc.attention_mask[i] for i in order],
        labels=enc.labels[order],
        row=enc.row[order],
    )


def enc_to_dataset(enc: Encoded):
    from datasets import Dataset

    return Dataset.from_dict(
        {"input_ids": enc.input_ids, "attention_mask": enc.attention_mask, "labels": enc.labels}
    )


# ---------------------------------------------------------------- model set-up


def prepare_method(model, args: FinetuneArguments):
    """full: all weights train; probe: only the head; lora: adapters plus the head."""
    head = head_modules(model)
    if args.method == "full":
        return model
    if args.method == "probe":
        for name, param in model.named_parameters():
            param.requires_grad = _in_modules(name, head)
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    targets = lora_target_modules(model, args)
    lora = args.lora or {}
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=lora.get("r", 8),
        lora_alpha=lora.get("alpha", 16),
        lora_dropout=lora.get("dropout", 0.05),
        target_modules=targets,
        modules_to_save=head,
    )
    try:
        return get_peft_model(model, config)
    except ValueError as err:
        linear = sorted(
            {
                n.rsplit(".", 1)[-1]
                for n, m in model.named_modules()
                if isinstance(m, torch.nn.Linear)
            }
        )
        raise FinetuneInputError(
            f"LoRA target modules {targets} do not fit {type(model).__name__} ({err}); set "
            f"finetune.lora.target_modules or models.<model>.lora_target_modules to some of "
            f"its linear layers: {', '.join(linear)}"
        ) from None


def head_modules(model) -> list[str]:
    """Paths of the classification head's modules: the family's (families.py), else generic names."""
    family = family_of(model.config)
    names = family.head if family else GENERIC_HEAD
    head = [path for path, _ in model.named_modules() if path and path.rsplit(".", 1)[-1] in names]
    # a head module's own children (ModernBERT's head.dense) are covered by their parent
    head = [path for path in head if not any(path.startswith(f"{other}.") for other in head)]
    if not head:
        raise FinetuneInputError(
            f"{type(model).__name__} ({'family ' + family.name if family else 'unknown family'}) "
            f"has no classification head module named {' or '.join(names)}; method 'probe' "
            "and 'lora' cannot tell head from backbone"
        )
    return head


def lora_target_modules(model, args: FinetuneArguments) -> list[str]:
    """models.<m>.lora_target_modules, else finetune.lora.target_modules, else the family's."""
    if args.lora_target_modules:
        return list(args.lora_target_modules)
    if (args.lora or {}).get("target_modules"):
        return list(args.lora["target_modules"])
    family = family_of(model.config)
    if family is None or not family.lora_targets:
        raise FinetuneInputError(
            f"no default LoRA target modules for model type '{model.config.model_type}' "
            f"(a family dnatune does not know, see docs/models.md); set "
            "finetune.lora.target_modules or models.<model>.lora_target_modules"
        )
    return list(family.lora_targets)


def _in_modules(param_name: str, modules: list[str]) -> bool:
    return any(param_name.startswith(f"{path}.") for path in modules)


def _set_attention(model, implementation: str) -> None:
    try:
        model.set_attn_implementation(implementation)
    except (ValueError, ImportError, AttributeError) as err:
        logger.warning("attention '%s' not available for this model (%s)", implementation, err)


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


def _precision(precision: str) -> str:
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


# ---------------------------------------------------------------- training pieces


class CellTrainer(AliasSafeTrainer):
    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return EpochSeededSampler(sampler, seed)
        return sampler

    def _get_eval_sampler(self, eval_dataset):
        # transformers 5 also length-groups eval batches; keep dataset order so that
        # predictions line up with task rows
        return SequentialSampler(eval_dataset)


class EpochSeededSampler(Sampler):
    """A LengthGroupedSampler whose order is drawn from seed + epoch.

    transformers' draws from the global RNG when an epoch starts, which a job
    resumed mid-epoch cannot replay; seeded per epoch, the resumed epoch has the
    order it had and skips exactly the batches already trained (as the Trainer's
    stock random sampler does through accelerate).
    """

    def __init__(self, sampler: LengthGroupedSampler, seed: int):
        self.sampler, self.seed, self.epoch = sampler, seed, 0
        sampler.generator = torch.Generator()

    def set_epoch(self, epoch: int) -> None:  # the Trainer calls it before each epoch
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        self.sampler.generator.manual_seed(self.seed + self.epoch)
        return iter(self.sampler)


class EvaluateAtEnd(TrainerCallback):
    """Evaluate (and so checkpoint for selection) the last step too, not only every eval_steps."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True
            control.should_save = True
        return control


class TrainerMetrics:
    """compute_metrics for the Trainer: logits -> scores -> dnatune.metrics."""

    def __init__(self, task_type: str):
        self.task_type = task_type

    def __call__(self, eval_prediction) -> dict[str, float]:
        scores = scores_from_logits(self.task_type, eval_prediction.predictions)
        values = metrics.compute_metrics(self.task_type, eval_prediction.label_ids, scores)
        return {k: float(v) for k, v in values.items()}


def _weighted_loss(task_type: str, labels: np.ndarray):
    """compute_loss_func with 'balanced' class weights (sklearn) for classification tasks."""
    if task_type == "regression":
        logger.warning("class_weights ignored: a regression task has no classes")
        return None
    if task_type == "multilabel":
        positives = labels.sum(0)
        weight = torch.tensor(
            (len(labels) - positives) / np.maximum(positives, 1), dtype=torch.float
        )
    else:
        classes = np.arange(int(labels.max()) + 1)
        present = compute_class_weight("balanced", classes=np.unique(labels), y=labels)
        full = np.ones(len(classes))
        full[np.unique(labels)] = present
        weight = torch.tensor(full, dtype=torch.float)
    logger.info("class weights: %s", np.round(weight.numpy(), 3).tolist())

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"]
        w = weight.to(logits.device, logits.dtype)
        if task_type == "multilabel":
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels.to(logits.dtype), pos_weight=w
            )
        if len(w) < logits.shape[-1]:
            w = torch.cat([w, w.new_ones(logits.shape[-1] - len(w))])
        return torch.nn.functional.cross_entropy(logits, labels, weight=w)

    return loss


def scores_from_logits(task_type: str, logits) -> np.ndarray:
    """Binary: P(class 1); multiclass: softmax; multilabel: sigmoid; regression: the output."""
    if isinstance(logits, tuple):
        logits = logits[0]
    logits = torch.as_tensor(np.asarray(logits, dtype=np.float32))
    if task_type == "binary":
        return torch.softmax(logits, -1)[:, 1].numpy()
    if task_type == "multiclass":
        return torch.softmax(logits, -1).numpy()
    if task_type == "multilabel":
        return torch.sigmoid(logits).numpy()
    return logits.reshape(len(logits), -1)[:, 0].numpy()


# ---------------------------------------------------------------- checkpoints


@contextlib.contextmanager
def cell_checkpoints(args: FinetuneArguments):
    """The cell's checkpoint directory; rank 0 deletes it once the outputs are complete.

    A failed or killed run leaves it for the next run to resume from.
    """
    directory = args.checkpoint_dir or str(Path(args.output_dir) / ".checkpoints")
    yield directory
    if not args.keep_checkpoints and int(os.environ.get("RANK", "0")) == 0:
        remove_checkpoints(directory, levels=CHECKPOINT_PARENTS if args.checkpoint_dir else 0)


def training_stopped(checkpoint: str) -> bool:
    """Whether `checkpoint` is where training ended (early stopping or the last step)."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    control = state.get("stateful_callbacks", {}).get("TrainerControl", {})
    return bool(control.get("args", {}).get("should_training_stop"))


def run_fingerprint(args: FinetuneArguments) -> dict:
    """What a cell's checkpoints depend on: its settings and its input files (name, size, mtime)."""
    settings = dataclasses.asdict(args)
    for key in ("output_dir", "checkpoint_dir", "keep_checkpoints", "threads"):
        settings.pop(key)
    settings["inputs_sha256"] = inputs_digest([args.model_dir, args.task_dir])
    return settings


# ---------------------------------------------------------------- outputs


def prediction_frame(split: str, task: Task, enc: Encoded, logits) -> pd.DataFrame:
    """One row per task example (windows averaged), in the layout of `prediction_table`."""
    scores = scores_from_logits(task.type, logits)
    frame = task.frames[split]
    if scores.ndim == 1:
        scores = scores[:, None]
    sums = np.zeros((len(frame), scores.shape[1]))
    np.add.at(sums, enc.row, scores)
    scores = sums / np.bincount(enc.row, minlength=len(frame))[:, None]
    return prediction_table(split, frame, task.type, scores)


def rc_average(args: FinetuneArguments, model) -> bool:
    """finetune.rc_average, or the family's default (Caduceus-ph: yes)."""
    if args.rc_average == "auto":
        family = family_of(model.config)
        return bool(family and family.rc_average_for(model.config))
    return bool(args.rc_average)


def strand_averaged_frame(trainer, split: str, task: Task, enc: Encoded, encode) -> pd.DataFrame:
    """prediction_frame with each row's scores averaged over the sequence and its reverse complement.

    Post-hoc conjoining, as Caduceus-ph is evaluated: the model saw both strands in
    training (RC augmentation), and a prediction should not depend on which one a
    task file happens to list.
    """
    forward = prediction_frame(split, task, enc, trainer.predict(enc_to_dataset(enc)).predictions)
    frame = task.frames[split]
    flipped = frame.assign(sequence=[kmer.reverse_complement_text(s) for s in frame["sequence"]])
    rc_enc = by_length(encode(flipped))
    reverse = prediction_frame(
        split, task, rc_enc, trainer.predict(enc_to_dataset(rc_enc)).predictions
    )
    scores = [c for c in forward.columns if c.startswith(("score", "prediction"))]
    forward[scores] = (forward[scores].to_numpy() + reverse[scores].to_numpy()) / 2
    return forward


def save_cell(trainer, tokenizer, task, args, history, predictions, output_dir: Path) -> None:
    """model/ (weights, or adapter + head), history.json, predictions.parquet, each atomically."""
    with atomic_path(output_dir / "model", directory=True) as tmp:
        save_final_model(trainer, tmp)
        tokenizer.save_pretrained(str(tmp))
        (tmp / "dnatune_finetune.json").write_text(
            json.dumps(
                {
                    "base_model": str(args.model_dir),
                    "method": args.method,
                    "pooling": history["pooling"],
                    "task": task.name,
                    "type": task.type,
                    "num_labels": task.num_labels,
                    "label_names": task.label_names,
                },
                indent=2,
            )
        )
    write_records(output_dir, history, predictions)
    logger.info("wrote %s/{model,history.json,predictions.parquet}", output_dir)
