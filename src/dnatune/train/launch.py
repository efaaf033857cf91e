"""Run a training function on one process, or on several with torchrun (DDP).

A training rule that gets `gpu` > 1 calls `launch(target, args, nproc=gpu)`.
The function then runs once per device under torchrun, and the transformers
Trainer sees the torchrun environment and trains with DistributedDataParallel
(NCCL on GPUs; gloo on CPUs, which is how the tests run it). The workers'
output is copied into the calling process's log, and rank 0's return value is
handed back. `per_device_batch` and `device_flags` give each worker's Trainer
its share of the global batch and its DDP backend.

    python -m dnatune.train.launch SPEC.json     # what each torchrun worker runs
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dnatune.logs import setup_logging

logger = logging.getLogger(__name__)


def resolve(dotted: str):
    """'package.module:name' -> the object."""
    module, _, name = dotted.partition(":")
    if not name:
        raise ValueError(f"target '{dotted}' must look like 'package.module:function'")
    return getattr(importlib.import_module(module), name)


def in_worker() -> bool:
    """True inside a torchrun worker (or any already-initialised multi-process run)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch(target: str, args, nproc: int = 1) -> Any:
    """Call `target(args)` on `nproc` processes and return rank 0's result.

    target: 'package.module:function' taking one dataclass instance.
    nproc <= 1, or already inside a torchrun worker: a plain call here.
    Otherwise one torchrun worker per device; the result must be JSON-serialisable.
    """
    nproc = int(nproc or 1)
    function = resolve(target)  # a wrong target fails here, before any worker starts
    if nproc <= 1 or in_worker():
        return function(args)
    check_devices(nproc)
    with tempfile.TemporaryDirectory(prefix="dnatune-launch-") as tmp:
        spec = Path(tmp) / "spec.json"
        result = Path(tmp) / "result.json"
        spec.write_text(
            json.dumps(
                {
                    "target": target,
                    "class": f"{type(args).__module__}:{type(args).__qualname__}",
                    "args": dataclasses.asdict(args),
                    "result": str(result),
                }
            )
        )
        cmd = torchrun_command(nproc, spec)
        logger.info("launching %s on %d processes: %s", target, nproc, " ".join(cmd))
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip():
                logger.info("| %s", line.rstrip())
        if proc.wait() != 0:
            raise RuntimeError(
                f"{target} failed on {nproc} processes (torchrun exit code {proc.returncode}); "
                "the workers' output is above in this log"
            )
        return json.loads(result.read_text()) if result.exists() else None


def torchrun_command(nproc: int, spec: Path) -> list[str]:
    """torchrun on this node, a free rendezvous port, one worker per device."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "dnatune.train.launch",
        str(spec),
    ]


def check_devices(nproc: int) -> None:
    import torch

    if torch.cuda.is_available():
        found = torch.cuda.device_count()
        if found < nproc:
            raise RuntimeError(
                f"{nproc} GPUs requested (resources gpu={nproc}) but only {found} visible "
                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}); "
                "lower the model's resources.gpu or request more GPUs from the scheduler"
            )
    else:
        logger.warning("no CUDA device: running %d CPU processes with the gloo backend", nproc)


def per_device_batch(global_batch: int, world_size: int) -> int:
    """The per-process batch of a run over `world_size` processes that keeps `global_batch`."""
    per_device = max(1, global_batch // world_size)
    if per_device * world_size != global_batch:
        logger.warning(
            "batch size %d does not split over %d processes; using %d per process (global %d)",
            global_batch,
            world_size,
            per_device,
            per_device * world_size,
        )
    return per_device


def device_flags(world_size: int, find_unused_parameters: bool | None = False) -> dict:
    """TrainingArguments for the device: gloo for multi-process DDP on CPUs, NCCL on GPUs.

    find_unused_parameters=None leaves it to transformers (True unless gradient
    checkpointing), for models whose forward pass may skip some weights.
    """
    import torch

    ddp = {"ddp_find_unused_parameters": find_unused_parameters} if world_size > 1 else {}
    if torch.cuda.is_available():
        return ddp
    return {"use_cpu": True, **ddp, **({"ddp_backend": "gloo"} if world_size > 1 else {})}


def worker(spec_path: str) -> None:
    """Entry of one torchrun worker: rebuild the arguments, call the target, save rank 0's result."""
    spec = json.loads(Path(spec_path).read_text())
    rank = int(os.environ.get("RANK", "0"))
    # on stderr, which launch() copies into the rule's log; an uncaught error included
    setup_logging(
        level=logging.INFO if rank == 0 else logging.WARNING,
        fmt=f"rank {rank} %(levelname)s %(name)s: %(message)s",
    )
    args = resolve(spec["class"])(**spec["args"])
    result = resolve(spec["target"])(args)
    if rank == 0:
        Path(spec["result"]).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m dnatune.train.launch SPEC.json (run by torchrun; see launch())")
    worker(sys.argv[1])
