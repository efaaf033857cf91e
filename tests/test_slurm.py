"""The tiny workflow on a real Slurm cluster, run as users type it: `--profile` names only
the cluster's own profile (tests/profiles/slurm-ci: executor and partition), and the
workflow's GPUs, memory and run time reach Slurm by themselves (rules, profiles/default).

Needs the single-node cluster of `.ci/slurm.sh` (munge, slurmctld, slurmd, fake GPUs
as gres). This test starts nothing itself: without the cluster it fails and says how
to start it. Proves that the GPU steps are submitted with a GPU request (read back
from `scontrol show job`) and profiles/default's memory and time limit, the CPU steps
without a GPU, and that the results equal those of a local run of the same config.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, snakemake_command, tiny_config, write_config
from test_profiles import minutes

pytestmark = pytest.mark.slurm

GPU_RULES = {"pretrain", "finetune"}
SLURM_SH = ROOT / ".ci" / "slurm.sh"
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def cluster() -> None:
    missing = [tool for tool in ("sbatch", "squeue", "scontrol", "sinfo") if not shutil.which(tool)]
    status = subprocess.run(["bash", str(SLURM_SH), "status"], capture_output=True, text=True)
    if missing or status.returncode != 0:
        pytest.fail(
            "the local Slurm cluster is not up "
            f"({'missing ' + ', '.join(missing) if missing else status.stdout.strip()}); "
            f"start it with `{SLURM_SH.relative_to(ROOT)}` (and stop it with "
            f"`{SLURM_SH.relative_to(ROOT)} stop`), then rerun",
            pytrace=False,
        )


class JobRecorder(threading.Thread):
    """Polls `scontrol show job` and keeps every job record of one working directory.

    Slurm forgets a finished job after MinJobAge (300 s); polling during the run keeps
    the early jobs too, however long the run takes.
    """

    def __init__(self, workdir: Path, interval: float = 2.0):
        super().__init__(daemon=True)
        self.workdir, self.interval = str(workdir), interval
        self.jobs: dict[str, dict[str, str]] = {}
        self._stop_event = threading.Event()

    def poll(self) -> None:
        out = subprocess.run(
            ["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            record = dict(re.findall(r"(\w+)=(\S*)", line))
            if record.get("WorkDir") == self.workdir:
                self.jobs[record["JobId"]] = record

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.poll()

    def stop(self) -> dict[str, dict[str, str]]:
        self._stop_event.set()
        self.join()
        self.poll()
        return self.jobs


def gpu_request(job: dict[str, str]) -> str:
    """The job's GPU request as Slurm records it ('' when none)."""
    fields = ("TresPerJob", "TresPerNode", "TresPerTask", "TresPerSocket", "Gres")
    return ",".join(job[f] for f in fields if "gpu" in job.get(f, ""))


def step_name(job: dict[str, str]) -> str:
    """Rule (or group) name from the comment the slurm executor sets: rule_<name>[_wildcards_...]."""
    match = re.match(r"rule_(.+?)(?:_wildcards_.*)?$", job.get("Comment", ""))
    assert match, f"job {job['JobId']} has no snakemake comment: {job.get('Comment')}"
    return match.group(1)


def slurm_minutes(limit: str) -> int:
    """scontrol's TimeLimit ([D-]HH:MM:SS) in minutes."""
    days, _, clock = limit.rpartition("-")
    hours, mins, _ = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + mins


def slurm_mb(memory: str) -> int:
    """scontrol's MinMemoryNode (e.g. 32000M, 16G) in MB."""
    return int(float(memory[:-1]) * {"M": 1, "G": 1024, "T": 1024**2}[memory[-1]])


def metrics(workdir: Path) -> dict[str, dict]:
    files = sorted((workdir / "results" / "eval").rglob("metrics.json"))
    return {str(p.relative_to(workdir)): json.loads(p.read_text()) for p in files}


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm_run")
    write_config(workdir, tiny_config())
    cmd = [
        *("timeout", "-k", "20", str(TIMEOUT_S)),
        *snakemake_command(
            workdir,
            *("--profile", str(ROOT / "tests" / "profiles" / "slurm-ci")),
        ),
    ]
    recorder = JobRecorder(workdir)
    recorder.start()
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - start
    jobs = recorder.stop()
    if proc.returncode != 0:
        # a killed snakemake leaves its Slurm jobs behind: cancel this run's jobs only
        live = [j for j, r in jobs.items() if r.get("JobState") in ("PENDING", "RUNNING")]
        if live:
            subprocess.run(["scancel", *live], check=False)
        logs = sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))
        tails = "\n".join(f"--- {p}\n{p.read_text()[-1500:]}" for p in logs[-3:])
        pytest.fail(
            f"snakemake on Slurm failed ({proc.returncode}"
            f"{', timed out' if proc.returncode in (124, 137) else ''}) after {wall:.0f} s:\n"
            f"{proc.stderr[-5000:]}\n{tails}",
            pytrace=False,
        )
    print(f"slurm run: {wall:.0f} s wall, {len(jobs)} Slurm jobs")
    return workdir, jobs


def test_gpu_steps_request_gpus_and_cpu_steps_do_not(slurm_run):
    _, jobs = slurm_run
    assert jobs, "no Slurm job was recorded for this working directory"
    by_step: dict[str, list[dict[str, str]]] = {}
    for job in jobs.values():
        by_step.setdefault(step_name(job), []).append(job)
    assert set(by_step) >= GPU_RULES, f"GPU steps not submitted to Slurm: {sorted(by_step)}"
    assert set(by_step) - GPU_RULES, "no CPU step ran on Slurm"
    for step, step_jobs in by_step.items():
        for job in step_jobs:
            request = gpu_request(job)
            if step in GPU_RULES:
                assert re.search(r"gpu[:=]1\b", request), f"{step} job {job['JobId']}: {job}"
            else:
                assert request == "", f"CPU step {step} asked for a GPU: {request}"
            assert job["JobState"] == "COMPLETED", f"{step} job {job['JobId']}: {job['JobState']}"


def test_training_jobs_get_the_workflow_profiles_memory_and_time(slurm_run):
    _, jobs = slurm_run
    sized = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    checked = set()
    for job in jobs.values():
        step = step_name(job)
        if step in GPU_RULES:
            resources = sized["set-resources"][step]
            assert slurm_minutes(job["TimeLimit"]) == minutes(resources["runtime"]), job
            assert slurm_mb(job["MinMemoryNode"]) == int(resources["mem_mb"].split()[0]), job
            checked.add(step)
    assert checked == GPU_RULES


def test_results_equal_a_local_run(slurm_run, request):
    workdir, _ = slurm_run
    # the local run of the same config (shared with other tests); requested here, not as
    # an argument, so that pytest does not run it first when the cluster is down
    local_dir = request.getfixturevalue("tiny_run")
    on_slurm, local = metrics(workdir), metrics(local_dir)
    assert on_slurm, "the Slurm run produced no metrics.json"
    assert on_slurm.keys() == local.keys()
    for path, cell in on_slurm.items():
        reference = local[path]
        assert cell["n_test"] == reference["n_test"], path
        assert cell["train_steps"] == reference["train_steps"], path
        for name, value in reference["metrics"].items():
            for key in ("value", "ci_low", "ci_high"):
                assert cell["metrics"][name][key] == pytest.approx(
                    value[key], abs=1e-6, nan_ok=True
                ), f"{path} {name}.{key}"
