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
DEFAULT = ROOT / "profiles" / "default" / "config.yaml"
SLURM = ROOT / "profiles" / "slurm" / "config.yaml"
LOCAL = ROOT / "profiles" / "local" / "config.yaml"
CI = ROOT / "tests" / "profiles" / "slurm-ci" / "config.yaml"
GPU_RULES = {"pretrain", "finetune"}
# the apply stage's scoring rules ask for GPUs too; the demo's dry run plans only the
# apply rules before its checkpoints (the rest run once track_plan / variant_alleles did)
APPLY_GPU_RULES = {
    "track_chunk",
    "score_variants_zero_shot",
    "score_variants_supervised",
    "embed_task",
    "embed_chunk",
}
APPLY_RULES = APPLY_GPU_RULES | {
    "track_plan",
    "track_merge",
    "track_validation",
    "embed_genome",
    "planted_variants",
    "variant_alleles",
    "merge_variant_scores",
    "variant_auroc",
}
LOCAL_RULES = {"fetch_model", "download_genome", "download_annotation"}
# what a workflow step needs, which belongs to the workflow (rules, profiles/default)
STEP_KEYS = {"set-resources", "set-threads", "set-resource-scopes"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def workflow_rules() -> set[str]:
    """Rule and checkpoint names, read from the rule files (snakefmt keeps them at line start)."""
    files = [ROOT / "Snakefile", *(ROOT / "workflow" / "rules").glob("*.smk")]
    rules = {
        name
        for f in files
        for name in re.findall(r"^(?:rule|checkpoint) (\w+):", f.read_text(), re.M)
    }
    assert {"all", "pretrain", "finetune", "report"} <= rules
    return rules


def rules_named_in(profile: dict) -> set[str]:
    named = set(profile.get("set-resources", {})) | set(profile.get("set-threads", {}))
    return named | set(profile.get("groups", {}))


def minutes(runtime) -> int:
    """A profile runtime (90, "30m", "4h", "1d") in minutes, as Snakemake reads it."""
    if isinstance(runtime, int):
        return runtime
    value, unit = int(runtime[:-1]), runtime[-1]
    return value * {"m": 1, "h": 60, "d": 1440}[unit]


@pytest.mark.parametrize("path", [DEFAULT, SLURM, LOCAL, CI], ids=lambda p: p.parent.name)
def test_profiles_name_only_existing_rules(path, workflow_rules):
    unknown = rules_named_in(load(path)) - workflow_rules
    assert not unknown, f"{path.relative_to(ROOT)} names rules the workflow lacks: {unknown}"


def test_workflow_profile_sizes_every_cluster_rule(workflow_rules):
    resources = load(DEFAULT)["set-resources"]
    missing = workflow_rules - set(resources) - LOCAL_RULES - {"all"}
    assert not missing, f"profiles/default has no resources for {missing}"
    for rule, res in resources.items():
        assert {"mem_mb", "runtime"} <= set(res), rule
        assert minutes(res["runtime"]) > 0, rule


def test_gpus_come_from_the_rules_not_a_profile():
    # a profile's gpu would override models.<name>.resources.gpu (tests/test_models.py)
    for path in (DEFAULT, SLURM, LOCAL, CI):
        for rule, res in load(path).get("set-resources", {}).items():
            assert not {"gpu", "gres"} & set(res), f"{path.relative_to(ROOT)}: {rule}"


def test_workflow_profile_leaves_site_settings_to_the_site():
    # a key of the workflow profile replaces that key of every --profile: a
    # default-resources here would drop the site's partition and account
    assert set(load(DEFAULT)) <= STEP_KEYS, "only per-step settings belong in profiles/default"


@pytest.mark.parametrize("path", [SLURM, LOCAL, CI], ids=lambda p: p.parent.name)
def test_execution_profiles_hold_no_step_resources(path):
    """Ours are written as a site's own: executor, site and scheduling settings only."""
    assert not STEP_KEYS & set(load(path)), path.relative_to(ROOT)


def test_slurm_profile_keeps_the_plugins_status_command():
    # sacct is right wherever Slurm has accounting; squeue only on the CI cluster
    assert "slurm-status-command" not in load(SLURM)
    assert load(CI)["slurm-status-command"] == "squeue"


def test_ci_profile_is_a_site_profile():
    ci = load(CI)
    assert ci["executor"] == "slurm"
    assert ci["default-resources"] == {"slurm_partition": "debug"}
    assert not set(ci["groups"]) & GPU_RULES, "GPU rules must stay single jobs"


def test_downloads_and_model_fetch_are_localrules():
    text = "\n".join(p.read_text() for p in (ROOT / "workflow" / "rules").glob("*.smk"))
    blocks = re.findall(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", text, flags=re.M)
    declared = {name for block in blocks for name in re.findall(r"\w+", block)}
    assert declared >= LOCAL_RULES


def dry_run_jobs(tmp_path: Path, *profile_args: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job of the demo DAG in a dry run with these arguments."""
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "snakemake", "-n", *profile_args),
            *("--directory", str(tmp_path), "--snakefile", str(ROOT / "Snakefile")),
            *("--configfile", str(ROOT / "config" / "config.yaml")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "workflow specific profile profiles/default" in proc.stderr, proc.stderr[-2000:]
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in proc.stdout.splitlines():  # group jobs list their rules indented
        if rule := re.fullmatch(r"\s*(?:local)?(?:rule|checkpoint) (\w+):", line):
            jobs.append((rule.group(1), {}))
        elif (found := re.fullmatch(r"\s*resources: (.*)", line)) and jobs:
            jobs[-1][1].update(item.split("=", 1) for item in found.group(1).split(", "))
    assert jobs, proc.stdout[-3000:]
    return jobs


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("profile_args", "partition"),
    [
        (("--profile", str(CI.parent)), "debug"),
        (("--profile", str(SLURM.parent)), None),
        (("--profile", str(LOCAL.parent)), None),
        (("--cores", "2"), None),
    ],
    ids=["site-slurm-profile", "our-slurm-profile", "local-profile", "no-profile"],
)
def test_jobs_get_the_workflow_resources_by_themselves(tmp_path, profile_args, partition):
    """Training jobs carry gpu=1 (locally: each claims a device), others none; every
    cluster rule gets profiles/default's memory and run time, which no --profile names,
    and a site profile's partition still reaches every job."""
    sized = load(DEFAULT)["set-resources"]
    seen = set()
    for rule, resources in dry_run_jobs(tmp_path, *profile_args):
        gpu_rule = rule in GPU_RULES | APPLY_GPU_RULES
        assert (resources.get("gpu", "0") == "1") == gpu_rule, f"{rule}: {resources}"
        if rule in sized:
            mem_mb = int(sized[rule]["mem_mb"].split()[0])  # "N * attempt", attempt 1
            assert int(resources["mem_mb"]) == mem_mb, f"{rule}: {resources}"
            assert int(resources["runtime"]) == minutes(sized[rule]["runtime"]), rule
            assert resources.get("slurm_partition") == partition, f"{rule}: {resources}"
        seen.add(rule)
    planned = GPU_RULES | (set(sized) - APPLY_RULES)
    assert seen >= planned, "the demo DAG runs every sized rule"
    assert set(sized) >= APPLY_RULES, "every apply rule is sized"
