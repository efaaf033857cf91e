"""The self-contained HTML report: what transfer learning bought, task by task.

The report only renders: the statistics (transfer gains, ROC/PR points, confusion
counts) come precomputed from the stats stage (dnatune.stats.tables), the page from the
Jinja2 templates in templates/ with autoescaping. Everything is inline (CSS
in a <style> block, figures as base64 PNG data URIs, no scripts), so the file opens
offline and survives being mailed around.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd

from dnatune.atomic import atomic_path
from dnatune.evaluate.readers import CellKey, cell_key_from_path, long_sequences, read_history
from dnatune.evaluate.readers import read_json as read_input_json
from dnatune.evaluate.summary import read_summary
from dnatune.report.formatting import Figures, Styled, fmt_int
from dnatune.report.overview import config_hash, overview
from dnatune.report.tasks import ReportData, task_order, task_section
from dnatune.report.tracks import track_section
from dnatune.report.variants import variant_section
from dnatune.stats.tables import (
    StatsPaths,
    read_cells,
    read_claims,
    read_confusion,
    read_tasks,
    read_transfer,
)
from dnatune.stats.verdicts import detectable_factor

logger = logging.getLogger(__name__)

TITLE = "dnatune: what transfer learning bought"


@dataclass
class ReportInputs:
    """Paths the report reads: the summary, the stats tables, and what it shows as is."""

    summary_tsv: str
    stats: StatsPaths
    histories: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    corpus_stats: list[str] = field(default_factory=list)
    model_dirs: list[str] = field(default_factory=list)
    pretrain_dirs: list[str] = field(default_factory=list)
    task_meta: list[str] = field(default_factory=list)
    benchmark_dir: str | None = None
    variant_auroc: list[str] = field(default_factory=list)
    track_validation: list[str] = field(default_factory=list)  # tracks.tsv and its figure


def templates() -> jinja2.Environment:
    """The report's templates (package data), every value escaped unless marked safe."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dnatune.report.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.tests["styled"] = lambda value: isinstance(value, Styled)
    return env


def read_report_data(inputs: ReportInputs) -> ReportData:
    histories = {cell_key_from_path(p): read_history(p) for p in inputs.histories}
    task_meta = {}
    for path in inputs.task_meta:
        data = read_input_json(path, "task meta.json")
        task_meta[data.get("task", Path(path).parent.name)] = data
    return ReportData(
        summary=read_summary(inputs.summary_tsv),
        tasks=read_tasks(inputs.stats.tasks),
        transfer=read_transfer(inputs.stats.transfer),
        curves=pd.read_parquet(inputs.stats.curves),
        confusion=read_confusion(inputs.stats.confusion),
        cells=read_cells(inputs.stats.cells),
        histories=histories,
        long_sequences=long_sequences(histories),
        task_meta=task_meta,
        claims=read_claims(inputs.stats.claims),
    )


def build_report(
    inputs: ReportInputs,
    config: Mapping,
    title: str = TITLE,
    n_boot: int = 1000,
    confidence: float = 0.95,
) -> tuple[str, dict[str, bytes]]:
    """(html, figures by name) for the given inputs.

    `config` is the configuration the report shows (and hashes); `n_boot` and
    `confidence` are the stats stage's settings, named in captions and headers.
    """
    data = read_report_data(inputs)
    figures = Figures()
    tasks = task_order(config.get("tasks", {}), data.tasks["task"])
    page = (
        templates()
        .get_template("report.html.j2")
        .render(
            title=title,
            n_cells=fmt_int(len(data.summary.drop_duplicates(list(CellKey._fields)))),
            config_hash=config_hash(config)[:12],
            overview=overview(inputs, config, figures),
            sections=[task_section(t, data, figures) for t in tasks],
            tracks=track_section(inputs.track_validation, figures),
            level=f"{confidence * 100:g}%",
            alpha=f"{1 - confidence:.2g}",
            n_comparisons=int(data.claims["q_value"].notna().sum()),
            detect_factor=f"{detectable_factor(confidence):.2f}",
            n_boot=n_boot,
            variants=variant_section(inputs.variant_auroc),
        )
    )
    return page, figures.pngs


def write_report(
    inputs: ReportInputs,
    out_html: str | Path,
    config: Mapping,
    figures_dir: str | Path | None = None,
    title: str = TITLE,
    n_boot: int = 1000,
    confidence: float = 0.95,
    claims_copy: str | Path | None = None,
) -> str:
    """Write report.html (and optionally the figures as PNG files, and the stats stage's
    claims.tsv copied to `claims_copy`, beside summary.tsv); returns the page."""
    page, figures = build_report(inputs, config, title, n_boot, confidence)
    if claims_copy is not None:
        with atomic_path(claims_copy) as tmp:
            shutil.copyfile(inputs.stats.claims, tmp)
    if figures_dir is not None:
        with atomic_path(figures_dir, directory=True) as tmp:
            for name, png in figures.items():
                (tmp / f"{name}.png").write_bytes(png)
    with atomic_path(out_html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    logger.info(
        "report: %d task(s), %d figures, %.0f kB -> %s",
        page.count('<section id="task-'),
        len(figures),
        len(page) / 1024,
        out_html,
    )
    return page
