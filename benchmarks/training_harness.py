"""What benchmarks/finetune.py and benchmarks/pretrain.py share: the model, the data, the
sides run in child processes (alternating, so that a burst of load hits every side
alike), medians and the JSON line.

Each side's figures come from dnatune.train.throughput.ThroughputCallback, attached to the
pipeline's Trainer and to the plain Hugging Face one alike: tokens/s (real tokens) and
samples/s over the optimisation steps, the padding fraction, peak memory, MFU on a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

TOKENIZER = {"kind": "kmer", "k": 3, "overlap": True}  # one token per base (DNABERT-style)
# Input sets, in bases: GUE-like variable lengths (70 to --max-bases), and fixed 200 bp
INPUTS = ("variable", "fixed")
FIXED_BASES, MIN_BASES = 200, 70
FIGURES = ("tokens_per_s", "samples_per_s", "padding_fraction", "peak_rss_mb", "peak_gpu_mb")


def add_model_arguments(parser) -> None:
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=256)
    parser.add_argument("--max-tokens", type=int, default=1024, help="the model's max_length")
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    parser.add_argument("--max-bases", type=int, default=1000, help="longest variable input")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch default")
    parser.add_argument("--precision", default="auto", help="auto: bf16 on a GPU, fp32 on CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="runs per side; medians printed")
    for internal in ("--side", "--input", "--workdir"):  # a child process' own arguments
        parser.add_argument(internal, help=argparse.SUPPRESS)


def build_model(workdir: Path, args, architecture: str = "bert") -> Path:
    """A randomly initialised model of the arguments' shape and its tokenizer."""
    from dnatune.corpus.tokenizers import build_tokenizer
    from dnatune.train.models import init_scratch_model

    spec = {
        "architecture": architecture,
        "layers": args.layers,
        "hidden": args.hidden,
        "heads": args.heads,
        "intermediate": args.intermediate,
        "max_length": args.max_tokens,
    }
    build_tokenizer(TOKENIZER, workdir / "tokenizer")
    init_scratch_model(spec, workdir / "tokenizer", workdir / architecture, seed=args.seed)
    return workdir / architecture


def base_range(inputs: str, args) -> tuple[int, int]:
    """Shortest and longest sequence of an input set, in bases (one token each, plus 2)."""
    if args.max_bases + 2 > args.max_tokens:
        raise SystemExit(f"--max-bases {args.max_bases} needs --max-tokens >= {args.max_bases + 2}")
    if inputs == "fixed":
        return (min(FIXED_BASES, args.max_bases),) * 2
    return MIN_BASES, args.max_bases


def gc_sequences(rng, labels, lengths: tuple[int, int]) -> list[str]:
    """Sequences whose GC content (0.45 or 0.55) gives their label; lengths uniform."""
    out = []
    for label in labels:
        gc = 0.55 if label else 0.45
        p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
        out.append(
            "".join(rng.choice(list("ACGT"), int(rng.integers(lengths[0], lengths[1] + 1)), p=p))
        )
    return out


def run_sides(sides: list[str], inputs: str, repeats: int, workdir: str) -> dict[str, list[dict]]:
    """Each side `repeats` times in a child process of the calling script; their JSON results."""
    runs = {side: [] for side in sides}
    for _ in range(repeats):
        for side in sides:
            cmd = [sys.executable, sys.argv[0], *sys.argv[1:]]
            cmd += ["--side", side, "--input", inputs, "--workdir", workdir]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"{side} run on {inputs} inputs failed:\n{proc.stderr[-4000:]}")
            runs[side].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return runs


def side_figures(record: dict) -> dict:
    """A side's figures from its ThroughputCallback record."""
    return {
        "tokens_per_s": record["tokens_per_second"],
        "samples_per_s": record["samples_per_second"],
        "padding_fraction": record["padding_fraction"],
        "peak_rss_mb": record["peak_rss_mb"],
        "peak_gpu_mb": record["peak_gpu_mb"],
        "mfu": record["mfu"],
        "device": record["device"],
        "precision": record["precision"],
    }


def comparison(runs: dict[str, list[dict]], ours: str, metric: str, tolerance: float) -> dict:
    """Medians per side, speedups of `ours` over every other side (ratios of the medians, and
    the median of the per-repeat ratios), and whether `metric` is equal within `tolerance`."""
    line = {}
    for side, side_runs in runs.items():
        for key in (*FIGURES, "mfu", metric):
            values = [r[key] for r in side_runs if r.get(key) is not None]
            line[f"{side}_{key}"] = _rounded(statistics.median(values)) if values else None
    for side in runs:
        if side == ours:
            continue
        ratios = [
            o["tokens_per_s"] / b["tokens_per_s"]
            for o, b in zip(runs[ours], runs[side], strict=True)
        ]
        line[f"speedup_vs_{side}"] = _rounded(
            line[f"{ours}_tokens_per_s"] / line[f"{side}_tokens_per_s"]
        )
        line[f"speedup_vs_{side}_runs"] = [_rounded(r) for r in ratios]
        gap = abs(line[f"{ours}_{metric}"] - line[f"{side}_{metric}"])
        line[f"{metric}_equal_vs_{side}"] = bool(gap <= tolerance)
    first = runs[ours][0]
    line.update(device=first["device"], precision=first["precision"], repeats=len(runs[ours]))
    return line


def mean_tokens(lengths: list[int]) -> float:
    return round(float(np.mean(lengths)), 1)


def _rounded(value: float) -> float:
    return float(f"{value:.4g}")
