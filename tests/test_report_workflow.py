"""The report rules through Snakemake: inputs resolve, outputs land, `--report` works.

Upstream stages are replaced by fabricated files in the contract's layout
(tests/report_fixtures.py), and `--allowed-rules summary stats report` keeps
Snakemake from trying to rebuild them.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import SNAKEFILE
from report_fixtures import make_grid


def _snakemake(workdir: Path, *args: str):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
           "--allowed-rules", "summary", "stats", "report", "--cores", "1", *args]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


@pytest.mark.workflow
def test_snakemake_runs_the_summary_stats_and_report_rules_and_builds_its_own_report(tmp_path):
    variants = ("scratch", "pretrained", "cnn", "kmer_lr")
    grid = make_grid(tmp_path, variants=variants, fractions=(0.1, 1.0), seeds=(0, 1), n_test=60)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(grid.config, sort_keys=False))
    _snakemake(tmp_path, "results/report/report.html")
    report_dir = tmp_path / "results" / "report"
    summary = pd.read_csv(report_dir / "summary.tsv", sep="\t")
    cells = summary.drop_duplicates(["task", "variant", "label_fraction", "seed"])
    assert len(cells) == len(list(grid.cells()))
    transfer = pd.read_csv(tmp_path / "results" / "stats" / "transfer.tsv", sep="\t")
    assert len(transfer) == len(grid.tasks) * len(grid.fractions)
    page = (report_dir / "report.html").read_text()
    assert "<title>fixture report</title>" in page  # config report.title, through params
    assert all(verdict.split(":")[0] in page for verdict in transfer["verdict"])
    # the three claims: written by stats, copied beside summary.tsv, shown per task
    claims = tmp_path / "results" / "stats" / "claims.tsv"
    assert (report_dir / "claims.tsv").read_bytes() == claims.read_bytes()
    claims = pd.read_csv(claims, sep="\t")
    assert set(claims["claim"]) == {"better_scores", "less_data", "faster_convergence"}
    assert set(claims["reference"]) >= {"scratch"} and claims["reference"].isin(grid.variants).all()
    assert page.count("<h3>Three claims: better scores, less data, faster convergence</h3>") == len(
        grid.tasks
    )
    assert page.count('<ul class="claims">') == len(grid.tasks)
    assert "report:" in (tmp_path / "logs" / "report" / "report.log").read_text()
    assert "stats:" in (tmp_path / "logs" / "stats" / "stats.log").read_text()
    for rule in ("stats", "report"):
        assert (tmp_path / "benchmarks" / "results" / rule / f"{rule}.tsv").exists()
    assert sorted(p.stem for p in (report_dir / "figures").glob("*.png"))

    _snakemake(tmp_path, "--report", str(tmp_path / "report.zip"))
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        names = archive.namelist()
    wanted_files = ("/report.html", "/summary.tsv", "/transfer.tsv", "/claims.tsv")
    for wanted in (*wanted_files, "_data_efficiency.png"):
        assert any(n.endswith(wanted) and "/data/raw/" in n for n in names), wanted
