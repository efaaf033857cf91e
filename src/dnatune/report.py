"""The self-contained HTML report: what transfer learning bought, task by task.

Everything is inline (CSS in a <style> block, figures as base64 PNG data URIs,
no scripts), so the file opens offline and survives being mailed around.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
import math
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from string import Template

import pandas as pd
import yaml

from dnatune import plots
from dnatune.atomic import atomic_path
from dnatune.metrics import greater_is_better
from dnatune.report_inputs import (
    CellKey,
    benchmark_times,
    cell_key_from_path,
    corpus_stats,
    long_sequences,
    read_history,
    read_json,
    read_manifest,
    read_metrics,
    read_pretrain_summary,
    read_test_predictions,
    read_trainer_state,
    window_counts,
)
from dnatune.report_inputs import model_info as read_model_info
from dnatune.summary import VARIANT_ORDER, read_summary
from dnatune.transfer import display_name, transfer_gains, write_transfer

logger = logging.getLogger(__name__)

SOFTWARE = ("torch", "transformers", "datasets", "tokenizers", "peft", "snakemake", "dnatune")
GLOSSARY = {
    "MCC": "Matthews correlation coefficient: −1 to 1, 0 is chance; robust to unbalanced classes.",
    "AUROC": "area under the ROC curve: probability that a random positive scores above a "
    "random negative; 0.5 is chance.",
    "AUPRC": "area under the precision-recall curve (average precision); chance equals the "
    "fraction of positives.",
    "F1": "harmonic mean of precision and recall.",
    "label fraction": "share of the training set whose labels the model was fine-tuned on; "
    "validation and test sets are always complete.",
    "seed": "one repetition of fine-tuning with a different random initialisation of the "
    "classification head, data order and label subsample.",
    "CI": "confidence interval; for the transfer gain, a paired bootstrap over seeds and test "
    "sequences.",
}


@dataclass
class ReportInputs:
    """Paths the report reads; every list may be empty except `metrics`."""

    summary_tsv: str
    metrics: list[str]
    histories: list[str] = field(default_factory=list)
    predictions: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    corpus_stats: list[str] = field(default_factory=list)
    model_dirs: list[str] = field(default_factory=list)
    pretrain_dirs: list[str] = field(default_factory=list)
    task_meta: list[str] = field(default_factory=list)
    benchmark_dir: str | None = None


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


# ---------------------------------------------------------------- formatting helpers


def esc(value) -> str:
    return html.escape(str(value))


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return esc(value)


def fmt_int(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{int(value):,}"


def fmt_p(value) -> str:
    if value is None or math.isnan(value):
        return "–"
    return "&lt;0.001" if value < 0.001 else f"{value:.2g}"


def fmt_params(n: int | None) -> str:
    if not n:
        return "–"
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n:,}"


def fmt_bases(n: int) -> str:
    for unit, size in (("Gb", 1e9), ("Mb", 1e6), ("kb", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} bp"


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], caption: str = "") -> str:
    """An HTML table; cells are already-escaped HTML."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(png: bytes | None, alt: str, caption: str) -> str:
    if png is None:
        return f'<p class="missing">{esc(alt)}: no data to plot.</p>'
    return (
        f'<figure><img src="{plots.to_data_uri(png)}" alt="{esc(alt)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


# ---------------------------------------------------------------- the report


class _Report:
    def __init__(self, inputs: ReportInputs, config: Mapping, n_boot, confidence, seed):
        self.inputs, self.config = inputs, config
        self.n_boot, self.confidence, self.seed = n_boot, confidence, seed
        self.summary = read_summary(inputs.summary_tsv)
        self.metrics = {}
        for path in inputs.metrics:
            data = read_metrics(path)
            self.metrics.setdefault(data["task"], data)  # headline and type per task
        self.headlines = {t: d["headline"] for t, d in self.metrics.items()}
        self.task_types = {t: d["type"] for t, d in self.metrics.items()}
        self.histories = {cell_key_from_path(p): read_history(p) for p in inputs.histories}
        self.long_sequences = long_sequences(self.histories)
        self.prediction_paths = {cell_key_from_path(p): p for p in inputs.predictions}
        self.task_meta = {}
        for path in inputs.task_meta:
            data = read_json(path, "task meta.json")
            self.task_meta[data.get("task", Path(path).parent.name)] = data
        self.figures: dict[str, bytes] = {}
        self.level = f"{confidence * 100:g}%"

    def add_figure(self, name: str, png: bytes | None) -> bytes | None:
        if png is not None:
            self.figures[name] = png
        return png

    # ------------------------------------------------------------ overview

    def genomes(self) -> str:
        rows = []
        for path in self.inputs.manifests:
            m = read_manifest(path)
            length = int(m["length"])
            rows.append(
                [
                    esc(m["genome"]),
                    esc(describe_source(m.get("source", ""))),
                    fmt_int(len(m.get("contigs", []))),
                    fmt_bases(length),
                    f"{float(m['gc_fraction']) * 100:.1f}",
                    f"{int(m['n_count']) / max(length, 1) * 100:.2f}",
                    _percent_or_dash(m.get("softmasked_fraction")),
                    fmt_int(m.get("iupac_replaced")),
                    f"<code>{esc(str(m.get('sha256', ''))[:12])}</code>",
                ]
            )
        if not rows:
            return "<p>No genome manifests were given.</p>"
        return table(
            [
                "genome",
                "source",
                "sequences",
                "size",
                "GC (%)",
                "N (%)",
                "soft-masked (%)",
                "non-ACGTN bases replaced",
                "sha256",
            ],
            rows,
        )

    def corpus(self) -> str:
        parts = []
        rows = []
        for path in self.inputs.windows:
            genome = Path(path).parent.name
            counts = window_counts(path)
            rows.append([esc(genome), *(fmt_int(counts[s]) for s in ("train", "val", "test"))])
        if rows:
            parts.append(
                table(
                    ["genome", "train windows", "val windows", "test windows"],
                    rows,
                    "Genome windows per split, from windows.parquet.",
                )
            )
        rows = []
        for path in self.inputs.corpus_stats:
            corpus_dir = Path(path) if Path(path).is_dir() else Path(path).parent
            genome, tokenizer = corpus_dir.parent.name, corpus_dir.name
            stats = corpus_stats(path)
            for split in stats.index:
                rows.append(
                    [
                        esc(genome),
                        esc(tokenizer),
                        esc(split),
                        *(
                            fmt_int(stats.loc[split].get(col))
                            for col in ("windows", "tokens", "bases")
                        ),
                    ]
                )
        if rows:
            parts.append(
                table(
                    ["genome", "tokenizer", "split", "windows", "tokens", "bases"],
                    rows,
                    "Pre-training corpus: tokenized windows per split.",
                )
            )
        return "".join(parts) or "<p>No windows or corpus statistics were given.</p>"

    def models(self) -> str:
        rows = []
        for path in self.inputs.model_dirs:
            name = Path(path).parent.name
            info = read_model_info(path)
            spec = self.config.get("models", {}).get(name, {})
            source = f"hub: {spec['hf']}" if "hf" in spec else "architecture spec (random init)"
            params = info["parameters"]
            rows.append(
                [
                    esc(name),
                    esc(source),
                    esc(info["architecture"]),
                    fmt_int(info["layers"]),
                    fmt_int(info["hidden"]),
                    fmt_params(params),
                    esc(info["tokenizer"] or "–"),
                    fmt_int(info["vocab_size"]),
                ]
            )
        if not rows:
            return "<p>No model directories were given.</p>"
        return table(
            [
                "model",
                "source",
                "architecture",
                "layers",
                "hidden size",
                "parameters",
                "tokenizer",
                "vocabulary",
            ],
            rows,
            "Parameters are counted from the stored weights of the base model directory.",
        )

    def pretraining(self) -> str:
        states = {}
        for path in self.inputs.pretrain_dirs:
            state = read_trainer_state(path)
            if state is not None:
                states[(Path(path).parent.name, Path(path).name)] = state["log_history"]
        if not states:
            return "<p>No model was pre-trained in this run.</p>"
        png = self.add_figure("pretraining_loss", plots.pretraining_curves(states))
        return self.pretraining_table() + figure(
            png,
            "pre-training loss curves",
            "Pre-training loss per step (masked or causal language modelling). A falling "
            "validation loss means the model learns regularities of the genome that carry "
            "over to unseen chromosomes; a validation loss rising while training loss falls "
            "means overfitting.",
        )

    def pretraining_table(self) -> str:
        rows = []
        for path in self.inputs.pretrain_dirs:
            summary = read_pretrain_summary(path)
            if summary is None:
                continue
            val, reference = summary.get("eval_loss"), summary.get("val_unigram_entropy")
            below = None if val is None or reference is None else reference - val
            rows.append(
                [
                    esc(Path(path).parent.name),
                    esc(Path(path).name),
                    esc(summary.get("objective", "–")),
                    fmt_int(summary.get("global_step")),
                    fmt(summary.get("final_train_loss")),
                    fmt(val),
                    fmt(reference),
                    "–" if below is None else f"{below:+.3f}",
                ]
            )
        if not rows:
            return ""
        return table(
            [
                "model",
                "stage",
                "objective",
                "steps",
                "final train loss",
                "val loss",
                "val unigram entropy",
                "learnt beyond composition",
            ],
            rows,
            "Losses in nats per token. The reference is the unigram entropy of the validation "
            "tokens (special tokens left out): the loss of a model that knows only how often "
            "each token occurs, e.g. the base composition for one token per base. A val loss "
            "below it (a positive last column) is what the model learnt from context.",
        )

    def run_times(self) -> str:
        if not self.inputs.benchmark_dir:
            return "<p>No benchmark directory was given.</p>"
        times = benchmark_times(self.inputs.benchmark_dir)
        if times.empty:
            return "<p>No benchmark files yet (they appear after the workflow's jobs ran).</p>"
        rows = [
            [
                esc(r.rule),
                fmt_int(r.jobs),
                f"{r.total_s:.1f}",
                f"{r.max_s:.1f}",
                "–" if math.isnan(r.max_rss_mb) else f"{r.max_rss_mb:.0f}",
            ]
            for r in times.itertuples()
        ]
        return table(
            ["stage (rule)", "jobs", "total time (s)", "longest job (s)", "peak memory (MB)"],
            rows,
            "Wall-clock time per workflow stage, from Snakemake's benchmark files.",
        )

    def provenance(self) -> str:
        versions = software_versions()
        rows = [["config sha256", f"<code>{config_hash(self.config)}</code>"]]
        rows += [[esc(k), esc(v)] for k, v in versions.items()]
        rows.append(
            ["generated", esc(dt.datetime.now().astimezone().isoformat(timespec="seconds"))]
        )
        config_text = yaml.safe_dump(dict(self.config), sort_keys=False, default_flow_style=None)
        return (
            table(["item", "value"], rows)
            + "<details><summary>full configuration (with defaults filled in)</summary>"
            + f"<pre>{esc(config_text)}</pre></details>"
        )

    # ------------------------------------------------------------ per task

    def verdict_list(self, transfer: pd.DataFrame) -> str:
        if transfer.empty:
            return "<p>No pre-trained variant to compare with scratch.</p>"
        items = "".join(
            f'<li class="{esc(r.evidence)}"><b>{esc(r.model)}</b>: {esc(r.verdict)}</li>'
            for r in transfer.itertuples()
        )
        return f'<ul class="verdicts">{items}</ul>'

    def transfer_table(self, transfer: pd.DataFrame) -> str:
        if transfer.empty:
            return ""
        rows = [
            [
                esc(r.model),
                f"{esc(r.variant)} − scratch",
                plots.percent(r.label_fraction),
                f"{r.gain:+.3f}",
                f"{fmt(r.ci_low)} to {fmt(r.ci_high)}",
                fmt_p(r.p_bootstrap),
                fmt_p(r.p_ttest),
                f"{r.seeds_better} of {r.n_seeds}",
                f'<span class="{esc(r.evidence)}">{esc(r.evidence)}</span>',
            ]
            for r in transfer.itertuples()
        ]
        metric = display_name(transfer["metric"].iloc[0])
        return table(
            [
                "model",
                "comparison",
                "labels used",
                f"gain in {esc(metric)}",
                f"{self.level} CI",
                "p (bootstrap)",
                "p (paired t-test, seeds)",
                "seeds better",
                "evidence",
            ],
            rows,
            f"Transfer gain: {esc(metric)} of the pre-trained variant minus scratch, averaged "
            "over the seeds both share. The CI and the bootstrap p-value come from a paired "
            f"bootstrap ({self.n_boot} resamples) that redraws test sequences, scoring both "
            "variants on the same draw, and redraws seeds, so it covers test-set and training "
            "noise. The t-test compares the seeds' paired values on this one test set; with "
            "2-3 seeds it has little power. Evidence: helps or hurts when the CI excludes 0 "
            "and every seed agrees.",
        )

    def metric_table(self, task: str) -> str:
        rows = self.summary[self.summary["task"] == task]
        headline = self.headlines[task]
        metric_names = [headline] + sorted(set(rows["metric"]) - {headline})
        out = []
        groups = rows.groupby(["model", "variant", "label_fraction"], sort=False)
        ordered = sorted(groups.groups, key=lambda k: (k[0], VARIANT_ORDER.get(k[1], 9), k[2]))
        for model, variant, fraction in ordered:
            group = groups.get_group((model, variant, fraction))
            cells = []
            for metric in metric_names:
                values = group[group["metric"] == metric]["value"]
                sd = values.std(ddof=1) if len(values) > 1 else math.nan
                cells.append(fmt(values.mean()) + ("" if math.isnan(sd) else f" ± {fmt(sd)}"))
            head = group[group["metric"] == headline]
            ci = f"{fmt(head['ci_low'].mean())} to {fmt(head['ci_high'].mean())}"
            best = [
                self.histories[k].get("best_step")
                for k in self.histories
                if k[:4] == (task, model, variant, fraction)
            ]
            best = [b for b in best if b is not None]
            first = group.drop_duplicates("seed")
            out.append(
                [
                    esc(model),
                    esc(plots.variant_label(variant)),
                    plots.percent(fraction),
                    fmt_int(group["seed"].nunique()),
                    *cells[:1],
                    ci,
                    *cells[1:],
                    fmt(first["train_seconds"].mean(), 1),
                    fmt(float(pd.Series(best, dtype=float).mean()), 0) if best else "–",
                ]
            )
        headers = [
            "model",
            "variant",
            "labels used",
            "seeds",
            f"<b>{esc(display_name(headline))}</b>",
            f"{self.level} CI of one run",
            *(esc(display_name(m)) for m in metric_names[1:]),
            "train time (s)",
            "best step",
        ]
        return table(
            headers,
            out,
            "Test-set metrics, mean ± sd across seeds. The CI column is the bootstrap interval "
            "over test sequences of a single run, averaged over seeds. Best step: the "
            "validation checkpoint kept by early stopping (lower = converged sooner).",
        )

    def task_section(self, task: str, transfer: pd.DataFrame) -> str:
        metric, task_type = self.headlines[task], self.task_types[task]
        name = display_name(metric)
        parts = [f'<section id="task-{esc(task)}"><h2>Task: {esc(task)}</h2>']
        parts.append(self.task_description(task))
        parts.append("<h3>Verdict</h3>" + self.verdict_list(transfer))
        parts.append(self.transfer_table(transfer))
        parts.append("<h3>Metrics</h3>" + self.metric_table(task))
        parts.append("<h3>Data efficiency: less labelled data?</h3>")
        png = self.add_figure(
            f"{task}_data_efficiency", plots.data_efficiency(self.summary, task, metric)
        )
        parts.append(
            figure(
                png,
                f"{task} data efficiency",
                f"Test {esc(name)} as a function of how many training labels the model saw "
                "(error bars: ± 1 sd across seeds). A pre-trained curve that sits above scratch "
                "at small label fractions means pre-training substitutes for labelled data.",
            )
        )
        models = sorted(self.summary[self.summary["task"] == task]["model"].unique())
        parts.append("<h3>Convergence: faster learning?</h3>")
        for model in models:
            histories = {
                (k.variant, k.label_fraction, k.seed): h["log_history"]
                for k, h in self.histories.items()
                if k.task == task and k.model == model
            }
            png = (
                self.add_figure(
                    f"{task}_{model}_convergence",
                    plots.convergence(histories, task, model, metric),
                )
                if histories
                else None
            )
            parts.append(
                figure(
                    png,
                    f"{task} {model} convergence",
                    "Validation loss (and metric, when logged) during fine-tuning, one line per "
                    "seed. Curves that drop sooner converge faster; the x axis counts optimiser "
                    "steps (batches), which differ between label fractions.",
                )
            )
        if task_type in ("binary", "multiclass"):
            parts.append(self.prediction_figures(task, models, task_type))
        parts.append("</section>")
        return "".join(parts)

    def prediction_figures(self, task: str, models, task_type: str) -> str:
        parts = []
        meta = self.task_meta.get(task, {})
        for model in models:
            cells = {
                (k.variant, k.label_fraction, k.seed): p
                for k, p in self.prediction_paths.items()
                if k.task == task and k.model == model
            }
            if not cells:
                continue
            preds = {k: read_test_predictions(p, task_type) for k, p in sorted(cells.items())}
            if task_type == "binary":
                png = self.add_figure(f"{task}_{model}_roc_pr", plots.roc_pr(preds, task, model))
                parts.append(
                    "<h3>ROC and precision-recall curves</h3>"
                    + figure(
                        png,
                        f"{task} {model} ROC and PR curves",
                        "Left: sensitivity vs false positive rate over all score thresholds "
                        "(dotted: chance). Right: precision vs recall (dotted: the share of "
                        "positives, what random guessing reaches). Legend: AUROC mean ± sd "
                        "over seeds.",
                    )
                )
            png = self.add_figure(
                f"{task}_{model}_confusion",
                plots.confusion(preds, task, model, task_type, meta.get("label_names")),
            )
            parts.append(
                "<h3>Confusion matrix</h3>"
                + figure(
                    png,
                    f"{task} {model} confusion matrices",
                    "Rows: true class, columns: predicted class; each cell gives the share of "
                    "the true class (%) and the count, test predictions pooled over seeds.",
                )
            )
        return "".join(parts)

    def task_description(self, task: str) -> str:
        meta = self.task_meta.get(task, {})
        data = self.metrics[task]
        items = [
            f"type: <b>{esc(data['type'])}</b>",
            f"headline metric: <b>{esc(display_name(data['headline']))}</b> "
            f"({'higher' if greater_is_better(data['headline']) else 'lower'} is better)",
            f"test sequences: <b>{fmt_int(data.get('n_test'))}</b>",
        ]
        if meta.get("counts"):
            counts = ", ".join(f"{esc(k)} {fmt_int(v)}" for k, v in meta["counts"].items())
            items.append(f"examples per split: {counts}")
        if meta.get("label_names"):
            items.append("classes: " + ", ".join(esc(n) for n in meta["label_names"]))
        if meta.get("split_method"):
            items.append(f"split: {esc(meta['split_method'])}")
        items += [
            self.long_sequence_fact(model, counts)
            for (name, model), counts in sorted(self.long_sequences.items())
            if name == task and any(counts["long"].values())
        ]
        text = "<ul class='facts'>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
        if meta.get("warnings"):
            text += (
                "<p class='warning'>Input warnings: "
                + "; ".join(esc(w) for w in meta["warnings"])
                + "</p>"
            )
        return text

    @staticmethod
    def long_sequence_fact(model: str, counts: dict) -> str:
        """'tiny: train 48, val 24, test 24 sequences longer than its 160 tokens, truncated'."""
        per_split = ", ".join(f"{esc(s)} {fmt_int(n)}" for s, n in counts["long"].items())
        fact = (
            f"<b>{esc(model)}</b>: {per_split} sequences longer than its input of "
            f"{fmt_int(counts['max_length'])} tokens, "
        )
        if counts["mode"] != "slide":
            return fact + "truncated (only their start was seen)"
        clipped = sum(counts["truncated"].values())
        windows = sum(counts["windows"].values())
        return (
            fact
            + f"slid over in {fmt_int(windows)} overlapping windows"
            + (f", of which {fmt_int(clipped)} truncated" if clipped else "")
        )

    # ------------------------------------------------------------ assembly

    def build(self, title: str) -> tuple[str, pd.DataFrame]:
        predictions = {k: p for k, p in self.prediction_paths.items()}
        transfer = transfer_gains(
            self.summary,
            self.headlines,
            self.task_types,
            predictions,
            n_boot=self.n_boot,
            confidence=self.confidence,
            seed=self.seed,
        )
        configured = list(self.config.get("tasks", {}))
        tasks = sorted(
            self.headlines, key=lambda t: (t not in configured, _index(configured, t), t)
        )
        glance = "".join(
            f"<h3>{esc(t)}</h3>" + self.verdict_list(transfer[transfer["task"] == t]) for t in tasks
        )
        sections = "".join(self.task_section(t, transfer[transfer["task"] == t]) for t in tasks)
        nav = "".join(f'<li><a href="#task-{esc(t)}">{esc(t)}</a></li>' for t in tasks)
        glossary = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in GLOSSARY.items())
        page = PAGE.substitute(
            title=esc(title),
            style=STYLE,
            n_cells=fmt_int(len(self.summary.drop_duplicates(list(CellKey._fields)))),
            config_hash=config_hash(self.config)[:12],
            nav=nav,
            glance=glance,
            genomes=self.genomes(),
            corpus=self.corpus(),
            models=self.models(),
            pretraining=self.pretraining(),
            run_times=self.run_times(),
            provenance=self.provenance(),
            sections=sections,
            glossary=glossary,
        )
        return page, transfer


