"""Fine-tuning resumes a killed cell from its checkpoints, only when its settings and inputs match."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from test_finetune import SPEC, make_task
from transformers import TrainerCallback

from dnatune.corpus.tokenizers import build_tokenizer
from dnatune.train.checkpoints import discard_stale_checkpoints, remove_checkpoints
from dnatune.train.finetune import FINGERPRINT, FinetuneArguments, finetune, run_fingerprint
from dnatune.train.models import init_scratch_model

# val every 4 steps; the GC task is learnt within a few evaluations, after which the
# val metric stops improving and early stopping (patience 2) ends the run
SETTINGS = {
    "lr": 5e-3,
    "batch_size": 16,
    "epochs": 6,
    "eval_steps": 4,
    "early_stopping_patience": 2,
    "threads": 1,
}


@pytest.fixture(scope="module")
def cell(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("cell")
    build_tokenizer({"kind": "char"}, root / "tokenizer")
    init_scratch_model(SPEC, root / "tokenizer", root / "base", seed=0)
    return {"model": root / "base", "task": make_task(root / "gc", "binary")}


def cell_args(cell, out: Path, checkpoints: Path, **kwargs) -> FinetuneArguments:
    return FinetuneArguments.defaults(
        **{**SETTINGS, **kwargs},
        model_dir=str(cell["model"]),
        task_dir=str(cell["task"]),
        output_dir=str(out),
        checkpoint_dir=str(checkpoints),
    )


KILL_AT_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    from transformers import TrainerCallback
    from dnatune.train.finetune import FinetuneArguments, finetune

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)  # as the scheduler would: no clean-up

    finetune(FinetuneArguments(**eval(sys.argv[1])), callbacks=[Kill()])
    """
)


class Steps(TrainerCallback):
    def __init__(self):
        self.steps = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


