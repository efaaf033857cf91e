"""Readers for the files the report consumes, with errors that name the file and the fix.

Every stage writes its outputs to the data contract in DESIGN.md; this module
is the one place that reads them back for the summary table, the transfer
statistics and the HTML report.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from dnatune import cell_outputs
from dnatune.cell_outputs import Predictions

logger = logging.getLogger(__name__)

CELL_FILES = {"metrics.json", "history.json", "predictions.parquet"}
METRICS_KEYS = ("task", "model", "variant", "label_fraction", "seed", "type", "headline", "metrics")


class ReportInputError(ValueError):
    """An input file of the report is missing, malformed or inconsistent."""


class CellKey(NamedTuple):
    task: str
    model: str
    variant: str
    label_fraction: float
    seed: int

    @classmethod
    def of_metrics(cls, data: dict) -> CellKey:
        """The cell a metrics.json describes."""
        return cls(
            data["task"],
            data["model"],
            data["variant"],
            float(data["label_fraction"]),
            int(data["seed"]),
        )


def cell_key_from_path(path: str | Path) -> CellKey:
    """Cell of `.../{task}/{model}/{variant}/f{fraction}/s{seed}[/file]` (finetune or eval dir)."""
    path = Path(path)
    cell_dir = path.parent if path.name in CELL_FILES else path
    parts = cell_dir.parts[-5:]
    if len(parts) < 5 or not parts[3].startswith("f") or not parts[4].startswith("s"):
        raise ReportInputError(
            f"{path}: not inside a grid cell directory "
            "'{task}/{model}/{variant}/f{fraction}/s{seed}'"
        )
    try:
        return CellKey(parts[0], parts[1], parts[2], float(parts[3][1:]), int(parts[4][1:]))
    except ValueError:
        raise ReportInputError(
            f"{path}: cannot read the label fraction '{parts[3]}' or seed '{parts[4]}' "
            "from the cell directory names (expected f<number>/s<integer>)"
        ) from None


def read_json(path: str | Path, what: str) -> dict:
    return cell_outputs.read_json(path, what, ReportInputError)


def _require(data: dict, keys, path, what: str) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise ReportInputError(
            f"{path}: {what} lacks the key(s) {', '.join(missing)}; "
            "it was written by an older or foreign version of dnatune, rerun its stage"
        )


def read_metrics(path: str | Path) -> dict:
    """metrics.json of one cell, checked against the contract and against its directory."""
    data = read_json(path, "metrics.json")
    _require(data, METRICS_KEYS, path, "metrics.json")
    if not isinstance(data["metrics"], dict) or not data["metrics"]:
        raise ReportInputError(f"{path}: key 'metrics' must be a non-empty object of metrics")
    for name, entry in data["metrics"].items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise ReportInputError(
                f"{path}: key 'metrics.{name}' must be an object with 'value', 'ci_low', 'ci_high'"
            )
    if data["headline"] not in data["metrics"]:
        raise ReportInputError(
            f"{path}: headline metric '{data['headline']}' is not among its metrics "
            f"({', '.join(data['metrics'])})"
        )
    key = CellKey.of_metrics(data)
    try:
        where = cell_key_from_path(path)
    except ReportInputError:
        where = None
    if where is not None and where != key:
        raise ReportInputError(
            f"{path}: its content describes cell {tuple(key)} but it lies in the directory "
            f"of cell {tuple(where)}; delete it and rerun the evaluation of that cell"
        )
    return data


def read_history(path: str | Path) -> dict:
    data = read_json(path, "history.json")
    _require(data, ("log_history",), path, "history.json")
    if not isinstance(data["log_history"], list):
        raise ReportInputError(f"{path}: key 'log_history' must be a list of log entries")
    return data


def long_sequences(histories: dict[CellKey, dict]) -> dict[tuple[str, str], dict]:
    """Per (task, model): sequences over the model's input per split, as fine-tuning saw them.

    From the history.json of the cell with the largest label fraction (val and test are
    the same in every cell of a model; train shrinks with the fraction). Keys: mode
    (truncate or slide), max_length, and per split: long, truncated, windows.
    """
    found = {}
    for key in sorted(histories, key=lambda k: (-k.label_fraction, k.seed, k.variant)):
        history = histories[key]
        if isinstance(history.get("long"), dict):
            truncated = history.get("truncated")
            found.setdefault(
                (key.task, key.model),
                {
                    "mode": history.get("long_sequences", "truncate"),
                    "max_length": history.get("max_length"),
                    "long": history["long"],
                    "truncated": truncated if isinstance(truncated, dict) else {},
                    "windows": history.get("windows") or {},
                },
            )
    return found


def as_float(value) -> float:
    """JSON number or null -> float (NaN for null/missing)."""
    if value is None:
        return math.nan
    return float(value)


# ---------------------------------------------------------------- predictions


def read_test_predictions(path: str | Path, task_type: str) -> Predictions:
    """The test rows of predictions.parquet: the same arrays metrics.json was computed from."""
    return cell_outputs.read_predictions(path, task_type, ReportInputError)


# ---------------------------------------------------------------- overview inputs


def read_manifest(path: str | Path) -> dict:
    data = read_json(path, "genome manifest.json")
    _require(data, ("genome", "length", "n_count", "gc_fraction"), path, "manifest.json")
    return data


def window_counts(path: str | Path) -> dict[str, int]:
    """Windows per split from windows.parquet."""
    splits = pd.read_parquet(path, columns=["split"])["split"]
    counts = splits.value_counts()
    return {s: int(counts.get(s, 0)) for s in ("train", "val", "test")}


def corpus_stats(path: str | Path) -> pd.DataFrame:
    """stats.json (or a corpus dir holding it) as a table: one row per split.

    Accepts the split-major ({"train": {"tokens": ..}}) and the quantity-major
    ({"tokens": {"train": ..}}) layouts; top-level totals are ignored.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "stats.json"
    data = read_json(path, "corpus stats.json")
    splits = ("train", "val", "test")
    rows = {}
    for split in splits:
        if isinstance(data.get(split), dict):
            rows[split] = {k: v for k, v in data[split].items() if isinstance(v, int | float)}
        else:
            rows[split] = {
                k: v[split]
                for k, v in data.items()
                if isinstance(v, dict) and isinstance(v.get(split), int | float)
            }
    table = pd.DataFrame.from_dict(rows, orient="index")
    if table.empty:
        raise ReportInputError(
            f"{path}: no per-split counts found; expected {{split: {{windows, tokens, bases}}}}"
        )
    return table


