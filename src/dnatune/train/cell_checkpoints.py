"""A fine-tuning cell's checkpoints: where they go, what they were made with, when they go."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dnatune.train.checkpoints import inputs_digest, remove_checkpoints

if TYPE_CHECKING:
    from dnatune.train.finetune import FinetuneArguments

FINGERPRINT = "dnatune_finetune_args.json"  # beside the checkpoints: what they were made with
# checkpoint_dir's parents a finished cell removes when left empty: f{fraction}, variant,
# model, task, finetune/ and checkpoints/ of results/checkpoints/finetune/{cell}
CHECKPOINT_PARENTS = 6


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
