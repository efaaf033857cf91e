"""An uncaught error lands in the rule's log file, with its traceback, from any process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, run_snakemake, tiny_config, write_config

FAILING = textwrap.dedent(
    """
    from dataclasses import dataclass


    @dataclass
    class Args:
        name: str


    def fail(args):
        raise ValueError(f"{args.name}: cannot read line 3")
    """
)


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter that imports this checkout's dnatune and modules in cwd."""
    path = os.pathsep.join([str(ROOT / "src"), str(cwd)])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"},
    )


def test_an_uncaught_error_is_logged_with_its_traceback(tmp_path):
    (tmp_path / "failing.py").write_text(FAILING)
    proc = run_python(
        """
        from dnatune.logs import setup_logging
        from failing import Args, fail

        setup_logging("rule.log")
        fail(Args("tasks/x.csv"))
        """,
        tmp_path,
    )
    assert proc.returncode == 1
    log = (tmp_path / "rule.log").read_text()
    assert "CRITICAL dnatune: failed with ValueError: tasks/x.csv: cannot read line 3" in log
    assert "Traceback (most recent call last)" in log and ", in fail\n    raise ValueError" in log
    assert proc.stderr.count("Traceback") == 1  # stderr gets it once, not twice


@pytest.mark.slow
def test_a_failing_torchrun_worker_leaves_its_error_in_the_callers_log(tmp_path):
    (tmp_path / "failing.py").write_text(FAILING)
    proc = run_python(
        """
        from dnatune.train.launch import launch
        from dnatune.logs import setup_logging
        from failing import Args

        setup_logging("rule.log")
        launch("failing:fail", Args("tasks/y.csv"), nproc=2)
        """,
        tmp_path,
    )
    assert proc.returncode == 1
    log = (tmp_path / "rule.log").read_text()
    # the workers' own tracebacks, copied line by line, then the caller's error
    assert "| rank 0 CRITICAL dnatune: failed with ValueError: tasks/y.csv: cannot read" in log
    assert "| Traceback (most recent call last):" in log
    assert '|     raise ValueError(f"{args.name}: cannot read line 3")' in log
    assert "failed with RuntimeError: failing:fail failed on 2 processes" in log


@pytest.mark.workflow
def test_a_failed_job_leaves_its_error_in_the_rule_log(tmp_path):
    """A real snakemake job: a header-only train.csv fails build_task; its log says why."""
    for split in ("train", "val", "test"):
        rows = "" if split == "train" else "ACGTACGT,0\nGGCCGGCC,1\n"
        (tmp_path / f"{split}.csv").write_text("sequence,label\n" + rows)
    config = tiny_config()
    config["tasks"] = {"bad": {"type": "binary", "source": {"csv": "{split}.csv"}}}
    write_config(tmp_path, config)
    proc = run_snakemake(tmp_path, "--cores", "1", "results/tasks/bad/meta.json", check=False)
    assert proc.returncode != 0
    assert "logs/build_task/bad.log" in proc.stdout + proc.stderr  # where snakemake points
    log = (tmp_path / "logs/build_task/bad.log").read_text()
    assert "failed with TaskInputError: train.csv: the file has no rows below its header" in log
    assert "Traceback (most recent call last)" in log