def model_info(model_dir: str | Path) -> dict:
    """Architecture, size and tokenizer of a Hugging Face model directory."""
    model_dir = Path(model_dir)
    config = read_json(model_dir / "config.json", "model config.json")
    info = {
        "architecture": config.get("model_type") or ",".join(config.get("architectures", [])),
        "layers": config.get("num_hidden_layers") or config.get("n_layer"),
        "hidden": config.get("hidden_size") or config.get("n_embd") or config.get("d_model"),
        "vocab_size": config.get("vocab_size"),
        "parameters": parameter_count(model_dir),
        "tokenizer": "",
    }
    sidecar = model_dir / "dnatune_tokenizer.json"
    if sidecar.exists():
        spec = read_json(sidecar, "dnatune_tokenizer.json")
        info["tokenizer"] = describe_tokenizer(spec)
    return info


def describe_tokenizer(spec: dict) -> str:
    kind = spec.get("kind", "?")
    if kind == "kmer":
        overlap = "overlapping" if spec.get("overlap", True) else "non-overlapping"
        return f"{overlap} {spec.get('k')}-mers"
    if kind == "char":
        return "one token per base"
    if kind == "bpe":
        return f"BPE, {spec.get('vocab_size', '?')} tokens"
    if kind == "hf":
        return f"the model's own ({spec.get('name') or spec.get('class') or 'hub'})"
    return str(kind)


def parameter_count(model_dir: str | Path) -> int | None:
    """Stored parameters, read from the safetensors headers (no weights are loaded)."""
    from safetensors import safe_open

    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        with safe_open(str(file), framework="numpy") as handle:
            for name in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
                total += int(np.prod(handle.get_slice(name).get_shape()))
    return total


def read_trainer_state(model_dir: str | Path) -> dict | None:
    path = Path(model_dir) / "trainer_state.json"
    if not path.exists():
        logger.warning("%s: no trainer_state.json, pre-training curve left out", model_dir)
        return None
    data = read_json(path, "trainer_state.json")
    _require(data, ("log_history",), path, "trainer_state.json")
    return data


def read_pretrain_summary(model_dir: str | Path) -> dict | None:
    """pretrain_summary.json of a pre-trained model directory (None when absent)."""
    path = Path(model_dir) / "pretrain_summary.json"
    return read_json(path, "pretrain_summary.json") if path.exists() else None


def benchmark_times(benchmark_dir: str | Path) -> pd.DataFrame:
    """Run time per rule from Snakemake's benchmark files (benchmarks/results/<rule>/*.tsv)."""
    records = []
    for path in sorted(Path(benchmark_dir).glob("*/**/*.tsv")):
        rule = path.relative_to(benchmark_dir).parts[0]
        try:
            table = pd.read_csv(path, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            logger.warning("%s: unreadable benchmark file, skipped", path)
            continue
        if "s" not in table.columns or table.empty:
            continue
        rss = table["max_rss"] if "max_rss" in table.columns else pd.Series([math.nan])
        records.append(
            {
                "rule": rule,
                "seconds": float(table["s"].iloc[-1]),
                "max_rss_mb": float(pd.to_numeric(rss, errors="coerce").iloc[-1]),
            }
        )
    columns = ["rule", "jobs", "total_s", "max_s", "max_rss_mb"]
    if not records:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(records)
    table = frame.groupby("rule", sort=True).agg(
        jobs=("seconds", "size"),
        total_s=("seconds", "sum"),
        max_s=("seconds", "max"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    return table.reset_index()[columns]
