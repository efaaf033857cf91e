"""Config overrides, per-task grids and per-model pre-training on the real workflow.

Dry runs (`snakemake -n`) check what a config edit or a `--config` override plans,
and that a grid that could not run stops before any job; one real run checks
that tasks with different grids reach the report.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT, run_snakemake, tiny_config, write_config
from test_rerun import edit, mark_complete, planned_jobs

from dnatune.config import grid, validate_config

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"

pytestmark = pytest.mark.workflow


def two_task_config() -> dict:
    config = tiny_config()
    config["tasks"]["coding"] = {
        "type": "binary",
        "source": {"annotation": {"genome": "demo", "feature": "CDS", "length": 100}},
    }
    return config


@pytest.fixture
def completed(tmp_path) -> Path:
    """Two tasks x two models (sharing a tokenizer), every job recorded as run.

    A second genome is defined but not pre-trained on (nor used by a task) yet.
    """
    config = two_task_config()
    config["models"]["wide"] = copy.deepcopy(config["models"]["tiny"])
    config["models"]["wide"]["scratch"]["hidden"] = 48
    config["genomes"]["other"] = {"simulate": {"length": 100_000, "chromosomes": 2, "seed": 4}}
    config["pretrain"]["genomes"] = ["demo"]
    write_config(tmp_path, config)
    mark_complete(tmp_path)
    return tmp_path


def cells_of(jobs, rule: str) -> set[tuple]:
    return {
        (w["task"], w["model"], w["variant"], w["fraction"], w["seed"])
        for r, w in jobs
        if r == rule
    }


def test_task_grid_edit_plans_only_that_tasks_new_cells(completed):
    edit(completed, lambda c: c["tasks"]["promoter"].update(finetune={"seeds": [0, 1]}))
    jobs = planned_jobs(completed)
    assert {r for r, _ in jobs} == {"all", "finetune", "evaluate", "summary", "stats", "report"}, (
        jobs
    )
    new = {
        ("promoter", model, variant, "1", "1")
        for model in ("tiny", "wide")
        for variant in ("scratch", "pretrained")
    }
    assert cells_of(jobs, "finetune") == cells_of(jobs, "evaluate") == new

    edit(completed, lambda c: c["tasks"]["promoter"].pop("finetune"))
    edit(completed, lambda c: c["tasks"]["coding"].update(finetune={"label_fractions": [0.5, 1]}))
    jobs = planned_jobs(completed)
    assert {c[0] for c in cells_of(jobs, "finetune")} == {"coding"}
    assert {c[3] for c in cells_of(jobs, "finetune")} == {"0.5"}
    assert len(cells_of(jobs, "finetune")) == 4  # 2 models x 2 variants x 1 seed


def test_naming_a_protocol_reruns_that_tasks_cells_not_its_data(completed):
    """A suite preset shapes training and scoring (bend: probe, AUROC), not the task's data."""
    edit(completed, lambda c: c["tasks"]["promoter"].update(protocol="bend"))
    jobs = planned_jobs(completed)
    assert {r for r, _ in jobs} == {"all", "finetune", "evaluate", "summary", "stats", "report"}, (
        jobs
    )
    cells = cells_of(jobs, "finetune")
    assert cells == cells_of(jobs, "evaluate") and {c[0] for c in cells} == {"promoter"}
    assert len(cells) == 4  # 2 models x 2 variants x 1 seed: every promoter cell


def test_model_pretrain_edit_reruns_only_that_models_pretraining(completed):
    edit(completed, lambda c: c["models"]["tiny"].update(pretrain={"max_steps": 30}))
    jobs = planned_jobs(completed)
    rules = {r for r, _ in jobs}
    assert rules == {"all", "pretrain", "finetune", "evaluate", "summary", "stats", "report"}, jobs
    assert [w["model"] for r, w in jobs if r == "pretrain"] == ["tiny"]
    assert cells_of(jobs, "finetune") == {
        (task, "tiny", "pretrained", "1", "0") for task in ("promoter", "coding")
    }

    # the same value written globally instead leaves tiny as it is and moves wide
    edit(completed, lambda c: c["models"]["tiny"].pop("pretrain"))
    edit(completed, lambda c: c["pretrain"].update(max_steps=30))
    edit(completed, lambda c: c["models"]["tiny"].update(pretrain={"max_steps": 20}))
    jobs = planned_jobs(completed)
    assert [w["model"] for r, w in jobs if r == "pretrain"] == ["wide"]

    # a model's own seed also seeds its initial weights: its scratch cells rerun too
    edit(completed, lambda c: c["pretrain"].update(max_steps=20))
    edit(completed, lambda c: c["models"]["wide"].update(pretrain={"seed": 5}))
    jobs = planned_jobs(completed)
    assert [w["model"] for r, w in jobs if r == "init_model"] == ["wide"]
    assert {c[1] for c in cells_of(jobs, "finetune")} == {"wide"}
    assert len(cells_of(jobs, "finetune")) == 4  # 2 tasks x 2 variants


def test_model_pretrain_genomes_build_and_rerun_only_that_model(completed):
    edit(completed, lambda c: c["models"]["wide"].update(pretrain={"genomes": ["demo", "other"]}))
    jobs = planned_jobs(completed)
    assert [w["model"] for r, w in jobs if r == "pretrain"] == ["wide"]
    assert [w["genome"] for r, w in jobs if r in ("windows", "corpus")] == ["other", "other"]
    assert not {r for r, _ in jobs} & {"init_model", "build_tokenizer", "build_task"}, jobs
    assert cells_of(jobs, "finetune") == {
        (task, "wide", "pretrained", "1", "0") for task in ("promoter", "coding")
    }


