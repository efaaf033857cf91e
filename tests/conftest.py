"""Shared fixtures: a tiny config and a real snakemake run of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "Snakefile"
# subprocesses (killed runs, torchrun workers) import this checkout's dnatune, as pytest does,
# not an installed copy
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p
)


def tiny_config() -> dict:
    """A config small enough to run the whole grid in about a minute on 2 cores."""
    return {
        "genomes": {"demo": {"simulate": {"length": 300_000, "chromosomes": 3, "seed": 3}}},
        "windows": {"size": 128, "stride": 128, "split": {"val": 0.1, "test": 0.1}},
        "models": {
            "tiny": {
                "scratch": {
                    "architecture": "bert",
                    "tokenizer": {"kind": "kmer", "k": 3, "overlap": True},
                    "layers": 1,
                    "hidden": 32,
                    "heads": 2,
                    "intermediate": 64,
                    "max_length": 160,
                }
            }
        },
        "pretrain": {"max_steps": 20, "batch_size": 16, "save_steps": 10, "logging_steps": 5},
        "tasks": {
            "promoter": {
                "type": "binary",
                "source": {
                    "annotation": {
                        "genome": "demo",
                        "feature": "promoter",
                        "length": 100,
                        "max_per_class": 150,
                    }
                },
            }
        },
        "finetune": {
            "max_steps": 10,
            "batch_size": 16,
            "eval_steps": 5,
            "seeds": [0],
            "label_fractions": [1.0],
            "variants": ["scratch", "pretrained"],
        },
        "evaluate": {"bootstrap": 50},
    }


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The command line running the real workflow in `workdir` with its config.yaml."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        *args,
    ]


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900):
    """Run the real workflow in `workdir` with its config.yaml; return the CompletedProcess."""
    cmd = snakemake_command(workdir, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole tiny workflow, run once for the session; returns its working directory."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    write_config(workdir, tiny_config())
    run_snakemake(workdir, "--cores", "2")
    return workdir
