"""The report's "Data and models" section: the rows of its tables, read from the stage outputs.

Each function returns rows of plain-text cells (report_format); the words, headers
and markup live in templates/overview.html.j2.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import platform
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml

from dnatune.evaluate.readers import (
    benchmark_times,
    corpus_stats,
    model_info,
    read_history,
    read_manifest,
    read_pretrain_summary,
    read_trainer_state,
    window_counts,
)
from dnatune.report import plots
from dnatune.report.formatting import (
    DASH,
    Figure,
    Figures,
    Styled,
    fmt,
    fmt_bases,
    fmt_int,
    fmt_params,
    fmt_percent,
    fmt_rate,
    is_missing,
)

SOFTWARE = ("torch", "transformers", "datasets", "tokenizers", "peft", "snakemake", "dnatune")


@dataclass
class Overview:
    genomes: list[list]
    windows: list[list]
    corpus: list[list]
    models: list[list]
    pretraining: list[list] | None  # None: nothing was pre-trained
    pretraining_loss: Figure | None
    run_times: list[list] | None  # None: no benchmark directory given
    provenance: list[list]
    config_yaml: str


def overview(inputs, config: Mapping, figures: Figures) -> Overview:
    """Everything the section shows, from the ReportInputs `inputs`."""
    pretraining, loss = pretraining_rows(inputs.pretrain_dirs, figures)
    return Overview(
        genomes=[genome_row(read_manifest(p)) for p in inputs.manifests],
        windows=window_rows(inputs.windows),
        corpus=corpus_rows(inputs.corpus_stats),
        models=model_rows(inputs.model_dirs, config),
        pretraining=pretraining,
        pretraining_loss=loss,
        run_times=run_time_rows(
            inputs.benchmark_dir,
            training_throughput(throughput_records(inputs.histories, inputs.pretrain_dirs)),
        ),
        provenance=provenance_rows(config),
        config_yaml=yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=None),
    )


def genome_row(manifest: dict) -> list:
    length = int(manifest["length"])
    return [
        manifest["genome"],
        describe_source(manifest.get("source", "")),
        fmt_int(len(manifest.get("contigs", []))),
        fmt_bases(length),
        fmt_percent(float(manifest["gc_fraction"])),
        f"{int(manifest['n_count']) / max(length, 1) * 100:.2f}",
        fmt_percent(manifest.get("softmasked_fraction")),
        fmt_int(manifest.get("iupac_replaced")),
        Styled(str(manifest.get("sha256", ""))[:12], "code"),
    ]


def describe_source(source) -> str:
    """A manifest's source in words: a URL or path as is, a record as 'kind: key value, ...'."""
    if not isinstance(source, dict):
        return str(source)
    kind = source.get("kind", "")
    details = ", ".join(
        str(v) if k in ("url", "path") else f"{k} {v}" for k, v in source.items() if k != "kind"
    )
    return f"{kind}: {details}" if kind and details else kind or details


def window_rows(paths) -> list[list]:
    rows = []
    for path in paths:
        counts = window_counts(path)
        rows.append(
            [Path(path).parent.name, *(fmt_int(counts[s]) for s in ("train", "val", "test"))]
        )
    return rows


def corpus_rows(paths) -> list[list]:
    rows = []
    for path in paths:
        corpus_dir = Path(path) if Path(path).is_dir() else Path(path).parent
        stats = corpus_stats(path)
        for split in stats.index:
            counts = (fmt_int(stats.loc[split].get(c)) for c in ("windows", "tokens", "bases"))
            rows.append([corpus_dir.parent.name, corpus_dir.name, split, *counts])
    return rows


def model_rows(model_dirs, config: Mapping) -> list[list]:
    rows = []
    for path in model_dirs:
        name = Path(path).parent.name
        info = model_info(path)
        spec = config.get("models", {}).get(name, {})
        rows.append(
            [
                name,
                f"hub: {spec['hf']}" if "hf" in spec else "architecture spec (random init)",
                info["architecture"],
                fmt_int(info["layers"]),
                fmt_int(info["hidden"]),
                fmt_params(info["parameters"]),
                info["tokenizer"] or DASH,
                fmt_int(info["vocab_size"]),
            ]
        )
    return rows


