"""A real workflow run killed with `kill -9` inside pre-training and inside fine-tuning.

Rerun as docs/cluster.md tells a user (the same command, with `rerun-incomplete`
as both profiles set it, and once with `--unlock` when Snakemake's lock is left
behind), it must report exactly what an uninterrupted run of the same config reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import run_snakemake, snakemake_command, tiny_config, write_config
from safetensors.torch import load_file

PRETRAIN_CHECKPOINTS = "results/checkpoints/pretrain/tiny/pretrained/checkpoint-*"
FINETUNE_CHECKPOINTS = "results/checkpoints/finetune/promoter/tiny/pretrained/f1/s0/checkpoint-*"
PRETRAINED = "results/models/tiny/pretrained"
PRETRAINED_CELL = "results/finetune/promoter/tiny/pretrained/f1/s0"
# A job that finished writing its outputs when Snakemake was killed has them marked
# incomplete: without rerun-incomplete the rerun stops (IncompleteFilesException).
RUN = ("--cores", "2", "--rerun-incomplete")


def fault_config() -> dict:
    """The tiny config with checkpoints early in both trainings and steps left after them."""
    config = tiny_config()
    config["pretrain"].update(max_steps=30, save_steps=10)
    config["finetune"].update(max_steps=30, eval_steps=5)
    return config


def run_until_checkpoint(workdir: Path, pattern: str, timeout: float = 600) -> None:
    """Run the workflow as its own process group; `kill -9` the whole group once a
    complete checkpoint (its trainer_state.json is written last) matches `pattern`."""
    with open(workdir / "killed-run.log", "a") as log:
        proc = subprocess.Popen(
            snakemake_command(workdir, *RUN),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # snakemake and its jobs: one process group
        )
    deadline = time.monotonic() + timeout
    while not any((p / "trainer_state.json").exists() for p in workdir.glob(pattern)):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(
                f"no checkpoint {pattern} before the run ended ({proc.poll()}); "
                f"see {workdir / 'killed-run.log'}"
            )
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    wait_until_gone(proc.pid)


def wait_until_gone(group: int, timeout: float = 30) -> None:
    """Until no live process of the killed group is left (zombies are not alive)."""
    deadline = time.monotonic() + timeout
    while live_members(group):
        assert time.monotonic() < deadline, f"processes of the killed run survive: {group}"
        time.sleep(0.1)


def live_members(group: int) -> list[int]:
    """Pids in process group `group` that are not zombies, from Linux's /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == group and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            members.append(int(stat.parent.name))
    return members


def summary_without_timing(workdir: Path) -> pd.DataFrame:
    # train_seconds is wall-clock time, which no two runs share
    summary = pd.read_csv(workdir / "results" / "report" / "summary.tsv", sep="\t")
    return summary.drop(columns="train_seconds")


@pytest.mark.workflow
def test_killed_runs_resume_to_the_report_of_an_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    killed.mkdir()
    write_config(killed, fault_config())

    run_until_checkpoint(killed, PRETRAIN_CHECKPOINTS)
    assert not (killed / PRETRAINED).exists()  # killed inside pre-training
    # Snakemake's lock outlives a killed Snakemake: the rerun names the fix, as the docs do
    locked = run_snakemake(killed, *RUN, check=False)
    assert locked.returncode != 0
    assert "--unlock" in locked.stdout + locked.stderr
    run_snakemake(killed, "--unlock")

    run_until_checkpoint(killed, FINETUNE_CHECKPOINTS)
    assert (killed / PRETRAINED).is_dir()
    assert not (killed / PRETRAINED_CELL / "predictions.parquet").exists()  # inside fine-tuning
    run_snakemake(killed, "--unlock")
    run_snakemake(killed, *RUN)

    # both trainings were resumed from a checkpoint, not started afresh
    pretrained = json.loads((killed / PRETRAINED / "pretrain_summary.json").read_text())
    assert pretrained["resumed_from_step"] >= 10
    cell = json.loads((killed / PRETRAINED_CELL / "history.json").read_text())
    assert cell["resumed_from_step"] >= 5

    straight = tmp_path / "straight"
    straight.mkdir()
    write_config(straight, fault_config())
    run_snakemake(straight, "--cores", "2")

    weights = [load_file(run / PRETRAINED / "model.safetensors") for run in (straight, killed)]
    assert weights[0].keys() == weights[1].keys()
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name
    pd.testing.assert_frame_equal(summary_without_timing(killed), summary_without_timing(straight))
