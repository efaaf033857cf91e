"""history.json of a fine-tuning cell: how training went, on what data, with what model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dnatune.train.checkpoints import checkpoint_step
from dnatune.train.loading import can_mask_padding

if TYPE_CHECKING:
    from dnatune.train.finetune import CellData, CellModel, FinetuneArguments


def training_record(args, trainer, train_result, train_seconds: float, last) -> dict:
    """How training went: steps, time, the best val step and the step whose model is kept."""
    state = trainer.state
    return {
        "log_history": state.log_history,
        "train_seconds": train_seconds,
        "train_steps": state.global_step,
        "resumed_from_step": checkpoint_step(last),  # train_seconds counts this job only
        "train_samples_per_second": train_result.metrics.get("train_samples_per_second"),
        "best_step": state.best_global_step,
        "best_metric": state.best_metric,
        "metric": trainer.args.metric_for_best_model,
        "eval_steps": trainer.args.eval_steps,
        "select": args.select,
        "kept_step": state.best_global_step if args.select == "best" else state.global_step,
    }


def data_record(args: FinetuneArguments, data: CellData) -> dict:
    """What the cell trained on: split sizes, label fraction, seed, long sequences."""
    frames = data.task.frames
    return {
        "n_train": len(data.train_frame),
        "n_train_available": len(frames["train"]),
        "n_val": len(frames["val"]),
        "n_test": len(frames["test"]),
        "label_fraction": args.label_fraction,
        "seed": args.seed,
        "long_sequences": args.long_sequences,
        "long": data.long_counts,
        "truncated": {split: enc.n_truncated for split, enc in data.encoded.items()},
        "windows": {split: enc.n_windows for split, enc in data.encoded.items()},
    }


def model_record(args, cell_model: CellModel, trainer, both_strands: bool) -> dict:
    """How the model was set up and run: method, pooling, parameters, precision, device."""
    config, training_args = cell_model.model.config, trainer.args
    maskable = can_mask_padding(cell_model.model)
    padding = trainer.data_collator.padding
    return {
        "method": args.method,
        "pooling": getattr(config, "dnatune_pooling", None),
        "rc_average": both_strands,
        "reinitialise": args.reinitialise,
        "trainable_parameters": cell_model.trainable,
        "total_parameters": cell_model.total,
        "max_length": cell_model.max_length,
        "precision": "bf16" if training_args.bf16 else "fp16" if training_args.fp16 else "fp32",
        "attn_implementation": getattr(config, "_attn_implementation", None),
        "device": str(training_args.device),
        "padding": padding if maskable else "none (batches of one length)",
        "group_by_length": args.group_by_length,
    }
