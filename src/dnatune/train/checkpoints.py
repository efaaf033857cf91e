"""Resumable training: Trainer checkpoints kept outside a rule's outputs.

Snakemake deletes a job's outputs before it runs, so pre-training and
fine-tuning checkpoint into a directory of their own
(results/checkpoints/...). A rerun of a killed or requeued job resumes from
the newest complete checkpoint there, but only when a fingerprint of the
settings and input files matches the one recorded beside the checkpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)


def inputs_digest(roots: list[str | Path]) -> str:
    """sha256 over the name, size and mtime of every file under `roots` (files or directories)."""
    files = []
    for root in map(Path, roots):
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if path.is_file():
                stat = path.stat()
                files.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(files).encode()).hexdigest()


def discard_stale_checkpoints(directory: str | Path, fingerprint: dict, stamp: str) -> None:
    """Keep the checkpoints in `directory` only if its `stamp` file records `fingerprint`.

    Otherwise (other settings, other inputs, no stamp) they are deleted and
    the new fingerprint is recorded. Call it from the main process only.
    """
    directory = Path(directory)
    stamp_path = directory / stamp
    if directory.is_dir() and any(directory.iterdir()):
        previous = json.loads(stamp_path.read_text()) if stamp_path.exists() else None
        if previous == fingerprint:
            return
        logger.info("discarding checkpoints in %s: made with other settings or inputs", directory)
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stamp_path.write_text(json.dumps(fingerprint, indent=2) + "\n")


def last_complete_checkpoint(directory: str | Path, clean: bool = False) -> str | None:
    """The newest checkpoint that was completely written (trainer_state.json is its last file).

    A job killed while saving leaves a checkpoint without it; `clean` removes such leftovers.
    """
    if not Path(directory).is_dir():
        return None
    found = [p for p in Path(directory).glob("checkpoint-*") if p.name[11:].isdigit()]
    for path in sorted(found, key=lambda p: int(p.name[11:]), reverse=True):
        if (path / "trainer_state.json").exists():
            return str(path)
        logger.info("ignoring %s: written only in part when the job was killed", path)
        if clean:
            shutil.rmtree(path)
    return None


def checkpoint_step(path: str | None) -> int:
    """checkpoint-120 -> 120; no checkpoint -> 0."""
    return int(Path(path).name.rsplit("-", 1)[1]) if path else 0


def save_final_model(trainer, directory: str | Path) -> None:
    """`trainer.save_model`, minus the training_args.bin it writes beside the weights.

    That pickle of the TrainingArguments is the Trainer's checkpoint bookkeeping; in
    a model folder it is dead weight that loads only with torch.load(weights_only=False)
    on a matching transformers. The settings are recorded in JSON beside the model.
    """
    from transformers.trainer import TRAINING_ARGS_NAME

    trainer.save_model(str(directory))
    (Path(directory) / TRAINING_ARGS_NAME).unlink(missing_ok=True)


def remove_checkpoints(directory: str | Path, levels: int = 0) -> None:
    """Delete `directory`, then up to `levels` of its parents that are left empty.

    The workflow's callers pass the levels up to and including results/checkpoints,
    so a finished run leaves no empty folders there.
    """
    directory = Path(directory)
    shutil.rmtree(directory, ignore_errors=True)
    for parent in list(directory.parents)[:levels]:
        with contextlib.suppress(OSError):  # not empty: another run's checkpoints are there
            parent.rmdir()
