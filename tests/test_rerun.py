"""Snakemake's params trigger reruns exactly what a config edit touched (dry runs, no training).

The tiny config's whole DAG is marked complete without running anything:
its outputs are created empty, then `snakemake --touch` records every job's
params and puts the files' times in DAG order. `snakemake -n` after an edit
then plans only the jobs whose params (or inputs) changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import run_snakemake, tiny_config, write_config

JOB = re.compile(
    r"^\s*(?:local)?rule (\w+):\n(.*?)(?=^\s*(?:local)?rule \w+:|^Job stats|\Z)", re.M | re.S
)


def planned_jobs(workdir: Path, *args: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job `snakemake -n` (with `args`) would run."""
    proc = run_snakemake(workdir, "-n", "--cores", "1", *args)
    text = proc.stdout + proc.stderr
    jobs = []
    for rule, body in JOB.findall(text):
        found = re.search(r"^\s*wildcards: (.*)$", body, re.M)
        wildcards = dict(kv.split("=", 1) for kv in found.group(1).split(", ")) if found else {}
        jobs.append((rule, wildcards))
    return jobs


def mark_complete(workdir: Path) -> None:
    """Record every job as run (`--touch`), create its outputs empty, touch them in DAG order."""
    proc = run_snakemake(workdir, "--touch", "--cores", "1")
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip().startswith("output: "):
            for path in line.strip()[len("output: ") :].split(", "):
                target = workdir / path
                if "." in target.name:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.touch()
                else:  # directory outputs (models, corpus, tokenizer, figures)
                    target.mkdir(parents=True, exist_ok=True)
    run_snakemake(workdir, "--touch", "--cores", "1")


def edit(workdir: Path, change) -> None:
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    change(config)
    write_config(workdir, config)


@pytest.fixture
def completed(tmp_path) -> Path:
    config = tiny_config()
    config["tasks"]["coding"] = {
        "type": "binary",
        "source": {"annotation": {"genome": "demo", "feature": "CDS", "length": 100}},
    }
    write_config(tmp_path, config)
    mark_complete(tmp_path)
    return tmp_path


@pytest.mark.workflow
def test_params_trigger_reruns_only_what_an_edit_touched(completed):
    cells = {"scratch", "pretrained"}  # x 1 fraction x 1 seed per task in the tiny config

    edit(completed, lambda c: c["tasks"]["promoter"].update(finetune={"lr": 0.01}))
    jobs = planned_jobs(completed)
    rules = sorted({rule for rule, _ in jobs})
    assert rules == ["all", "evaluate", "finetune", "report", "stats", "summary"], jobs
    for rule in ("finetune", "evaluate"):
        touched = [w for r, w in jobs if r == rule]
        assert {w["task"] for w in touched} == {"promoter"}
        assert {w["variant"] for w in touched} == cells and len(touched) == len(cells)

    # a trainer: pass-through knob is a parameter of the cells like any other key
    edit(completed, lambda c: c["tasks"]["promoter"].pop("finetune"))
    assert not [w for r, w in planned_jobs(completed) if r == "finetune"]
    trainer = {"trainer": {"lr_scheduler_type": "constant"}}
    edit(completed, lambda c: c["tasks"]["promoter"].update(finetune=trainer))
    touched = [w for r, w in planned_jobs(completed) if r == "finetune"]
    assert {w["task"] for w in touched} == {"promoter"} and len(touched) == len(cells)

    edit(completed, lambda c: c["tasks"]["promoter"].pop("finetune"))
    edit(completed, lambda c: c["windows"].update(stride=64))
    jobs = planned_jobs(completed)
    rules = {rule for rule, _ in jobs}
    assert {"windows", "corpus", "pretrain", "finetune", "evaluate", "stats", "report"} <= rules, (
        jobs
    )
    assert not rules & {"simulate_genome", "build_task", "init_model"}, jobs
    # every cell fine-tuned from the pre-trained model reruns, for every task
    finetuned = [w for r, w in jobs if r == "finetune"]
    assert {(w["task"], w["variant"]) for w in finetuned} >= {
        ("promoter", "pretrained"),
        ("coding", "pretrained"),
    }
