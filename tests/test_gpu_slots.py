"""claim_gpus: concurrent local GPU jobs get distinct devices; Slurm and CPU-only pass through."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dnatune.train.gpu_slots import GpuClaimError, claim_gpus

# A job: claim GPUs, record what it got, hold them until told to stop.
JOB = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from dnatune.train.gpu_slots import claim_gpus
    n, out, release = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    with claim_gpus(n, poll_seconds=0.05) as devices:
        # written whole, then renamed: the test reads it as soon as it exists
        tmp = out.with_suffix(".tmp")
        tmp.write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
        tmp.rename(out)
        while not release.exists():
            time.sleep(0.02)
    """
)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A machine with 2 fake GPUs, outside Slurm, lock dir under tmp_path."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("DNATUNE_CLAIMED_GPUS", raising=False)
    monkeypatch.setenv("DNATUNE_GPU_COUNT", "2")
    monkeypatch.setenv("DNATUNE_GPU_LOCK_DIR", str(tmp_path / "locks"))
    return dict(os.environ)


def start_job(tmp_path: Path, name: str, n: int, env: dict) -> tuple[subprocess.Popen, Path, Path]:
    out, release = tmp_path / f"{name}.out", tmp_path / f"{name}.release"
    proc = subprocess.Popen([sys.executable, "-c", JOB, str(n), str(out), str(release)], env=env)
    return proc, out, release


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, f"job exited with {proc.returncode} before claiming"
        assert time.monotonic() < deadline, f"{path.name} never written"
        time.sleep(0.02)
    return path.read_text()


def test_two_concurrent_jobs_get_different_gpus_and_a_third_waits(env, tmp_path):
    a, a_out, a_rel = start_job(tmp_path, "a", 1, env)
    b, b_out, b_rel = start_job(tmp_path, "b", 1, env)
    got = {wait_for(a_out, a), wait_for(b_out, b)}
    assert got == {"0", "1"}, "each job must see only its own GPU"

    c, c_out, c_rel = start_job(tmp_path, "c", 1, env)
    time.sleep(0.5)
    assert not c_out.exists(), "a third job must wait while both GPUs are held"
    freed = a_out.read_text()
    a_rel.touch()
    assert a.wait(30) == 0
    assert wait_for(c_out, c) == freed, "the waiting job takes the GPU that was freed"
    for rel, proc in ((b_rel, b), (c_rel, c)):
        rel.touch()
        assert proc.wait(30) == 0


def test_killed_job_releases_its_gpu(env, tmp_path):
    a, a_out, _ = start_job(tmp_path, "a", 2, env)
    assert wait_for(a_out, a) == "0,1"
    a.kill()
    a.wait(30)
    b, b_out, b_rel = start_job(tmp_path, "b", 2, env)
    assert wait_for(b_out, b) == "0,1"
    b_rel.touch()
    assert b.wait(30) == 0


def test_claim_sets_and_restores_environment(env):
    with claim_gpus(1, timeout=5) as devices:
        assert devices == ["0"]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        assert os.environ["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert "CUDA_DEVICE_ORDER" not in os.environ
    with claim_gpus(2, timeout=5) as devices:  # the lock of the first claim was released
        assert devices == ["0", "1"]


def test_workers_inside_a_claim_reuse_it(env, tmp_path):
    with claim_gpus(2, timeout=5) as devices:
        assert devices == ["0", "1"]
        with claim_gpus(2, timeout=1) as nested:  # e.g. the training code claims again
            assert nested == ["0", "1"]
        # a torchrun worker process started inside the block inherits the claim
        worker, out, release = start_job(tmp_path, "worker", 1, dict(os.environ))
        release.touch()
        assert wait_for(out, worker) == "0,1"
        assert worker.wait(30) == 0
    assert "DNATUNE_CLAIMED_GPUS" not in os.environ


def test_user_restriction_is_the_pool(env, monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    a, a_out, a_rel = start_job(tmp_path, "a", 1, dict(os.environ))
    assert wait_for(a_out, a) == "3"
    with claim_gpus(1, timeout=5) as devices:
        assert devices == ["5"]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "5"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3,5"
    a_rel.touch()
    assert a.wait(30) == 0


def test_timeout_when_all_gpus_are_held(env, tmp_path):
    a, a_out, a_rel = start_job(tmp_path, "a", 2, env)
    assert wait_for(a_out, a) == "0,1"
    with (
        pytest.raises(GpuClaimError, match="no 1 free GPU"),
        claim_gpus(1, poll_seconds=0.01, timeout=0.1),
    ):
        pass
    a_rel.touch()
    assert a.wait(30) == 0


def test_more_gpus_than_the_machine_has_is_a_clear_error(env):
    with (
        pytest.raises(GpuClaimError, match="asks for 3 GPUs but only 2 are visible"),
        claim_gpus(3),
    ):
        pass


def test_zero_gpus_leaves_everything_alone(env, tmp_path):
    with claim_gpus(0) as devices:
        assert devices == []
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert not (tmp_path / "locks").exists()


def test_cpu_only_machine_runs_on_cpu(env, monkeypatch, caplog):
    monkeypatch.setenv("DNATUNE_GPU_COUNT", "0")
    with caplog.at_level("WARNING"), claim_gpus(1) as devices:
        assert devices == []
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert "running on CPU" in caplog.text


def test_under_slurm_nothing_is_claimed(env, monkeypatch, tmp_path):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    with claim_gpus(1) as devices:
        assert devices == ["1"]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert not (tmp_path / "locks").exists()


def test_bad_fake_count_names_the_variable(env, monkeypatch):
    monkeypatch.setenv("DNATUNE_GPU_COUNT", "two")
    with pytest.raises(GpuClaimError, match="DNATUNE_GPU_COUNT='two'"), claim_gpus(1):
        pass