def build_report(
    inputs: ReportInputs,
    config: Mapping,
    title: str = "dnatune: what transfer learning bought",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[str, pd.DataFrame, dict[str, bytes]]:
    """(html, transfer table, figures by name) for the given inputs."""
    report = _Report(inputs, config, n_boot, confidence, seed)
    page, transfer = report.build(title)
    return page, transfer, report.figures


def write_report(
    inputs: ReportInputs,
    out_html: str | Path,
    config: Mapping,
    transfer_tsv: str | Path | None = None,
    figures_dir: str | Path | None = None,
    title: str = "dnatune: what transfer learning bought",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Write report.html (and optionally transfer.tsv and the figures as PNG files)."""
    page, transfer, figures = build_report(inputs, config, title, n_boot, confidence, seed)
    if transfer_tsv is not None:
        write_transfer(transfer, transfer_tsv)
    if figures_dir is not None:
        with atomic_path(figures_dir, directory=True) as tmp:
            for name, png in figures.items():
                (tmp / f"{name}.png").write_bytes(png)
    with atomic_path(out_html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    logger.info(
        "report: %d task(s), %d comparison(s), %d figures, %.0f kB -> %s",
        transfer["task"].nunique(),
        len(transfer),
        len(figures),
        len(page) / 1024,
        out_html,
    )
    return transfer


def describe_source(source) -> str:
    """A manifest's source in words: a URL or path as is, a record as 'kind: key value, ...'."""
    if not isinstance(source, dict):
        return str(source)
    kind = source.get("kind", "")
    details = ", ".join(
        str(v) if k in ("url", "path") else f"{k} {v}" for k, v in source.items() if k != "kind"
    )
    return f"{kind}: {details}" if kind and details else kind or details


def _index(items: list, item) -> int:
    return items.index(item) if item in items else len(items)


def _percent_or_dash(value) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f}"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
max-width:1150px;margin:0 auto;padding:1.5em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;
margin-top:2em}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.8em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eef3f8}tbody tr:nth-child(even){background:#fafafa}
caption{caption-side:bottom;text-align:left;font-size:.9em;color:#555;padding-top:.3em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#444;max-width:60em}
.verdicts li{margin:.2em 0}.helps{color:#00603d}.hurts{color:#a1301a}
.inconclusive,.insufficient{color:#8a5a00}.none{color:#444}
.verdicts li.helps::marker{content:"▲ "}.verdicts li.hurts::marker{content:"▼ "}
.verdicts li.none::marker,.verdicts li.inconclusive::marker{content:"● "}
.subtitle{color:#555}.warning{color:#8a5a00}.missing{color:#8a5a00;font-style:italic}
nav ul{columns:3}code,pre{font-size:.85em;background:#f4f4f4}pre{padding:.6em;overflow:auto}
dt{font-weight:bold}dd{margin:0 0 .4em 1.5em}
"""

PAGE = Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
<header>
<h1>$title</h1>
<p class="subtitle">$n_cells fine-tuning runs · config <code>$config_hash</code> ·
self-contained report, no network needed</p>
</header>
<nav><h2>Contents</h2><ul>
<li><a href="#glance">At a glance</a></li>
<li><a href="#overview">Data and models</a></li>
$nav
<li><a href="#glossary">Glossary</a></li>
</ul></nav>
<section id="glance"><h2>At a glance: did pre-training help?</h2>
<p>Each line compares a pre-trained variant with the same architecture trained from random
weights (scratch), on the task's headline metric.</p>
$glance
</section>
<section id="overview"><h2>Data and models</h2>
<h3>Genomes</h3>$genomes
<h3>Windows and pre-training corpus</h3>$corpus
<h3>Models</h3>$models
<h3>Pre-training</h3>$pretraining
<h3>Run time per stage</h3>$run_times
<h3>Software and configuration</h3>$provenance
</section>
$sections
<section id="glossary"><h2>Glossary</h2><dl>$glossary</dl></section>
</body>
</html>
"""
)
