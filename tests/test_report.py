"""report.html: self-contained, complete, its numbers taken from the stage outputs.

The HTML structure is checked here (CI); tests/test_report_render.py renders the
same report in headless Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from html.parser import HTMLParser
from importlib import metadata

import pandas as pd
import pytest
from PIL import Image, ImageStat
from report_fixtures import TASKS, WEIGHT_SHAPES, make_grid

from dnatune.report.render import build_report, templates, write_report
from dnatune.report.tasks import long_sequence_fact

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr", "col"}


class Structure(HTMLParser):
    """Tags, image sources, links and nesting errors of an HTML page."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], []
        self.images, self.urls, self.ids = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        for key in ("src", "href"):
            if key in attrs:
                self.urls.append(attrs[key])
        if tag == "img":
            self.images.append(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def parse(page: str) -> Structure:
    parser = Structure()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    grid = make_grid(tmp_path_factory.mktemp("report"), n_test=80)
    transfer = grid.write_summary_and_stats(n_boot=200)
    page, figures = build_report(
        grid.report_inputs(), grid.config, title="fixture <report>", n_boot=200
    )
    return grid, pd.read_csv(grid.summary_tsv, sep="\t"), page, transfer, figures


def test_html_is_well_formed_and_self_contained(built):
    _, _, page, _, _ = built
    structure = parse(page)
    assert structure.errors == [] and structure.stack == []
    assert "script" not in structure.tags and "link" not in structure.tags
    external = [u for u in structure.urls if not u.startswith(("#", "data:image/png;base64,"))]
    assert external == []
    assert "@import" not in page and "url(" not in page  # no fonts or images pulled by CSS
    assert "<title>fixture &lt;report&gt;</title>" in page  # names are escaped


def test_every_figure_is_an_embedded_non_blank_png(built):
    grid, _, page, _, figures = built
    structure = parse(page)
    per_task = {"binary": 4, "multiclass": 3}  # efficiency, convergence, confusion (+ ROC/PR)
    expected = 1 + sum(per_task[spec["type"]] for spec in grid.tasks.values())
    assert len(structure.images) == len(figures) == expected
    for image in structure.images:
        assert image["alt"]
        png = base64.b64decode(image["src"].split(",", 1)[1])
        picture = Image.open(io.BytesIO(png)).convert("L")
        assert picture.size[0] > 300 and picture.size[1] > 200
        assert ImageStat.Stat(picture).stddev[0] > 10, f"blank figure: {image['alt']}"


def test_each_task_has_its_section_verdicts_and_figures(built):
    grid, _, page, transfer, figures = built
    ids = parse(page).ids
    for task, spec in grid.tasks.items():
        assert f"task-{task}" in ids
        assert f"{task}_data_efficiency" in figures
        assert f"{task}_tiny_convergence" in figures
        assert f"{task}_tiny_confusion" in figures
        assert (f"{task}_tiny_roc_pr" in figures) == (spec["type"] == "binary")
    assert len(transfer) == len(grid.tasks) * len(grid.fractions)
    for verdict in transfer["verdict"]:
        assert html.escape(verdict) in page


def test_glance_says_how_verdicts_are_corrected_and_which_threshold_was_used(built):
    grid, _, page, transfer, _ = built
    glance = page.split('id="glance"')[1].split("</section>")[0]
    assert f"all {len(transfer)} comparisons (Benjamini-Hochberg" in " ".join(glance.split())
    for row in transfer.itertuples():
        assert f'<li class="{row.evidence}">' in glance
        assert f"FDR q={row.q_value:.2g}" in row.verdict
    promoter = page.split('id="task-promoter"')[1].split("</section>")[0]
    family = page.split('id="task-family"')[1].split("</section>")[0]
    assert "decision threshold: 0.5 (fixed)" in promoter
    assert "<li>decision threshold" not in family  # arg-max, no threshold
    assert "<th>q (FDR)</th>" in promoter and "<th>flags</th>" in promoter


def test_metric_table_shows_mean_and_sd_across_seeds(built):
    grid, summary, page, _, _ = built
    for task, spec in grid.tasks.items():
        rows = summary[(summary["task"] == task) & (summary["metric"] == spec["headline"])]
        for (_, _), group in rows.groupby(["variant", "label_fraction"]):
            values = group["value"]
            assert f"{values.mean():.3f} ± {values.std(ddof=1):.3f}" in page


def test_each_task_says_how_many_sequences_its_models_truncated(built):
    grid, _, page, _, _ = built
    n_train = max(8, int(8 * 80 * max(grid.fractions)))  # the largest fraction's cell
    promoter = page.split('id="task-promoter"')[1].split("</section>")[0]
    assert (
        f"<b>tiny</b>: train {n_train // 10}, val 3, test 5 sequences longer than its input "
        "of 160 tokens, truncated (only their start was seen)"
    ) in promoter
    family = page.split('id="task-family"')[1].split("</section>")[0]
    assert "longer than its input" not in family  # none there


def test_slid_sequences_are_counted_with_their_windows():
    counts = {
        "mode": "slide",
        "max_length": 64,
        "long": {"train": 48, "val": 24, "test": 24},
        "truncated": {"train": 1, "val": 0, "test": 1},
        "windows": {"train": 150, "val": 75, "test": 75},
    }
    macros = templates().get_template("macros.html.j2").module
    assert str(macros.long_sequence_fact(long_sequence_fact("nt", counts))) == (
        "<b>nt</b>: train 48, val 24, test 24 sequences longer than its input of 64 tokens, "
        "slid over in 300 overlapping windows, of which 2 truncated"
    )


def test_overview_reports_genome_corpus_models_and_provenance(built):
    grid, _, page, _, _ = built
    manifest = json.loads(grid.manifests[0].read_text())
    assert f"<td>{manifest['gc_fraction'] * 100:.1f}</td>" in page
    assert "<td>simulate: length 300000, chromosomes 3, seed 7</td>" in page
    assert f"<td>{manifest['n_count'] / manifest['length'] * 100:.2f}</td>" in page
    stats = json.loads(grid.corpus_stats[0].read_text())
    assert f"<td>{stats['train']['tokens']:,}</td>" in page
    n_params = sum(a * b for a, b in WEIGHT_SHAPES.values())
    assert f"<td>{n_params:,}</td>" in page
    assert "overlapping 3-mers" in page
    canonical = json.dumps(grid.config, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() in page
    assert f"<td>{metadata.version('torch')}</td>" in page
    jobs = len(list(grid.cells()))
    assert f"<tr><td>finetune</td><td>{jobs}</td>" in page
    assert "pre-training loss curves" in [i["alt"] for i in parse(page).images]
    summary = json.loads((grid.pretrain_dirs[0] / "pretrain_summary.json").read_text())
    row = "</td><td>".join(
        ["tiny", "pretrained", "mlm", "200", f"{summary['final_train_loss']:.3f}"]
        + [f"{summary['eval_loss']:.3f}", "3.215", f"{3.215 - summary['eval_loss']:+.3f}"]
    )
    assert f"<tr><td>{row}</td></tr>" in page


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One binary task, one label fraction, two seeds: quick to plot."""
    tasks = {"promoter": TASKS["promoter"]}
    grid = make_grid(tmp_path_factory.mktemp("small"), tasks, fractions=(1.0,), seeds=(0, 1))
    grid.write_summary_and_stats(n_boot=100)
    return grid


def test_write_report_writes_html_and_figures(small, tmp_path):
    grid = small
    out = tmp_path / "report"
    page = write_report(grid.report_inputs(), out / "report.html", grid.config, out / "figures")
    assert (out / "report.html").read_text() == page and page.startswith("<!DOCTYPE html>")
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert "pretraining_loss" in pngs and len(pngs) == len(
        parse((out / "report.html").read_text()).images
    )
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_report_without_pretraining_state_or_benchmarks_still_builds(small, tmp_path):
    grid = small
    inputs = grid.report_inputs()
    inputs.pretrain_dirs = [str(tmp_path)]  # a stage dir without trainer_state.json
    inputs.benchmark_dir = str(tmp_path / "none")
    inputs.corpus_stats, inputs.windows = [], []
    page, figures = build_report(inputs, grid.config, n_boot=50)
    assert "pretraining_loss" not in figures
    assert "No model was pre-trained in this run." in page
    assert "No benchmark files yet" in page


def test_names_and_texts_from_the_inputs_are_escaped(tmp_path):
    task = "<script>x"
    grid = make_grid(tmp_path, {task: TASKS["promoter"]}, fractions=(1.0,), seeds=(0, 1), n_test=40)
    meta = json.loads(grid.task_meta[0].read_text())
    meta["warnings"] = ["<script>alert(1)</script>"]
    meta["label_names"] = ["<b>background</b>", "promoter"]
    grid.task_meta[0].write_text(json.dumps(meta))
    grid.write_summary_and_stats(n_boot=20)
    page, _ = build_report(grid.report_inputs(), grid.config, title="<script>alert(2)</script>")
    assert "<script" not in page.lower() and "<b>background" not in page
    assert 'id="task-&lt;script&gt;x"' in page and "<h2>Task: &lt;script&gt;x</h2>" in page
    assert "Input warnings: &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "classes: &lt;b&gt;background&lt;/b&gt;, promoter" in page
    assert parse(page).errors == []


def test_report_renders_from_the_stats_tables_without_opening_predictions(small, tmp_path):
    grid = small
    hidden = [(p, tmp_path / f"{i}.parquet") for i, p in enumerate(grid.predictions)]
    for path, away in hidden:
        path.rename(away)
    try:
        page, figures = build_report(grid.report_inputs(), grid.config, n_boot=100)
    finally:
        for path, away in hidden:
            away.rename(path)
    assert {"promoter_tiny_roc_pr", "promoter_tiny_confusion"} <= set(figures)
    transfer = pd.read_csv(grid.stats.transfer, sep="\t")
    assert all(html.escape(v) in page for v in transfer["verdict"])