def test_edits_outside_what_the_report_shows_plan_no_report(completed):
    # the unused genome's source: no result changes, so neither stats nor report rerun
    edit(completed, lambda c: c["genomes"].update(other={"url": "https://example.org/o.fa.gz"}))
    assert planned_jobs(completed) == []
    # the report's own key re-renders the report, and only it: the statistics stay
    edit(completed, lambda c: c.setdefault("report", {}).update(title="Does it transfer?"))
    assert {r for r, _ in planned_jobs(completed)} == {"all", "report"}
    # the statistics' settings rescore the cells (evaluate), then stats and report
    edit(completed, lambda c: c.setdefault("evaluate", {}).update(confidence=0.9))
    jobs = planned_jobs(completed)
    assert {r for r, _ in jobs} == {"all", "evaluate", "summary", "stats", "report"}, jobs


def test_config_override_merges_into_the_files_finetune_block(completed):
    # the file sets seeds [0], max_steps 10 ...: a replaced block would fall back to the
    # defaults (seeds [0, 1, 2]) and plan new cells; a merged one reruns exactly the grid
    jobs = planned_jobs(completed, "--config", "finetune={lr: 1e-4}")
    assert {r for r, _ in jobs} == {"all", "finetune", "evaluate", "summary", "stats", "report"}, (
        jobs
    )
    config = validate_config(yaml.safe_load((completed / "config.yaml").read_text()), SCHEMA)
    assert cells_of(jobs, "finetune") == {
        (c.task, c.model, c.variant, c.fraction, str(c.seed)) for c in grid(config)
    }
    # a nested override of one task's grid
    jobs = planned_jobs(completed, "--config", "tasks={coding: {finetune: {seeds: [0, 7]}}}")
    assert {(c[0], c[4]) for c in cells_of(jobs, "finetune")} == {("coding", "7")}


def test_yaml_exponent_without_dot_is_read_as_a_number_and_said(tmp_path):
    config = write_config(tmp_path, tiny_config())
    text = config.read_text().replace("finetune:\n", "finetune:\n  lr: 1e-4\n", 1)
    config.write_text(text)
    proc = run_snakemake(tmp_path, "-n", "--cores", "1")
    assert (
        f"config {config}: key 'finetune.lr': text '1e-4' read as the number 0.0001 "
        "(YAML reads a number with an exponent but no dot as text; write 1.0e-4)"
    ) in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda c: c["finetune"].update(seeds=[0, 0]), "key 'finetune.seeds': [0, 0] has non-"),
        (lambda c: c["finetune"].update(seeds=[-1]), "key 'finetune.seeds.0': -1 is less than"),
        (
            lambda c: c["finetune"].update(label_fractions=[0.00001]),
            "key 'finetune.label_fractions.0': 1e-05 is less than the minimum of 0.0001",
        ),
        (
            lambda c: c["tasks"]["promoter"].update(finetune={"label_fractions": [0.3, 0.3000001]}),
            "key 'tasks.promoter.finetune.label_fractions': label fractions 0.3 and 0.3000001",
        ),
        (
            lambda c: c["finetune"].update(variants=["continued"]),
            "key 'finetune.variants': model 'tiny' has none of the variants ['continued']",
        ),
        # checks outside the schema name the file too
        (
            lambda c: c["tasks"]["promoter"].update(metric="auc"),
            "key 'tasks.promoter.metric': metric 'auc' is not computed for binary tasks",
        ),
        (
            lambda c: c["tasks"]["promoter"].update(labels=["a"]),
            "key 'tasks.promoter.labels': a binary task has 2 labels",
        ),
    ],
)
def test_grid_that_could_not_run_stops_before_any_job(tmp_path, change, error):
    config = tiny_config()
    change(config)
    path = write_config(tmp_path, config)
    proc = run_snakemake(tmp_path, "-n", "--cores", "1", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"config {path}: {error}" in output, output
    assert "config/config.yaml" not in output  # the file used is named, not the default
    assert "Job stats" not in output and "rule " not in output
    assert not (tmp_path / "results").exists()


def test_error_in_a_config_override_names_it(tmp_path):
    path = write_config(tmp_path, tiny_config())
    proc = run_snakemake(
        tmp_path, "-n", "--cores", "1", "--config", "finetune={seeds: [1, 1]}", check=False
    )
    assert proc.returncode != 0
    assert (
        f"config {path} with --config finetune={{seeds: [1, 1]}}: "
        "key 'finetune.seeds': [1, 1] has non-unique elements"
    ) in proc.stdout + proc.stderr


def test_tasks_with_different_grids_reach_the_report(tmp_path):
    config = two_task_config()
    config["tasks"]["coding"]["finetune"] = {"seeds": [1, 2], "label_fractions": [0.5]}
    write_config(tmp_path, config)
    run_snakemake(tmp_path, "--cores", "2")
    report = tmp_path / "results/report"
    summary = pd.read_csv(report / "summary.tsv", sep="\t")
    cells = summary.drop_duplicates(["task", "model", "variant", "label_fraction", "seed"])
    got = {(r.task, r.variant, r.label_fraction, r.seed) for r in cells.itertuples()}
    assert got == {("promoter", v, 1.0, 0) for v in ("scratch", "pretrained")} | {
        ("coding", v, 0.5, s) for v in ("scratch", "pretrained") for s in (1, 2)
    }
    transfer = pd.read_csv(tmp_path / "results/stats/transfer.tsv", sep="\t")
    rows = {(r.task, r.label_fraction, r.n_seeds) for r in transfer.itertuples()}
    assert rows == {("promoter", 1.0, 1), ("coding", 0.5, 2)}
    html = (report / "report.html").read_text()
    assert "promoter" in html and "coding" in html
