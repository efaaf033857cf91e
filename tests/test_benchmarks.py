"""benchmarks/gpu.sh: its CPU dry mode runs the GPU set's commands and prints their JSON."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_the_gpu_benchmark_set_runs_dry_on_a_cpu():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}  # this checkout's dnatune
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [(line["benchmark"], line["inputs"]) for line in lines] == [
        ("finetune", "variable"),
        ("pretrain", "variable"),
    ]
    finetune, pretrain = lines
    assert finetune["device"] == pretrain["device"] == "cpu"
    for side in ("hf_max", "hf_dynamic", "dnatune"):
        assert finetune[f"{side}_tokens_per_s"] > 0
    assert finetune["hf_max_padding_fraction"] > finetune["hf_dynamic_padding_fraction"]
    assert isinstance(finetune["test_auroc_equal_vs_hf_dynamic"], bool)
    assert pretrain["architecture"] == "llama" and pretrain["packing"] is False
    assert pretrain["speedup_vs_hf_dynamic"] > 0


def test_the_gpu_set_refuses_unknown_arguments():
    proc = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--fast"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "usage" in proc.stderr
