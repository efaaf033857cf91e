"""A fine-tuned cell's val/test predictions, per task row, and its saved outputs."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dnatune.atomic import atomic_path
from dnatune.cell_outputs import prediction_table, write_records
from dnatune.genome import kmer
from dnatune.tasks.frames import Task
from dnatune.train.cell_trainer import scores_from_logits
from dnatune.train.checkpoints import save_final_model
from dnatune.train.encoding import Encoded, by_length, enc_to_dataset
from dnatune.train.families import family_of

if TYPE_CHECKING:
    from dnatune.train.finetune import FinetuneArguments

logger = logging.getLogger(__name__)


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
