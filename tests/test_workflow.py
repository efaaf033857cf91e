"""The real workflow, run by snakemake on the tiny config: outputs of every stage."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pysam
import pytest
from conftest import ROOT, run_snakemake, tiny_config, write_config
from transformers import AutoTokenizer

from dnatune.config import grid
from dnatune.corpus.shards import load_corpus

pytestmark = pytest.mark.workflow


def test_genome_is_bgzip_indexed_with_manifest(tiny_run):
    genome = tiny_run / "results/genomes/demo"
    fasta = pysam.FastaFile(str(genome / "genome.fa.gz"))
    assert (genome / "genome.fa.gz.fai").exists() and (genome / "genome.fa.gz.gzi").exists()
    manifest = json.loads((genome / "manifest.json").read_text())
    assert manifest["length"] == 300_000 == sum(fasta.lengths)
    assert [c["name"] for c in manifest["contigs"]] == list(fasta.references)
    assert 0.3 < manifest["gc_fraction"] < 0.7
    assert 0 < manifest["softmasked_fraction"] < 0.5
    assert len(manifest["sha256"]) == 64


def test_windows_cover_the_genome_and_split_it(tiny_run):
    windows = pd.read_parquet(tiny_run / "results/windows/demo/windows.parquet")
    assert list(windows.columns[:5]) == ["chrom", "start", "end", "strand", "split"]
    assert ((windows.end - windows.start) == 128).all()
    assert set(windows.split) == {"train", "val", "test"}
    # 300 kb / 128 bp stride, less the N-rich and mostly soft-masked windows
    assert 1500 < len(windows) <= 300_000 // 128


def test_corpus_matches_its_tokenizer_and_windows(tiny_run):
    corpus = tiny_run / "results/corpus/demo/kmer3-overlap"
    stats = json.loads((corpus / "stats.json").read_text())
    windows = pd.read_parquet(tiny_run / "results/windows/demo/windows.parquet")
    train = load_corpus([str(corpus)], "train")
    assert len(train) == stats["train"]["windows"] == (windows.split == "train").sum()
    tokenizer = AutoTokenizer.from_pretrained(tiny_run / "results/tokenizers/kmer3-overlap")
    first = list(train[0]["input_ids"])
    assert first[0] == tokenizer.cls_token_id and first[-1] == tokenizer.sep_token_id
    assert len(first) == 128 - 3 + 1 + 2  # overlapping 3-mers plus [CLS] and [SEP]


def test_every_grid_cell_is_evaluated_and_reported(tiny_run):
    cells = grid(tiny_config())
    for cell in cells:
        metrics = json.loads((tiny_run / f"results/eval/{cell.path}/metrics.json").read_text())
        assert metrics["variant"] == cell.variant and metrics["n_test"] > 0
    summary = pd.read_csv(tiny_run / "results/report/summary.tsv", sep="\t")
    assert set(summary.variant) == {"scratch", "pretrained"}
    assert (tiny_run / "results/report/report.html").stat().st_size > 10_000
    assert pq.read_table(tiny_run / "results/tasks/promoter/test.parquet").num_rows > 0


def test_every_cell_predicts_each_test_example_once_under_its_task_id(tiny_run):
    for cell in grid(tiny_config()):
        test = pd.read_parquet(tiny_run / f"results/tasks/{cell.task}/test.parquet")
        assert test["id"].is_unique and test["id"].str.contains(r":\d+-\d+$").all()
        predictions = pd.read_parquet(
            tiny_run / f"results/finetune/{cell.path}/predictions.parquet"
        )
        part = predictions[predictions["split"] == "test"]
        assert part["id"].tolist() == test["id"].tolist()


def test_a_finished_run_leaves_no_checkpoints_or_training_args_and_reports_references(tiny_run):
    assert not (tiny_run / "results/checkpoints").exists()
    assert not list((tiny_run / "results").rglob("training_args.bin"))
    summary = json.loads(
        (tiny_run / "results/models/tiny/pretrained/pretrain_summary.json").read_text()
    )
    assert 0 < summary["val_unigram_entropy"] < 4.2  # 3-mers of a genome: below ln 64
    page = (tiny_run / "results/report/report.html").read_text()
    assert f"<td>{summary['val_unigram_entropy']:.3f}</td>" in page


def test_a_finished_run_has_nothing_left_to_do(tiny_run):
    proc = run_snakemake(tiny_run, "-n", "--cores", "1")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_a_user_config_file_replaces_the_embedded_default(tmp_path):
    """`--configfile mine.yaml` must not merge the demo's genomes and tasks into the grid."""
    shutil.copytree(ROOT / "config", tmp_path / "config")  # the default, as in a checkout
    config = tiny_config()
    config["genomes"] = {"mine": config["genomes"]["demo"]}
    config["tasks"]["promoter"]["source"]["annotation"]["genome"] = "mine"
    write_config(tmp_path, config)
    proc = run_snakemake(tmp_path, "-n", "--cores", "1")
    planned = proc.stdout + proc.stderr
    assert "results/genomes/mine/" in planned
    assert "genomes/demo" not in planned and "task=coding" not in planned


def test_misspelt_key_fails_before_any_job(tmp_path):
    config = tiny_config()
    config["windows"]["strid"] = 64
    write_config(tmp_path, config)
    proc = run_snakemake(tmp_path, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "unknown key 'windows.strid': did you mean 'stride'?" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_the_report_shows_each_training_stages_throughput(tiny_run):
    page = (tiny_run / "results/report/report.html").read_text()
    table = page[page.index("Run time per stage") :]
    table = table[: table.index("</table>")]
    for rule in ("pretrain", "finetune"):
        row = table[table.index(f"<td>{rule}</td>") :]
        cells = re.findall(r"<td>(.*?)</td>", row[: row.index("</tr>")])
        # rule, jobs, total s, longest s, peak MB, tokens/s, samples/s, padding %, GPU MB, MFU %
        tokens_per_s, padding = float(cells[5].replace(",", "")), float(cells[7])
        assert tokens_per_s > 0 and 0 <= padding < 100 and float(cells[4]) > 0
        assert cells[8] == cells[9] == "–"  # no GPU figures on a CPU
