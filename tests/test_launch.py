"""Multi-process launch: 2-process gloo DDP pre-training and fine-tuning equal 1-process runs."""

from __future__ import annotations

import json
import logging
import sys

import pandas as pd
import pytest
from model_fixtures import pretrain_args, tiny_setup
from safetensors.torch import load_file
from test_finetune import SPEC, make_task

from dnatune.corpus.tokenizers import build_tokenizer
from dnatune.train import launch
from dnatune.train.finetune import FinetuneArguments
from dnatune.train.models import init_scratch_model
from dnatune.train.pretrain import PretrainArguments


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(tmp_path):
    # CLM, no dropout, equal-length windows: the only difference left is the process split
    setup = tiny_setup(tmp_path, "gpt2", dropout=0.0)
    runs = {}
    for nproc in (1, 2):
        args = pretrain_args(tmp_path, setup, max_steps=6, batch_size=8, save_steps=3)
        args.output_dir = str(tmp_path / f"out{nproc}")
        args.checkpoint_dir = str(tmp_path / f"checkpoints{nproc}")
        args.logging_steps = 1
        runs[nproc] = launch.launch("dnatune.train.pretrain:main", args, nproc=nproc)

    assert runs[1]["world_size"] == 1 and runs[2]["world_size"] == 2
    assert runs[2]["global_step"] == 6
    losses = {}
    for nproc in (1, 2):
        state = json.loads((tmp_path / f"out{nproc}" / "trainer_state.json").read_text())
        losses[nproc] = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert len(losses[1]) == len(losses[2]) == 6
    assert losses[1] == pytest.approx(losses[2], abs=1e-4)
    one = load_file(tmp_path / "out1" / "model.safetensors")
    two = load_file(tmp_path / "out2" / "model.safetensors")
    assert one.keys() == two.keys()
    assert max((one[k] - two[k]).abs().max().item() for k in one) < 1e-4
    assert runs[2]["eval_loss"] == pytest.approx(runs[1]["eval_loss"], abs=1e-4)


@pytest.mark.slow
def test_two_process_ddp_finetune_matches_one_process(tmp_path):
    # no dropout, a train split that fills every global batch of 16: only the split of
    # each batch over the processes differs (and so the padding of the halves)
    build_tokenizer({"kind": "char"}, tmp_path / "tokenizer")
    init_scratch_model({**SPEC, "dropout": 0.0}, tmp_path / "tokenizer", tmp_path / "base", seed=0)
    task = make_task(tmp_path / "gc", "binary", sizes=(64, 32, 32))
    settings = {"lr": 5e-3, "batch_size": 16, "epochs": 3, "eval_steps": 4, "threads": 1}
    runs = {}
    for nproc in (1, 2):
        args = FinetuneArguments.defaults(
            **settings,
            model_dir=str(tmp_path / "base"),
            task_dir=str(task),
            output_dir=str(tmp_path / f"out{nproc}"),
            checkpoint_dir=str(tmp_path / f"checkpoints{nproc}"),
        )
        runs[nproc] = launch.launch("dnatune.train.finetune:finetune", args, nproc=nproc)

    assert runs[1]["world_size"] == 1 and runs[2]["world_size"] == 2
    assert runs[1]["train_steps"] == runs[2]["train_steps"] == 12  # 64 / 16 x 3 epochs
    losses = [[e["loss"] for e in runs[n]["log_history"] if "loss" in e] for n in (1, 2)]
    assert len(losses[0]) == len(losses[1]) >= 4
    assert losses[0] == pytest.approx(losses[1], abs=1e-4)
    assert runs[2]["best_step"] == runs[1]["best_step"]
    # predictions: every val and test row once, in order, with the same scores
    one, two = (pd.read_parquet(tmp_path / f"out{n}" / "predictions.parquet") for n in (1, 2))
    pd.testing.assert_frame_equal(one, two, check_exact=False, atol=1e-4, rtol=0)
    assert len(two) == 64 and set(two["split"]) == {"val", "test"}
    assert json.loads((tmp_path / "out2" / "history.json").read_text())["world_size"] == 2
    one, two = (load_file(tmp_path / f"out{n}" / "model" / "model.safetensors") for n in (1, 2))
    assert max((one[k] - two[k]).abs().max().item() for k in one) < 1e-4
    assert not (tmp_path / "checkpoints2").exists()  # rank 0 cleaned up


def test_failing_workers_raise_and_their_output_is_logged(tmp_path, monkeypatch, caplog):
    def failing_torchrun(nproc, spec):
        assert json.loads(spec.read_text())["target"] == "dnatune.train.pretrain:main"
        return [sys.executable, "-c", "import sys; print('worker says why'); sys.exit(3)"]

    monkeypatch.setattr(launch, "torchrun_command", failing_torchrun)
    args = PretrainArguments.defaults("model", ["corpus"], "out", "checkpoints")
    with caplog.at_level(logging.INFO), pytest.raises(RuntimeError, match="exit code 3"):
        launch.launch("dnatune.train.pretrain:main", args, nproc=2)
    assert "| worker says why" in caplog.text


def test_the_command_is_torchrun_over_the_devices(tmp_path):
    cmd = launch.torchrun_command(4, tmp_path / "spec.json")
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert "--nproc-per-node=4" in cmd and cmd[-3:] == [
        "-m",
        "dnatune.train.launch",
        str(tmp_path / "spec.json"),
    ]


def test_one_process_runs_in_place():
    assert launch.launch("builtins:abs", -3, nproc=1) == 3
    assert launch.launch("builtins:abs", -3, nproc=0) == 3


def test_inside_a_worker_no_second_launch(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert launch.in_worker()
    assert launch.launch("builtins:abs", -2, nproc=2) == 2


def test_target_must_name_module_and_function():
    with pytest.raises(ValueError, match="package.module:function"):
        launch.launch("dnatune.train.pretrain.main", None, nproc=2)
