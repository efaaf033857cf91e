"""Fabricated but realistic stage outputs for the report tests.

`make_grid` writes, under a root directory laid out like the workflow's
results/, every file the report stage reads: genome manifest, windows, corpus
stats, model directories (safetensors + config + tokenizer sidecar), a
pre-training trainer_state.json, task meta.json, and per grid cell the
predictions.parquet, history.json and metrics.json of the data contract.
Predictions are simulated (pre-trained models are more skilful, more so with
few labels); metrics.json is computed from them with scikit-learn, so tests
derive every expectation from the files rather than from hard-coded numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.numpy import save_file
from sklearn import metrics as skm

from dnatune.evaluate.summary import write_summary
from dnatune.report.render import ReportInputs
from dnatune.stats.tables import StatsPaths, write_stats

TASKS = {
    "promoter": {"type": "binary", "headline": "mcc", "label_names": ["background", "promoter"]},
    "family": {
        "type": "multiclass",
        "headline": "macro_f1",
        "label_names": ["LINE", "SINE", "LTR"],
    },
}
MODEL = "tiny"
BASELINES = ("cnn", "kmer_lr")  # variants whose cells sit under the model folder "baseline"
BASELINE_BONUS = {"cnn": 0.3, "kmer_lr": 0.1}  # skill over scratch: the CNN is the better one
WEIGHT_SHAPES = {"embeddings": (69, 16), "encoder.dense": (16, 16), "classifier": (2, 16)}


@dataclass
class Grid:
    root: Path
    tasks: dict
    variants: tuple
    fractions: tuple
    seeds: tuple
    config: dict
    metrics: list[Path] = field(default_factory=list)
    histories: list[Path] = field(default_factory=list)
    predictions: list[Path] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    windows: list[Path] = field(default_factory=list)
    corpus_stats: list[Path] = field(default_factory=list)
    model_dirs: list[Path] = field(default_factory=list)
    pretrain_dirs: list[Path] = field(default_factory=list)
    task_meta: list[Path] = field(default_factory=list)
    track_validation: list[Path] = field(default_factory=list)  # the apply stage's, if any

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def benchmark_dir(self) -> Path:
        return self.root / "benchmarks" / "results"

    def cells(self):
        for task in self.tasks:
            for variant in self.variants:
                for fraction in self.fractions:
                    for seed in self.seeds:
                        yield task, variant, fraction, seed

    def cell_dir(self, stage: str, task, variant, fraction, seed) -> Path:
        model = model_of(variant)
        return self.results / stage / task / model / variant / f"f{fraction:g}" / f"s{seed}"

    @property
    def summary_tsv(self) -> Path:
        return self.results / "report" / "summary.tsv"

    @property
    def stats(self) -> StatsPaths:
        return StatsPaths.in_dir(self.results / "stats")

    def write_summary_and_stats(self, n_boot: int = 200):
        """summary.tsv and the stats tables, as the summary and stats rules write them."""
        write_summary(self.metrics, self.summary_tsv, self.histories)
        return write_stats(
            self.summary_tsv,
            self.metrics,
            self.predictions,
            self.stats,
            n_boot=n_boot,
            history_paths=self.histories,
        )

    def report_inputs(self) -> ReportInputs:
        """Each list of ReportInputs is the Grid list of the same name."""
        lists = {
            f.name: [str(p) for p in getattr(self, f.name)]
            for f in fields(ReportInputs)
            if f.name not in ("summary_tsv", "stats", "benchmark_dir", "variant_auroc")
        }
        return ReportInputs(
            summary_tsv=str(self.summary_tsv),
            stats=self.stats,
            benchmark_dir=str(self.benchmark_dir),
            **lists,
        )


def model_of(variant: str) -> str:
    return "baseline" if variant in BASELINES else MODEL


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def make_grid(
    root: Path,
    tasks: dict | None = None,
    variants=("scratch", "pretrained"),
    fractions=(0.05, 1.0),
    seeds=(0, 1, 2),
    n_test: int = 150,
    pretrain_bonus: float = 1.2,
    rng_seed: int = 0,
) -> Grid:
    tasks = tasks or TASKS
    grid = Grid(Path(root), tasks, tuple(variants), tuple(fractions), tuple(seeds), {})
    grid.config = _config(grid)
    rng = np.random.default_rng(rng_seed)
    _overview(grid)
    for task, spec in tasks.items():
        labels = _test_labels(spec, n_test, rng)
        grid.task_meta.append(
            write_json(
                grid.results / "tasks" / task / "meta.json",
                {
                    "task": task,
                    "type": spec["type"],
                    "num_labels": len(spec["label_names"]),
                    "label_names": spec["label_names"],
                    "split_method": "by chromosome: test chr3, val chr2",
                    "counts": {"train": 8 * n_test, "val": n_test, "test": n_test},
                    "warnings": [],
                },
            )
        )
        for variant in variants:
            for fraction in fractions:
                for seed in seeds:
                    bonus = (
                        pretrain_bonus * (1.2 - fraction)
                        if variant in ("pretrained", "continued")
                        else BASELINE_BONUS.get(variant, 0.0)
                    )
                    skill = 0.4 + 1.0 * fraction + bonus + rng.normal(0, 0.08)
                    _write_cell(grid, task, spec, variant, fraction, seed, labels, skill, rng)
    _benchmarks(grid)
    return grid


def _config(grid: Grid) -> dict:
    return {
        "genomes": {"demo": {"simulate": {"length": 300000, "chromosomes": 3, "seed": 7}}},
        "models": {
            MODEL: {
                "scratch": {
                    "architecture": "bert",
                    "tokenizer": {"kind": "kmer", "k": 3, "overlap": True},
                    "layers": 1,
                    "hidden": 16,
                }
            }
        },
        "tasks": {
            t: {"type": s["type"], "metric": s["headline"], "source": {"csv": f"{t}.csv"}}
            for t, s in grid.tasks.items()
        },
        "finetune": {
            "seeds": list(grid.seeds),
            "label_fractions": list(grid.fractions),
            "variants": list(grid.variants),
        },
        "evaluate": {"bootstrap": 200, "confidence": 0.95, "seed": 0},
        "report": {"title": "fixture report"},
    }


def _overview(grid: Grid) -> None:
    r = grid.results
    contigs = [{"name": f"chr{i}", "length": 100_000} for i in (1, 2, 3)]
    grid.manifests.append(
        write_json(
            r / "genomes" / "demo" / "manifest.json",
            {
                "genome": "demo",
                "source": {"kind": "simulate", "length": 300_000, "chromosomes": 3, "seed": 7},
                "sha256": "ab" * 32,
                "source_sha256": "cd" * 32,
                "contigs": contigs,
                "length": 300_000,
                "n_count": 1_500,
                "gc_fraction": 0.4137,
                "softmasked_fraction": 0.12,
                "iupac_replaced": 3,
            },
        )
    )
    windows = r / "windows" / "demo" / "windows.parquet"
    windows.parent.mkdir(parents=True, exist_ok=True)
    splits = ["train"] * 40 + ["val"] * 5 + ["test"] * 7
    pd.DataFrame(
        {
            "chrom": ["chr1"] * len(splits),
            "start": np.arange(len(splits)) * 128,
            "end": np.arange(len(splits)) * 128 + 256,
            "strand": "+",
            "split": splits,
        }
    ).to_parquet(windows)
    grid.windows.append(windows)
    grid.corpus_stats.append(
        write_json(
            r / "corpus" / "demo" / "kmer3-overlap" / "stats.json",
            {
                s: {"windows": n, "tokens": n * 254, "bases": n * 256}
                for s, n in (("train", 40), ("val", 5), ("test", 7))
            },
        )
    )
    sidecar = {"kind": "kmer", "k": 3, "overlap": True}
    config = {"model_type": "bert", "num_hidden_layers": 1, "hidden_size": 16, "vocab_size": 69}
    for stage in ("base", "pretrained"):
        model_dir = r / "models" / MODEL / stage
        write_json(model_dir / "config.json", config)
        write_json(model_dir / "dnatune_tokenizer.json", sidecar)
        save_file(
            {k: np.zeros(v, dtype=np.float32) for k, v in WEIGHT_SHAPES.items()},
            str(model_dir / "model.safetensors"),
        )
    grid.model_dirs.append(r / "models" / MODEL / "base")
    steps = np.arange(10, 210, 10)
    log = [{"loss": 4.2 * math.exp(-s / 80) + 2.9, "step": int(s), "epoch": s / 100} for s in steps]
    log += [{"eval_loss": 4.2 * math.exp(-s / 80) + 3.0, "step": int(s)} for s in steps[::5]]
    write_json(
        r / "models" / MODEL / "pretrained" / "trainer_state.json",
        {"log_history": log, "global_step": 200, "max_steps": 200},
    )
    write_json(
        r / "models" / MODEL / "pretrained" / "pretrain_summary.json",
        {
            "objective": "mlm",
            "global_step": 200,
            "final_train_loss": log[len(steps) - 1]["loss"],
            "eval_loss": log[-1]["eval_loss"],
            "val_unigram_entropy": 3.215,
            "throughput": THROUGHPUT
            | {"stage": "pretrain", "padding_fraction": 0.0, "real_tokens": 8000},
        },
    )
    grid.pretrain_dirs.append(r / "models" / MODEL / "pretrained")


def _test_labels(spec, n, rng) -> np.ndarray:
    if spec["type"] == "binary":
        return (rng.random(n) < 0.4).astype(np.int64)
    return rng.integers(0, len(spec["label_names"]), n)


def _softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _write_cell(grid, task, spec, variant, fraction, seed, labels, skill, rng) -> None:
    n = len(labels)
    if spec["type"] == "binary":
        logit = skill * (2 * labels - 1) + rng.normal(0, 1.0, n)
        scores = 1 / (1 + np.exp(-logit))
        score_cols = {"score": scores}
        hard = (scores >= 0.5).astype(int)
        values = {
            "accuracy": skm.accuracy_score(labels, hard),
            "f1": skm.f1_score(labels, hard),
            "mcc": skm.matthews_corrcoef(labels, hard),
            "auroc": skm.roc_auc_score(labels, scores),
            "auprc": skm.average_precision_score(labels, scores),
        }
    else:
        k = len(spec["label_names"])
        scores = _softmax(skill * 1.5 * np.eye(k)[labels] + rng.normal(0, 1.0, (n, k)))
        score_cols = {f"score_{i}": scores[:, i] for i in range(k)}
        hard = scores.argmax(axis=1)
        values = {
            "accuracy": skm.accuracy_score(labels, hard),
            "macro_f1": skm.f1_score(labels, hard, average="macro"),
            "mcc": skm.matthews_corrcoef(labels, hard),
        }
    finetune = grid.cell_dir("finetune", task, variant, fraction, seed)
    finetune.mkdir(parents=True, exist_ok=True)
    val_rows = n // 2
    frame = pd.concat(
        [
            pd.DataFrame(
                {"split": "val", "row": np.arange(val_rows), "label": labels[:val_rows]}
                | {c: v[:val_rows] for c, v in score_cols.items()}
            ),
            pd.DataFrame({"split": "test", "row": np.arange(n), "label": labels} | score_cols),
        ]
    )
    # shuffled on disk: readers must order test rows themselves
    frame.sample(frac=1.0, random_state=seed).to_parquet(finetune / "predictions.parquet")
    grid.predictions.append(finetune / "predictions.parquet")

    n_train = max(8, int(8 * n * fraction))
    train_steps = 3 * math.ceil(n_train / 32)
    eval_every = max(1, train_steps // 6)
    log = []
    for step in range(eval_every, train_steps + 1, eval_every):
        progress = 1 - math.exp(-step * (1 + skill) / train_steps * 2)
        log.append({"loss": 0.69 - 0.3 * progress, "learning_rate": 5e-4, "step": step})
        log.append(
            {
                "eval_loss": 0.69 - 0.25 * progress * min(skill, 2) / 2,
                f"eval_{spec['headline']}": values[spec["headline"]] * progress,
                "epoch": step / train_steps * 3,
                "step": step,
            }
        )
    train_seconds = round(0.02 * train_steps * (1.3 if variant == "scratch" else 1.0), 3)
    grid.histories.append(
        write_json(
            finetune / "history.json",
            {
                "log_history": log,
                "train_seconds": train_seconds,
                "train_steps": train_steps,
                "best_step": log[-1]["step"],
                "eval_steps": eval_every,
                "val_metrics": {spec["headline"]: log[-1][f"eval_{spec['headline']}"]},
                "n_train": n_train,
                "throughput": THROUGHPUT,
                **_long_sequences(spec, n_train),
            },
        )
    )
    grid.metrics.append(
        write_json(
            grid.cell_dir("eval", task, variant, fraction, seed) / "metrics.json",
            {
                "task": task,
                "model": model_of(variant),
                "variant": variant,
                "label_fraction": fraction,
                "seed": seed,
                "type": spec["type"],
                "n_test": n,
                "train_seconds": train_seconds,
                "train_steps": train_steps,
                "headline": spec["headline"],
                "metrics": {
                    name: {"value": float(v), "ci_low": float(v) - 0.05, "ci_high": float(v) + 0.05}
                    for name, v in values.items()
                },
            },
        )
    )


def _long_sequences(spec: dict, n_train: int) -> dict:
    """history.json's counts of sequences over the model's 160 tokens: binary tasks have some."""
    long = {"train": n_train // 10, "val": 3, "test": 5} if spec["type"] == "binary" else {}
    long = {split: long.get(split, 0) for split in ("train", "val", "test")}
    return {
        "max_length": 160,
        "long_sequences": "truncate",
        "long": long,
        "truncated": long,
        "windows": {split: 0 for split in long},
    }


# a run's throughput record (dnatune.train.throughput), as on a CPU: no GPU figures
THROUGHPUT = {
    "stage": "finetune",
    "tokens_per_second": 5120.0,
    "samples_per_second": 40.0,
    "padding_fraction": 0.125,
    "real_tokens": 7000,
    "positions": 8000,
    "peak_rss_mb": 1250.0,
    "peak_gpu_mb": None,
    "mfu": None,
}


def _benchmarks(grid: Grid) -> None:
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for rule, jobs in (("pretrain", [("tiny",)]), ("finetune", list(grid.cells()))):
        for i, parts in enumerate(jobs):
            path = grid.benchmark_dir / rule / ("/".join(str(p) for p in parts) + ".tsv")
            path.parent.mkdir(parents=True, exist_ok=True)
            seconds = 12.5 + i
            path.write_text(
                header + f"{seconds}\t0:00:12\t{300 + i}\t900\t280\t290\t1\t2\t95\t11\n"
            )
