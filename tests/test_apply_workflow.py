"""The apply stage in a real snakemake run of the tiny grid: tracks, validation, embeddings."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyBigWig
import pytest
from conftest import run_snakemake, tiny_config, write_config

from dnatune.genome.indexed_fasta import read_fai

CELLS = [
    {"task": "promoter", "model": "tiny", "variant": v, "fraction": 1.0, "seed": 0}
    for v in ("scratch", "pretrained")
]


def apply_config() -> dict:
    config = tiny_config()
    config["apply"] = {
        "cells": CELLS,
        "models": ["tiny"],
        "tracks": {"genomes": ["demo"], "chunk_bp": 100_000},
        "embeddings": {"tasks": ["promoter"], "genomes": ["demo"]},
    }
    return config


@pytest.fixture(scope="module")
def apply_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("apply_run")
    write_config(workdir, apply_config())
    run_snakemake(workdir, "--cores", "2")
    return workdir


def test_tracks_cover_every_base_of_the_genome_and_open_as_bigwig(apply_run):
    contigs = read_fai(apply_run / "results/genomes/demo/genome.fa.gz.fai")
    plan = pd.read_csv(apply_run / "results/apply/plans/demo.tsv", sep="\t")
    assert len(plan) > len(contigs)  # more than one job for a long chromosome
    for variant in ("scratch", "pretrained"):
        folder = apply_run / f"results/apply/tracks/promoter/tiny/{variant}/f1/s0/demo"
        (bw_path,) = folder.glob("*.bw")
        with pyBigWig.open(str(bw_path)) as bw:
            assert bw.chroms() == {name: c.length for name, c in contigs.items()}
            for name, contig in contigs.items():
                values = np.asarray(bw.values(name, 0, contig.length))
                assert not np.isnan(values).any() and ((values >= 0) & (values <= 1)).all()
        with gzip.open(folder / f"{bw_path.stem}.bedGraph.gz", "rt") as handle:
            covered = sum(int(f[2]) - int(f[1]) for f in (line.split("\t") for line in handle))
        assert covered == sum(c.length for c in contigs.values())
        assert (folder / "igv_session.xml").exists()


def test_tracks_are_validated_on_held_out_regions_and_reported(apply_run):
    table = pd.read_csv(apply_run / "results/apply/validation/tracks.tsv", sep="\t")
    assert sorted(table["variant"]) == ["pretrained", "scratch"]
    assert (table["n_positive"] > 0).all() and (table["n_windows"] > table["n_positive"]).all()
    assert ((table["auroc_low"] <= table["auroc"]) & (table["auroc"] <= table["auroc_high"])).all()
    html = (apply_run / "results/report/report.html").read_text()
    assert "Prediction tracks" in html and "Track against annotation in held-out" in html
    assert (apply_run / "results/report/figures/track_region.png").exists()


def test_embeddings_keep_the_task_ids_and_the_genome_windows(apply_run):
    task = pd.read_parquet(apply_run / "results/apply/embeddings/tiny/tasks/promoter.parquet")
    ids = pd.concat(
        pd.read_parquet(apply_run / f"results/tasks/promoter/{s}.parquet")["id"]
        for s in ("train", "val", "test")
    )
    assert task["id"].tolist() == ids.tolist()
    genome = pd.read_parquet(apply_run / "results/apply/embeddings/tiny/genomes/demo.parquet")
    windows = pd.read_parquet(apply_run / "results/windows/demo/windows.parquet")
    assert len(genome) == len(windows) and genome["embedding"].map(len).eq(32).all()


def test_a_region_past_a_contig_end_fails_naming_the_file_and_leaves_no_plan(apply_run):
    bed = apply_run / "regions.bed"
    bed.write_text("chr1\t0\t1000\nchr1\t5000\t99999999\n")
    config = apply_config()
    config["apply"]["tracks"]["regions"] = str(bed)
    write_config(apply_run, config)
    try:
        proc = run_snakemake(apply_run, "--cores", "1", "results/apply/plans/demo.tsv", check=False)
    finally:
        write_config(apply_run, apply_config())
    log = (apply_run / "logs/apply/track_plan/demo.log").read_text()
    assert proc.returncode != 0
    assert "regions.bed line 2: region chr1:5000-99999999 ends past the end of contig chr1" in log
    assert not (apply_run / "results/apply/plans/demo.tsv").exists()


def test_an_apply_cell_not_in_the_grid_fails_before_any_job(tmp_path):
    config = apply_config()
    config["apply"]["cells"] = [{**CELLS[0], "fraction": 0.5}]
    write_config(tmp_path, config)
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert "apply.cells[0]" in proc.stderr + proc.stdout
    assert "promoter/tiny/scratch/f0.5/s0 is not a language-model cell" in proc.stderr + proc.stdout
