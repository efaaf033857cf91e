"""Give each locally run GPU job its own GPU(s).

Snakemake counts GPUs (`--resources gpu=N` caps how many GPU jobs run at once) but does
not say which device a job should use, so two local jobs would both land on GPU 0.
`claim_gpus(n)` picks n free devices, holding an exclusive file lock per device under
`.snakemake/gpu-locks/` for the lifetime of the job, and points CUDA_VISIBLE_DEVICES at
them. Locks are `flock`s: a killed job releases its GPU with its process.

Under Slurm nothing is claimed: Slurm already set CUDA_VISIBLE_DEVICES to the job's GPUs.

Call it before torch touches CUDA (CUDA reads CUDA_VISIBLE_DEVICES once, at init):

    with claim_gpus(snakemake.resources.get("gpu", 0)) as devices:
        train(...)            # torchrun / accelerate children inherit the variable
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

GPU_COUNT_ENV = "DNATUNE_GPU_COUNT"  # overrides detection (tests, or a site's odd setup)
LOCK_DIR_ENV = "DNATUNE_GPU_LOCK_DIR"  # e.g. one machine-wide dir shared by several workflows
CLAIMED_ENV = "DNATUNE_CLAIMED_GPUS"  # set while a claim holds; children reuse the claim
DEFAULT_LOCK_DIR = Path(".snakemake") / "gpu-locks"


class GpuClaimError(RuntimeError):
    """A job asks for GPUs it cannot get; the message says what to change."""


def under_slurm() -> bool:
    return "SLURM_JOB_ID" in os.environ


def visible_devices() -> list[str]:
    """Devices this process may use: CUDA_VISIBLE_DEVICES if set, else all detected ones."""
    preset = os.environ.get("CUDA_VISIBLE_DEVICES")
    if preset is not None:
        return [d.strip() for d in preset.split(",") if d.strip() and d.strip() != "-1"]
    return [str(i) for i in range(gpu_count())]


def gpu_count() -> int:
    """Number of NVIDIA GPUs, found without initialising CUDA."""
    forced = os.environ.get(GPU_COUNT_ENV)
    if forced is not None:
        try:
            return int(forced)
        except ValueError:
            raise GpuClaimError(f"{GPU_COUNT_ENV}={forced!r} is not an integer") from None
    proc_dir = Path("/proc/driver/nvidia/gpus")
    if proc_dir.is_dir():
        return len(list(proc_dir.iterdir()))
    if shutil.which("nvidia-smi"):
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
        return sum(line.startswith("GPU ") for line in out.stdout.splitlines())
    return 0


def _cuda_already_initialised() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def _try_lock(path: Path):
    handle = open(path, "a+")  # noqa: SIM115 - held open while the lock is held
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


@contextmanager
def claim_gpus(
    n: int,
    lock_dir: str | Path | None = None,
    poll_seconds: float = 2.0,
    timeout: float | None = None,
) -> Iterator[list[str]]:
    """Claim n GPUs for the duration of the `with` block; yields the device ids.

    - n == 0: claims nothing and leaves the environment alone.
    - under Slurm: yields Slurm's CUDA_VISIBLE_DEVICES, no locks.
    - inside a claim (a nested call, or a torchrun/accelerate worker started in the block):
      yields the devices already claimed, no new locks.
    - no GPU on this machine: logs a warning and yields [] (the job runs on CPU).
    - otherwise waits (polling) until n devices are free, sets CUDA_VISIBLE_DEVICES (and
      CUDA_DEVICE_ORDER=PCI_BUS_ID, so indices match nvidia-smi) and restores both after.
    """
    n = int(n)
    if n <= 0:
        yield []
        return
    if under_slurm():
        yield _slurm_devices(n)
        return
    held = os.environ.get(CLAIMED_ENV)
    if held is not None and held == os.environ.get("CUDA_VISIBLE_DEVICES"):
        yield visible_devices()
        return
    pool = visible_devices()
    if not pool:
        logger.warning("job asks for %d GPU(s) but this machine has none: running on CPU", n)
        yield []
        return
    if n > len(pool):
        raise GpuClaimError(
            f"a job asks for {n} GPUs but only {len(pool)} are visible ({','.join(pool)}); "
            f"set models.<name>.resources.gpu in the config to at most {len(pool)}"
        )
    if _cuda_already_initialised():
        raise GpuClaimError(
            "CUDA was initialised before claim_gpus(): call it before any torch.cuda use"
        )
    directory = Path(lock_dir or os.environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        claimed = _lock_devices(stack, pool, n, directory, poll_seconds, timeout)
        with _visible(claimed):
            logger.info("claimed GPU(s) %s (CUDA_VISIBLE_DEVICES)", ",".join(claimed))
            yield claimed


def _slurm_devices(n: int) -> list[str]:
    """The job's devices as Slurm set them (a warning when fewer than asked for)."""
    devices = visible_devices() if "CUDA_VISIBLE_DEVICES" in os.environ else []
    if len(devices) < n:
        logger.warning(
            "Slurm job %s asked for %d GPU(s) but CUDA_VISIBLE_DEVICES=%r",
            os.environ["SLURM_JOB_ID"],
            n,
            os.environ.get("CUDA_VISIBLE_DEVICES"),
        )
    return devices


def _lock_devices(
    stack: ExitStack,
    pool: list[str],
    n: int,
    directory: Path,
    poll_seconds: float,
    timeout: float | None,
) -> list[str]:
    """Lock n devices of the pool, polling until that many are free; `stack` holds the locks."""
    start = time.monotonic()
    waited = False
    while True:
        claimed = []
        for device in pool:
            handle = _try_lock(directory / f"gpu-{device.replace('/', '_')}.lock")
            if handle is not None:
                stack.callback(handle.close)  # closing releases the flock
                claimed.append(device)
                if len(claimed) == n:
                    return claimed
        stack.close()  # give back a partial claim, so two jobs never deadlock
        if timeout is not None and time.monotonic() - start > timeout:
            raise GpuClaimError(
                f"no {n} free GPU(s) among {','.join(pool)} after {timeout:.0f} s "
                f"(locks in {directory}); cap GPU jobs with --resources gpu={len(pool)}"
            )
        if not waited:
            logger.info("waiting for %d free GPU(s) among %s", n, ",".join(pool))
            waited = True
        time.sleep(poll_seconds)


@contextmanager
def _visible(claimed: list[str]) -> Iterator[None]:
    """CUDA_VISIBLE_DEVICES (and the claim marker) on the claimed devices, restored after."""
    keys = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", CLAIMED_ENV)
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["CUDA_VISIBLE_DEVICES"] = os.environ[CLAIMED_ENV] = ",".join(claimed)
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
