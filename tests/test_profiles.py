"""Execution profiles name real rules, give GPUs to training only, and keep the CI overlay thin.

Snakemake silently ignores set-resources for a rule that does not exist, so a renamed
rule would quietly lose its GPU on the cluster: these checks catch that without a cluster.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "profiles" / "slurm" / "config.yaml"
LOCAL = ROOT / "profiles" / "local" / "config.yaml"
CI = ROOT / "tests" / "profiles" / "slurm-ci" / "config.yaml"
GPU_RULES = {"pretrain", "finetune"}
LOCAL_RULES = {"fetch_model", "download_genome", "download_annotation"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def workflow_rules() -> set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--list-rules"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def rules_named_in(profile: dict) -> set[str]:
    named = set(profile.get("set-resources", {})) | set(profile.get("set-threads", {}))
    return named | set(profile.get("groups", {}))


@pytest.mark.parametrize("path", [SLURM, LOCAL, CI], ids=lambda p: p.parent.name)
def test_profiles_name_only_existing_rules(path, workflow_rules):
    unknown = rules_named_in(load(path)) - workflow_rules
    assert not unknown, f"{path.relative_to(ROOT)} names rules the workflow lacks: {unknown}"


def test_slurm_profile_covers_every_cluster_rule(workflow_rules):
    covered = set(load(SLURM)["set-resources"])
    missing = workflow_rules - covered - LOCAL_RULES - {"all"}
    assert not missing, f"profiles/slurm has no resources for {missing}"


@pytest.mark.parametrize("path", [SLURM, LOCAL], ids=lambda p: p.parent.name)
def test_only_training_rules_get_gpus(path):
    resources = load(path)["set-resources"]
    with_gpu = {rule for rule, res in resources.items() if res.get("gpu") or res.get("gres")}
    assert with_gpu == GPU_RULES
    assert all(resources[rule]["gpu"] >= 1 for rule in GPU_RULES)


def test_slurm_gpu_steps_have_cpus_memory_and_time():
    resources = load(SLURM)["set-resources"]
    for rule in GPU_RULES:
        assert {"cpus_per_gpu", "mem_mb", "runtime"} <= set(resources[rule]), rule
    # cpus_per_task in default-resources would override cpus_per_gpu for GPU steps
    assert "cpus_per_task" not in load(SLURM)["default-resources"]


def test_slurm_profile_keeps_the_plugins_status_command():
    # sacct is right wherever Slurm has accounting; squeue only in the CI overlay
    assert "slurm-status-command" not in load(SLURM)
    assert load(CI)["slurm-status-command"] == "squeue"


def test_ci_overlay_inherits_gpu_resources_and_defaults():
    base, ci = load(SLURM), load(CI)
    # a later profile replaces a whole key: the overlay must not redefine set-resources
    assert "set-resources" not in ci
    defaults = dict(ci["default-resources"])
    assert defaults.pop("slurm_partition") == "debug"
    assert defaults == base["default-resources"]
    assert not set(ci["groups"]) & GPU_RULES, "GPU rules must stay single jobs"


def test_downloads_and_model_fetch_are_localrules():
    text = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    blocks = re.findall(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", text, flags=re.M)
    declared = {name for block in blocks for name in re.findall(r"\w+", block)}
    assert declared >= LOCAL_RULES


def test_slurm_dry_run_shows_gpu_requests(tmp_path, workflow_rules):
    """The demo DAG through the Slurm profile: training jobs carry gpu=1, others none."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--profile",
            str(SLURM.parent),
            "--profile",
            str(CI.parent),
            "--directory",
            str(tmp_path),
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--configfile",
            str(ROOT / "config" / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(.*?)(?=\n\n)", proc.stdout, flags=re.M | re.S)
    assert jobs, proc.stdout[-3000:]
    seen = set()
    for rule, body in jobs:
        resources = re.search(r"resources: (.*)", body)
        text = resources.group(1) if resources else ""
        has_gpu = re.search(r"\bgpu=([1-9])", text) is not None
        assert has_gpu == (rule in GPU_RULES), f"{rule}: {text}"
        seen.add(rule)
    assert seen >= GPU_RULES
