"""Every config in config/examples/ validates against the schema and dry-runs.

Downloads (NCBI, the Hugging Face hub) cannot run here: the dry-run proves the whole
DAG resolves, including the localrules that would fetch them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pysam
import pytest
import yaml

from dnatune.config import validate_config
from dnatune.genome.simulate import simulate_genome
from dnatune.tasks.build import build_task
from dnatune.tasks.protocols import apply_protocols
from dnatune.tasks.spec import task_genomes
from dnatune.train.families import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "config" / "examples").glob("*.yaml"))
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
HEX40 = re.compile(r"^[0-9a-f]{40}$")


SUITE_EXAMPLES = ("gue-csv.yaml", "genomic-benchmarks.yaml", "nt-tasks.yaml", "bend.yaml")


def test_the_examples_exist():
    assert {p.name for p in EXAMPLES} >= {"ecoli.yaml", "hub-models.yaml", *SUITE_EXAMPLES}


# the family of each hub model the examples use, from its config.json on the hub
# (model_type, auto_map), as docs/models.md lists them
HUB_FAMILIES = {
    "zhihan1996/DNA_bert_6": "bert",
    "zhihan1996/DNABERT-2-117M": "dnabert2",
    "zhihan1996/DNABERT-S": "dnabert2",
    "InstaDeepAI/nucleotide-transformer-500m-human-ref": "esm",
    "InstaDeepAI/agro-nucleotide-transformer-1b": "esm",
    "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species": "nt-v2",
    "AIRI-Institute/gena-lm-bert-base": "gena-lm",
    "RaphaelMourad/ModernBert-DNA-v1-37M-virus": "modernbert",
    "LongSafari/hyenadna-tiny-1k-seqlen-hf": "hyenadna",
    "kuleshov-group/caduceus-ph_seqlen-131k_d_model-256_n_layer-16": "caduceus",
    "GenerTeam/GENERator-eukaryote-1.2b-base": "llama",
}


def test_examples_cover_every_model_family():
    covered = set()
    for path in EXAMPLES:
        for name, model in (yaml.safe_load(path.read_text()).get("models") or {}).items():
            if "scratch" in model:
                covered.add(model["scratch"]["architecture"])
                continue
            assert model["hf"] in HUB_FAMILIES, f"{path.name}: models.{name}: family unknown"
            covered.add(HUB_FAMILIES[model["hf"]])
            revision = model.get("revision", "main")
            assert revision == "main" or HEX40.match(revision), f"{path.name}: {name}"
            if revision == "main":  # unpinned only where the file says why, on that line
                said = re.search(r"revision: main #.*verified offline", path.read_text())
                assert said, f"{path.name}: models.{name}: pin a commit or say why not"
    # RoBERTa-style encoders are known to the table, but no DNA model of the family is shown
    assert covered == {family.name for family in FAMILIES} - {"roberta"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid(path):
    validate_config(yaml.safe_load(path.read_text()), SCHEMA, source=str(path))


def test_hub_models_are_pinned():
    models = yaml.safe_load((ROOT / "config/examples/hub-models.yaml").read_text())["models"]
    assert {m["hf"] for m in models.values()} == {
        "zhihan1996/DNA_bert_6",
        "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species",
        "LongSafari/hyenadna-tiny-1k-seqlen-hf",
        "zhihan1996/DNABERT-2-117M",
    }
    for name, model in models.items():
        if model["hf"] == "zhihan1996/DNA_bert_6":
            assert model["kmer"] == 6, "DNABERT needs its input split into 6-mers"
            continue  # no verifiable commit offline: pinned to main, said in the file
        assert HEX40.match(model["revision"]), f"{name}: pin a commit hash"
        assert model["trust_remote_code"] is True, name


def test_gue_example_data_is_laid_out_like_gue():
    folder = ROOT / "config/examples/data/gue/prom_demo"
    for split in ("train", "dev", "test"):
        lines = (folder / f"{split}.csv").read_text().splitlines()
        assert lines[0] == "sequence,label"
        labels = {line.rsplit(",", 1)[1] for line in lines[1:]}
        assert labels == {"0", "1"}, split


def dry_run(example: Path, workdir: Path) -> subprocess.CompletedProcess:
    # paths in the examples are relative to the run directory, as for a user in the repo
    shutil.copytree(ROOT / "config" / "examples" / "data", workdir / "config/examples/data")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "-n",
            "--quiet",
            "rules",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(example),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


EXPECTED_JOBS = {
    "ecoli.yaml": {"download_genome", "download_annotation", "pretrain", "finetune"},
    "hub-models.yaml": {"download_genome", "fetch_model", "pretrain", "finetune"},
    "model-families.yaml": {"download_genome", "fetch_model", "init_model", "pretrain", "finetune"},
    **{name: {"simulate_genome", "build_task", "pretrain", "finetune"} for name in SUITE_EXAMPLES},
}
# jobs per rule where the example fixes them: nt-tasks cross-validates (seed = fold), 10 folds
# of promoter_demo and 3 of enhancer_types_demo, times the variants scratch and pretrained
EXPECTED_COUNTS = {"nt-tasks.yaml": {"build_task": 2, "finetune": (10 + 3) * 2}}


@pytest.mark.workflow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_dry_runs(path, tmp_path):
    proc = dry_run(path, tmp_path)
    assert proc.returncode == 0, f"{path.name}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    table = proc.stdout + proc.stderr
    for rule in EXPECTED_JOBS.get(path.name, set()):
        assert re.search(rf"^{rule}\s+\d+", table, flags=re.M), f"{path.name}: no {rule} job"
    for rule, count in EXPECTED_COUNTS.get(path.name, {}).items():
        assert re.search(rf"^{rule}\s+{count}$", table, flags=re.M), f"{path.name}: {rule}"


@pytest.fixture(scope="module")
def demo_genome(tmp_path_factory) -> str:
    """The suite examples' genome: the demo genome they simulate (length 2 Mb, 4 chr, seed 7)."""
    root = tmp_path_factory.mktemp("demo")
    simulate_genome(root / "genome.fa", root / "genome.gff3", 2_000_000, 4, 7)
    pysam.faidx(str(root / "genome.fa"))
    return str(root / "genome.fa")


@pytest.mark.parametrize("name", SUITE_EXAMPLES)
def test_suite_example_tasks_build_from_the_shipped_data(name, demo_genome, tmp_path, monkeypatch):
    """The shipped suite layouts read as published: every task builds, with its preset."""
    config = validate_config(yaml.safe_load((ROOT / "config/examples" / name).read_text()), SCHEMA)
    apply_protocols(config)
    monkeypatch.chdir(ROOT)  # the examples' paths are relative to the repository
    for task, spec in config["tasks"].items():
        assert task_genomes(spec["source"]) in ([], ["demo"]), task
        data = {k: v for k, v in spec.items() if k not in ("finetune", "metric", "protocol")}
        meta = build_task(task, data, tmp_path / task, inputs={"genome": demo_genome})
        assert min(meta["counts"].values()) >= 5, (task, meta["counts"])
        assert meta["warnings"] == [], (task, meta["warnings"])
        if "nt" in spec["source"]:  # the protocol's 10 val folds of train; val.parquet empty
            assert meta["val_folds"] == 10 and set(meta["counts"]) == {"train", "test"}, task
        assert spec["metric"] in ("mcc", "accuracy", "auroc"), task