def pretraining_rows(pretrain_dirs, figures: Figures) -> tuple[list[list] | None, Figure | None]:
    """(losses per pre-trained model, loss curves), or (None, None) when none was pre-trained."""
    states = {}
    for path in pretrain_dirs:
        state = read_trainer_state(path)
        if state is not None:
            states[(Path(path).parent.name, Path(path).name)] = state["log_history"]
    if not states:
        return None, None
    rows = []
    for path in pretrain_dirs:
        summary = read_pretrain_summary(path)
        if summary is not None:
            rows.append(pretraining_row(Path(path), summary))
    png = plots.pretraining_curves(states)
    return rows, figures.add("pretraining_loss", png, "pre-training loss curves")


def pretraining_row(model_dir: Path, summary: dict) -> list:
    val, reference = summary.get("eval_loss"), summary.get("val_unigram_entropy")
    below = None if val is None or reference is None else reference - val
    return [
        model_dir.parent.name,
        model_dir.name,
        summary.get("objective", DASH),
        fmt_int(summary.get("global_step")),
        fmt(summary.get("final_train_loss")),
        fmt(val),
        fmt(reference),
        DASH if below is None else f"{below:+.3f}",
    ]


def run_time_rows(benchmark_dir, training: Mapping[str, dict] | None = None) -> list[list] | None:
    """Time and memory per rule; for a training rule also its throughput (training_throughput)."""
    if not benchmark_dir:
        return None
    rows = []
    for r in benchmark_times(benchmark_dir).itertuples():
        speed = (training or {}).get(r.rule, {})
        rss = max(r.max_rss_mb, speed.get("peak_rss_mb", math.nan))
        rows.append(
            [
                r.rule,
                fmt_int(r.jobs),
                f"{r.total_s:.1f}",
                f"{r.max_s:.1f}",
                DASH if math.isnan(rss) else f"{rss:.0f}",
                fmt_rate(speed.get("tokens_per_second")),
                fmt_rate(speed.get("samples_per_second")),
                fmt_percent(speed.get("padding_fraction")),
                fmt_rate(speed.get("peak_gpu_mb")),
                fmt_percent(speed.get("mfu")),
            ]
        )
    return rows


def training_throughput(records: list[dict]) -> dict[str, dict]:
    """Per training stage (rule): the medians of its jobs' tokens/s, samples/s and MFU, the
    padding of all their batches together, and the peak memory of the largest job.

    `records` are the runs' throughput records (dnatune.train.throughput); empty ones (a job
    that only finished a run killed after its last step) are left out.
    """
    stages: dict[str, list[dict]] = {}
    for record in records:
        if record and record.get("stage"):
            stages.setdefault(record["stage"], []).append(record)
    summary = {}
    for stage, runs in stages.items():
        positions = sum(r.get("positions") or 0 for r in runs)
        real = sum(r.get("real_tokens") or 0 for r in runs)
        summary[stage] = {
            **{
                key: _median(r.get(key) for r in runs)
                for key in ("tokens_per_second", "samples_per_second", "mfu")
            },
            "padding_fraction": 1 - real / positions if positions else None,
            "peak_rss_mb": _maximum(r.get("peak_rss_mb") for r in runs) or math.nan,
            "peak_gpu_mb": _maximum(r.get("peak_gpu_mb") for r in runs),
        }
    return summary


def throughput_records(histories, pretrain_dirs) -> list[dict]:
    """The throughput records of the fine-tuning histories and the pre-training summaries."""
    records = [read_history(path).get("throughput") for path in histories]
    summaries = (read_pretrain_summary(path) for path in pretrain_dirs)
    records += [summary.get("throughput") for summary in summaries if summary]
    return [record for record in records if isinstance(record, dict)]


def _median(values) -> float | None:
    present = [v for v in values if not is_missing(v)]
    return statistics.median(present) if present else None


def _maximum(values) -> float | None:
    present = [v for v in values if not is_missing(v)]
    return max(present) if present else None


def config_hash(config: Mapping) -> str:
    """sha256 of the config as canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance_rows(config: Mapping) -> list[list]:
    rows = [["config sha256", Styled(config_hash(config), "code")]]
    rows += [[k, v] for k, v in software_versions().items()]
    rows.append(["generated", dt.datetime.now().astimezone().isoformat(timespec="seconds")])
    return rows
