"""Train one baseline cell: task x baseline x label fraction x seed -> the outputs of a finetune cell.

The train examples are `dnatune.tasks.frames.label_subsample`'s, as fine-tuning's, so a baseline
at fraction f and seed s sees exactly the examples the language-model cells at f and s see;
val selects (C or the epoch), test is scored once at the end.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dnatune import metrics
from dnatune.atomic import atomic_path
from dnatune.baselines.fit import BaselineFit, CellData, Selection
from dnatune.cell_outputs import json_safe, prediction_arrays, prediction_table, write_records
from dnatune.config import BASELINES
from dnatune.tasks.frames import check_classes, label_array, label_subsample, load_task

logger = logging.getLogger(__name__)

# one fitting function per config.BASELINES, imported when used: a kmer_lr job never
# pays for importing torch
FITTERS = {
    "cnn": "dnatune.baselines.cnn:fit_cnn",
    "kmer_lr": "dnatune.baselines.kmer_lr:fit_kmer_lr",
}


class BaselineInputError(ValueError):
    """A baseline setting that cannot run; the message names the key."""


@dataclass
class BaselineArguments:
    """One baseline cell; the workflow fills `settings` from config `baselines.<variant>`."""

    variant: str
    task_dir: str
    output_dir: str
    label_fraction: float = 1.0
    seed: int = 0
    metric: str | None = None
    settings: dict = field(default_factory=dict)
    threads: int | None = None


def train_baseline(args: BaselineArguments) -> dict:
    """Fit one baseline cell and write model/, history.json and predictions.parquet."""
    if args.variant not in FITTERS:
        raise BaselineInputError(
            f"baseline '{args.variant}' is unknown; baselines are {', '.join(BASELINES)}"
        )
    module, name = FITTERS[args.variant].split(":")
    fitter = getattr(importlib.import_module(module), name)
    if args.threads:
        _limit_threads(args.threads)
    task = load_task(args.task_dir, seed=args.seed)
    headline = metrics.headline_metric(task.type, args.metric, where=f"tasks.{task.name}.metric")
    frames = {
        "train": label_subsample(
            task.frames["train"], task.type, args.label_fraction, args.seed, task.paths["train"]
        ),
        "val": task.frames["val"],
        "test": task.frames["test"],
    }
    check_classes(task, frames)
    logger.info(
        "task %s (%s): baseline %s on %d of %d train examples (label fraction %g, seed %d)",
        task.name,
        task.type,
        args.variant,
        len(frames["train"]),
        len(task.frames["train"]),
        args.label_fraction,
        args.seed,
    )
    labels = {split: label_array(frame["label"], task.type) for split, frame in frames.items()}
    selection = Selection(task.type, headline, labels["val"])
    cell = CellData(frames, labels, task.type, task.num_labels, selection)
    started = time.perf_counter()
    fit = fitter(cell, args.settings, args.seed)
    train_seconds = time.perf_counter() - started
    predictions = pd.concat(
        [prediction_table(s, frames[s], task.type, fit.scores[s]) for s in ("val", "test")],
        ignore_index=True,
    )
    history = _history(args, task, frames, headline, fit, train_seconds, predictions)
    write_cell(Path(args.output_dir), task, args, fit, history, predictions)
    return json_safe(history)


def _history(args, task, frames, headline, fit, train_seconds, predictions) -> dict:
    """history.json of the cell, shaped as a fine-tuning cell's."""
    val = predictions[predictions["split"] == "val"]
    return {
        "log_history": fit.log_history,
        "train_seconds": train_seconds,
        "train_steps": fit.train_steps,
        "best_step": fit.best_step,
        "best_metric": fit.best_metric,
        "metric": headline,
        "val_metrics": metrics.compute_metrics(task.type, *prediction_arrays(val, task.type)),
        "n_train": len(frames["train"]),
        "n_train_available": len(task.frames["train"]),
        "n_val": len(frames["val"]),
        "n_test": len(frames["test"]),
        "label_fraction": args.label_fraction,
        "seed": args.seed,
        "method": args.variant,
        "baseline": args.variant,
        "settings": args.settings,
        "selected": fit.details,
        "trainable_parameters": fit.parameters,
        "total_parameters": fit.parameters,
    }


def _limit_threads(threads: int) -> None:
    """Threads of torch (when loaded) and of numpy's BLAS for this job."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    threadpool_limits(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def write_cell(output_dir: Path, task, args, fit: BaselineFit, history, predictions) -> None:
    """model/ (the fitted baseline and what it is), history.json, predictions.parquet."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(output_dir / "model", directory=True) as tmp:
        fit.save(tmp)
        (tmp / "dnatune_baseline.json").write_text(
            json.dumps(
                {
                    "baseline": args.variant,
                    "task": task.name,
                    "type": task.type,
                    "num_labels": task.num_labels,
                    "label_names": task.label_names,
                    "settings": args.settings,
                },
                indent=2,
            )
        )
    write_records(output_dir, history, predictions)
    logger.info(
        "baseline %s trained in %.1f s; wrote %s/{model,history.json,predictions.parquet}",
        args.variant,
        history["train_seconds"],
        output_dir,
    )