def kill_at_save(args: FinetuneArguments, step: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AT_SAVE, repr(vars(args)), str(step)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert not (Path(args.output_dir) / "predictions.parquet").exists()


def assert_same_run(resumed: dict, whole: dict, out: Path, whole_out: Path) -> None:
    assert (resumed["train_steps"], resumed["best_step"]) == (
        whole["train_steps"],
        whole["best_step"],
    )
    assert resumed["best_metric"] == whole["best_metric"]
    evals = [
        [(e["step"], e["eval_loss"]) for e in run["log_history"] if "eval_loss" in e]
        for run in (whole, resumed)
    ]
    assert evals[0] == evals[1]  # the killed run's log is carried over, equal step for step
    pd.testing.assert_frame_equal(  # exactly equal: CPU runs are deterministic
        pd.read_parquet(whole_out / "predictions.parquet"),
        pd.read_parquet(out / "predictions.parquet"),
    )


@pytest.mark.slow
def test_a_killed_cell_resumes_and_predicts_as_an_uninterrupted_one(cell, tmp_path):
    whole = finetune(cell_args(cell, tmp_path / "whole", tmp_path / "ck-whole"))
    best, stop = whole["best_step"], whole["train_steps"]
    assert best < stop < 6 * 8  # stopped early, some evaluations after the best one
    assert whole["resumed_from_step"] == 0
    assert not (tmp_path / "ck-whole").exists()  # deleted once the outputs are complete

    # killed right after saving the evaluation after the best one: early stopping has
    # waited once, and the best checkpoint is not the last
    args = cell_args(cell, tmp_path / "out", tmp_path / "ck")
    kill_at_save(args, best + 4)
    # the best checkpoint survives beside the last one (save_total_limit keeps it)
    assert {p.name for p in (tmp_path / "ck").glob("checkpoint-*")} == {
        f"checkpoint-{best}",
        f"checkpoint-{best + 4}",
    }
    assert (tmp_path / "ck" / FINGERPRINT).exists()

    steps = Steps()
    resumed = finetune(args, callbacks=[steps])

    assert resumed["resumed_from_step"] == best + 4 and steps.steps[0] == best + 5
    # early stopping's patience count and the best model came back with the checkpoint:
    # it stops where the whole run stopped and predicts with the best step's model
    assert_same_run(resumed, whole, tmp_path / "out", tmp_path / "whole")
    saved = json.loads((tmp_path / "out" / "history.json").read_text())
    assert saved["resumed_from_step"] == best + 4
    assert not (tmp_path / "ck").exists()

    # killed after its final checkpoint, before writing its outputs: no step more
    args = cell_args(cell, tmp_path / "end", tmp_path / "ck-end")
    kill_at_save(args, stop)
    steps = Steps()
    resumed = finetune(args, callbacks=[steps])
    assert resumed["resumed_from_step"] == stop and steps.steps == []
    assert_same_run(resumed, whole, tmp_path / "end", tmp_path / "whole")


@pytest.mark.slow
def test_select_last_killed_after_its_final_checkpoint_keeps_the_last_weights(cell, tmp_path):
    whole = finetune(cell_args(cell, tmp_path / "whole", tmp_path / "ck-whole", select="last"))
    assert whole["train_steps"] == whole["kept_step"] == 6 * 8  # no early stopping
    assert whole["best_step"] < whole["train_steps"]
    args = cell_args(cell, tmp_path / "end", tmp_path / "ck-end", select="last")
    kill_at_save(args, 6 * 8)
    steps = Steps()
    resumed = finetune(args, callbacks=[steps])
    assert resumed["resumed_from_step"] == 6 * 8 and steps.steps == []
    assert_same_run(resumed, whole, tmp_path / "end", tmp_path / "whole")


def test_checkpoints_of_other_settings_or_inputs_are_discarded(cell, tmp_path):
    args = cell_args(cell, tmp_path / "out", tmp_path / "ck")
    checkpoint = tmp_path / "ck" / "checkpoint-4"

    def discard(run_args):
        discard_stale_checkpoints(run_args.checkpoint_dir, run_fingerprint(run_args), FINGERPRINT)

    discard(args)
    checkpoint.mkdir()
    discard(cell_args(cell, tmp_path / "elsewhere", tmp_path / "ck", threads=2))
    assert checkpoint.is_dir()  # output place and threads do not change what is computed

    discard(cell_args(cell, tmp_path / "out", tmp_path / "ck", lr=1e-3))
    assert not checkpoint.exists()  # an edited hyper-parameter: start again
    assert json.loads((tmp_path / "ck" / FINGERPRINT).read_text())["lr"] == 1e-3

    discard(args)
    checkpoint.mkdir()
    train = cell["task"] / "train.parquet"
    stat = train.stat()
    os.utime(train, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a rebuilt task
    discard(args)
    assert not checkpoint.exists()


def test_without_a_checkpoint_dir_they_go_beside_the_outputs_and_away(cell, tmp_path):
    args = cell_args(cell, tmp_path / "out", tmp_path / "unused", max_steps=4, eval_steps=2)
    args.checkpoint_dir = ""
    history = finetune(args)
    assert history["train_steps"] == 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "history.json",
        "model",
        "predictions.parquet",
    ]


def test_removing_a_cell_leaves_the_parents_of_its_siblings(tmp_path):
    cell_dir = tmp_path / "finetune" / "task" / "s0"
    (cell_dir / "checkpoint-4").mkdir(parents=True)
    (tmp_path / "finetune" / "task" / "s1").mkdir()
    remove_checkpoints(cell_dir, levels=2)
    assert not cell_dir.exists()
    assert (tmp_path / "finetune" / "task" / "s1").is_dir()  # a sibling's: parents stay


@pytest.mark.slow
def test_a_finished_cell_leaves_no_empty_checkpoint_folders_and_no_training_args(cell, tmp_path):
    checkpoints = tmp_path / "results/checkpoints/finetune/gc/tiny/scratch/f1.0/s0"
    sibling = tmp_path / "results/checkpoints/finetune/gc/tiny/scratch/f1.0/s1"
    sibling.mkdir(parents=True)  # another cell's, still running: its folders stay
    finetune(cell_args(cell, tmp_path / "out", checkpoints, max_steps=4, eval_steps=2))
    assert not checkpoints.exists() and sibling.is_dir()
    sibling.rmdir()
    finetune(cell_args(cell, tmp_path / "out", checkpoints, max_steps=4, eval_steps=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "results"]
    assert not any((tmp_path / "results").iterdir())  # results/checkpoints/... all gone
    assert (tmp_path / "out/model/model.safetensors").exists()
    assert not (tmp_path / "out/model/training_args.bin").exists()
