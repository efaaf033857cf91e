"""Variant effects through Snakemake: planted VCF -> chunked scores -> VCF, TSV, AUROC, report."""

from __future__ import annotations

import shutil

import pandas as pd
import pysam
import pytest
import yaml
from conftest import run_snakemake, tiny_config, write_config

VARIANTS = "results/apply/variants/planted"


@pytest.mark.workflow
def test_planted_variants_are_scored_merged_and_reported(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)  # the grid is trained: only new jobs run
    config = tiny_config()
    config["apply"] = {
        "variants": {"vcf": "simulated", "genome": "demo", "window": 64, "per_element": 8,
                     "chunk": 50},
    }  # fmt: skip
    write_config(workdir, config)
    run_snakemake(workdir, "--cores", "2")

    with pysam.VariantFile(str(workdir / VARIANTS / "scores.vcf.gz")) as vcf:
        info = vcf.header.info
        records = list(vcf)
    scores = ["ZS_tiny_scratch", "ZS_tiny_pretrained", "SV_promoter_tiny_scratch_f1_s0",
              "SV_promoter_tiny_pretrained_f1_s0"]  # fmt: skip
    assert all(name in info and info[name].description.startswith("dnatune") for name in scores)
    assert len(records) == 2 * 6 * 8  # 8 breaking variants per element type, each matched
    assert all(name in r.info for r in records for name in scores)
    table = pd.read_csv(workdir / VARIANTS / "scores.tsv", sep="\t")
    assert len(table) == len(records) and table[scores].notna().all().all()
    # 96 alleles in chunks of 50: two jobs per scorer
    assert len(list((workdir / VARIANTS / "zero_shot" / "tiny" / "scratch").glob("chunk*"))) == 2
    auroc = pd.read_csv(workdir / VARIANTS / "auroc.tsv", sep="\t")
    overall = auroc[auroc["group"] == "all"]
    assert list(overall["score"]) == scores
    assert (overall["n_broken"] == 48).all() and (overall["n_background"] == 48).all()
    per_element = auroc[auroc["group"] != "all"]
    assert len(per_element) == 6 * len(scores) and (per_element["n_broken"] == 8).all()
    assert ((auroc["ci_low"] <= auroc["auroc"]) & (auroc["auroc"] <= auroc["ci_high"])).all()
    page = (workdir / "results" / "report" / "report.html").read_text()
    assert 'id="variants"' in page and "SV_promoter" not in page
    assert f"{overall['auroc'].iloc[1]:.3f}" in page and "TATA_box" in page

    # editing the window reruns the variant chain, not the grid
    config["apply"]["variants"]["window"] = 48
    write_config(workdir, config)
    dry = run_snakemake(workdir, "-n", "--quiet", "rules")
    assert "variant_alleles" in dry.stdout and "finetune" not in dry.stdout


@pytest.mark.workflow
def test_a_vcf_on_other_contig_names_fails_before_any_model_runs(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    bad = workdir / "bad.vcf"
    bad.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t10\trs1\tA\tC\t.\t.\t.\n"
    )
    config = tiny_config()
    config["apply"] = {"variants": {"vcf": str(bad), "genome": "demo"}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    proc = run_snakemake(workdir, "--cores", "1", check=False)
    assert proc.returncode != 0
    log = (workdir / "logs" / "variants" / "bad" / "alleles.log").read_text()
    assert "record 1 (1:10) is on contig '1'" in log and "chr1, chr2, chr3" in log
    assert not (workdir / "results" / "apply" / "variants" / "bad" / "alleles.parquet").exists()
    assert not list((workdir / "logs" / "variants" / "bad").glob("zero_shot"))
