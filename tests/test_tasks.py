"""Task datasets from user files: TASK_DIR format, label mapping, input checks, config checks,
and (with real snakemake) that editing one task reruns only that task."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from dnatune.config import ConfigError
from dnatune.tasks.build import build_task
from dnatune.tasks.sources import TaskInputError
from dnatune.tasks.spec import check_task_specs, with_defaults

ROOT = Path(__file__).resolve().parents[1]
BASES = np.array(list("ACGT"))


def random_sequences(n: int, length: int = 30, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(BASES, size=length)) for _ in range(n)]


def write_csv(path: Path, sequences, labels, sep=",") -> str:
    pd.DataFrame({"sequence": sequences, "label": labels}).to_csv(path, index=False, sep=sep)
    return str(path)


def gue_layout(tmp_path: Path, n: int = 40) -> str:
    """GUE-style train/dev/test.csv with sequence,label and 0/1 labels."""
    for i, name in enumerate(("train", "dev", "test")):
        write_csv(tmp_path / f"{name}.csv", random_sequences(n, seed=i), [0, 1] * (n // 2))
    return str(tmp_path / "{split}.csv")


def read_split(out: Path, split: str) -> pd.DataFrame:
    return pd.read_parquet(out / f"{split}.parquet")


# ---------------------------------------------------------------- outputs


def test_user_splits_gue_layout_writes_contract_files(tmp_path):
    path = gue_layout(tmp_path)
    out = tmp_path / "out"
    meta = build_task("gue", {"type": "binary", "source": {"csv": path}}, out)
    on_disk = json.loads((out / "meta.json").read_text())
    assert on_disk["task"] == "gue" and on_disk["type"] == "binary"
    assert on_disk["num_labels"] == 2 and on_disk["label_names"] == ["0", "1"]
    assert on_disk["split_method"] == "user"
    assert on_disk["counts"] == {"train": 40, "val": 40, "test": 40}
    assert on_disk["warnings"] == [] and meta["counts"] == on_disk["counts"]
    schema = pq.read_schema(out / "train.parquet")
    assert str(schema.field("sequence").type) == "string"
    assert str(schema.field("label").type) == "int64"
    # val came from dev.csv
    dev = pd.read_csv(tmp_path / "dev.csv")
    assert sorted(read_split(out, "val")["sequence"]) == sorted(dev["sequence"])


def test_single_file_gets_stratified_seeded_split(tmp_path):
    n = 200
    labels = ["pos"] * 50 + ["neg"] * 150
    path = write_csv(tmp_path / "all.tsv", random_sequences(n), labels, sep="\t")
    spec = {
        "type": "binary",
        "source": {"tsv": path, "split": {"val": 0.1, "test": 0.2, "seed": 3}},
    }
    meta = build_task("t", spec, tmp_path / "a")
    assert meta["split_method"] == "stratified"
    assert meta["counts"] == {"train": 140, "val": 20, "test": 40}
    assert meta["label_names"] == ["neg", "pos"]
    for split, size in meta["counts"].items():
        # 25% positives in every split
        assert meta["class_counts"][split]["pos"] == size // 4
    again = build_task("t", spec, tmp_path / "b")
    assert again["counts"] == meta["counts"]
    for split in ("train", "val", "test"):
        pd.testing.assert_frame_equal(
            read_split(tmp_path / "a", split), read_split(tmp_path / "b", split)
        )
    build_task("t", {**spec, "source": {**spec["source"], "split": {"seed": 4}}}, tmp_path / "c")
    assert set(read_split(tmp_path / "c", "test")["sequence"]) != set(
        read_split(tmp_path / "a", "test")["sequence"]
    )


def test_regression_from_parquet(tmp_path):
    n = 100
    path = tmp_path / "r.parquet"
    pd.DataFrame({"seq": random_sequences(n), "y": np.linspace(0, 1, n)}).to_parquet(path)
    spec = {
        "type": "regression",
        "source": {"parquet": str(path), "sequence_column": "seq", "label_column": "y"},
    }
    meta = build_task("r", spec, tmp_path / "out")
    assert meta["num_labels"] == 1 and meta["label_names"] == ["y"]
    assert str(pq.read_schema(tmp_path / "out" / "train.parquet").field("label").type) == "double"
    assert sum(meta["counts"].values()) == n


def test_multilabel_from_separated_names(tmp_path):
    labels = ["a;b", "b", "", "c,a"] * 25
    path = write_csv(tmp_path / "m.csv", random_sequences(100), labels)
    meta = build_task("m", {"type": "multilabel", "source": {"csv": path}}, tmp_path / "out")
    assert meta["label_names"] == ["a", "b", "c"] and meta["num_labels"] == 3
    assert (
        str(pq.read_schema(tmp_path / "out" / "train.parquet").field("label").type)
        == "list<element: int8>"
    )
    rows = pd.concat(read_split(tmp_path / "out", s) for s in ("train", "val", "test"))
    seen = {tuple(v) for v in rows["label"]}
    assert seen == {(1, 1, 0), (0, 1, 0), (0, 0, 0), (1, 0, 1)}


def test_multiclass_fasta_with_configured_label_order(tmp_path):
    records = []
    for i, sequence in enumerate(random_sequences(90)):
        records.append(f">s{i} label={['low', 'mid', 'high'][i % 3]}\n{sequence}\n")
    path = tmp_path / "m.fa"
    path.write_text("".join(records))
    spec = {"type": "multiclass", "labels": ["low", "mid", "high"], "source": {"fasta": str(path)}}
    meta = build_task("m", spec, tmp_path / "out")
    assert meta["label_names"] == ["low", "mid", "high"] and meta["num_labels"] == 3
    train = read_split(tmp_path / "out", "train")
    first = train["sequence"].iloc[0]
    number = next(i for i, r in enumerate(records) if r.endswith(first + "\n"))
    assert train["label"].iloc[0] == number % 3


def test_non_acgtn_become_n_and_are_counted(tmp_path):
    sequences = random_sequences(40)
    sequences[0] = "acgtRYacgt"
    sequences[1] = "ACG TUU"
    path = write_csv(tmp_path / "x.csv", sequences, [0, 1] * 20)
    meta = build_task("x", {"type": "binary", "source": {"csv": path}}, tmp_path / "out")
    assert len(meta["warnings"]) == 1
    assert "4 non-ACGTN character(s) in 2 sequence(s) replaced by N" in meta["warnings"][0]
    assert "x.csv line 2" in meta["warnings"][0]
    rows = pd.concat(read_split(tmp_path / "out", s) for s in ("train", "val", "test"))
    assert {"ACGTNNACGT", "ACGTNN"} <= set(rows["sequence"])


def test_val_carved_from_train_when_only_train_and_test_exist(tmp_path):
    write_csv(tmp_path / "train.csv", random_sequences(100), [0, 1] * 50)
    write_csv(tmp_path / "test.csv", random_sequences(20, seed=1), [0, 1] * 10)
    spec = {
        "type": "binary",
        "source": {"csv": str(tmp_path / "{split}.csv"), "split": {"val": 0.2}},
    }
    meta = build_task("c", spec, tmp_path / "out")
    assert meta["split_method"] == "user, val carved from train"
    assert meta["counts"] == {"train": 80, "val": 20, "test": 20}


def test_sequences_shared_across_splits_are_a_warning(tmp_path):
    path = gue_layout(tmp_path)
    test = pd.read_csv(tmp_path / "test.csv")
    test.loc[:2, "sequence"] = pd.read_csv(tmp_path / "train.csv")["sequence"][:3].to_numpy()
    test.to_csv(tmp_path / "test.csv", index=False)
    meta = build_task("d", {"type": "binary", "source": {"csv": path}}, tmp_path / "out")
    assert meta["warnings"] == ["test: 3 sequence(s) also occur in train (possible leakage)"]


# ---------------------------------------------------------------- input errors


def test_nan_label_names_file_and_line(tmp_path):
    path = gue_layout(tmp_path)
    train = pd.read_csv(tmp_path / "train.csv")
    train["label"] = train["label"].astype("float").astype("object")
    train.loc[4, "label"] = None
    train.to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(
        TaskInputError, match=r"1 missing \(NaN or empty\) label.*train\.csv line 6.*fill in"
    ):
        build_task("n", {"type": "binary", "source": {"csv": path}}, tmp_path / "out")
    assert not (tmp_path / "out" / "meta.json").exists()


def test_label_in_test_unseen_in_train_is_an_error(tmp_path):
    path = gue_layout(tmp_path)
    test = pd.read_csv(tmp_path / "test.csv")
    test.loc[7, "label"] = 2
    test.to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(
        TaskInputError,
        match=r"unknown label '2' in test \(.*test\.csv line 9\).*known labels: \['0', '1'\]",
    ):
        build_task("u", {"type": "binary", "source": {"csv": path}}, tmp_path / "out")


def test_label_outside_configured_labels_is_an_error(tmp_path):
    path = gue_layout(tmp_path)
    spec = {"type": "binary", "labels": ["neg", "pos"], "source": {"csv": path}}
    with pytest.raises(TaskInputError, match=r"unknown label '0' in train.*\['neg', 'pos'\]"):
        build_task("u", spec, tmp_path / "out")


def test_empty_sequence_names_line(tmp_path):
    sequences = random_sequences(40)
    sequences[10] = ""
    path = write_csv(tmp_path / "e.csv", sequences, [0, 1] * 20)
    with pytest.raises(TaskInputError, match=r"1 empty sequence\(s\) in input: .*e\.csv line 12"):
        build_task("e", {"type": "binary", "source": {"csv": path}}, tmp_path / "out")


def test_split_with_a_single_class_is_an_error(tmp_path):
    path = gue_layout(tmp_path)
    write_csv(tmp_path / "dev.csv", random_sequences(10, seed=5), [1] * 10)
    with pytest.raises(
        TaskInputError, match=r"the val split \(.*dev\.csv\) holds a single class \['1'\]"
    ):
        build_task("s", {"type": "binary", "source": {"csv": path}}, tmp_path / "out")


def test_single_class_file_is_an_error(tmp_path):
    path = write_csv(tmp_path / "one.csv", random_sequences(30), ["x"] * 30)
    with pytest.raises(TaskInputError, match=r"one\.csv holds a single class \['x'\]"):
        build_task("s", {"type": "binary", "source": {"csv": path}}, tmp_path / "out")


def test_three_labels_in_a_binary_task_suggest_multiclass(tmp_path):
    path = write_csv(tmp_path / "three.csv", random_sequences(60), ["a", "b", "c"] * 20)
    with pytest.raises(
        TaskInputError, match=r"binary task has two classes.*\['a', 'b', 'c'\].*multiclass"
    ):
        build_task("b", {"type": "binary", "source": {"csv": path}}, tmp_path / "out")


def test_non_numeric_regression_label_names_line(tmp_path):
    path = write_csv(tmp_path / "r.csv", random_sequences(30), ["1.5"] * 29 + ["high"])
    with pytest.raises(TaskInputError, match=r"non-numeric label.*r\.csv line 31"):
        build_task("r", {"type": "regression", "source": {"csv": path}}, tmp_path / "out")


def test_split_by_chromosome_needs_coordinates(tmp_path):
    path = write_csv(tmp_path / "a.csv", random_sequences(40), [0, 1] * 20)
    spec = {"type": "binary", "source": {"csv": path, "split": {"by": "chromosome"}}}
    with pytest.raises(TaskInputError, match=r"needs chrom, start and end columns"):
        build_task("c", spec, tmp_path / "out")


def test_table_with_coordinates_can_split_by_chromosome(tmp_path):
    n = 200
    frame = pd.DataFrame(
        {
            "sequence": random_sequences(n),
            "label": (np.arange(n) // 10) % 2,
            "chrom": [f"chr{i % 10}" for i in range(n)],
            "start": np.arange(n) * 100,
            "end": np.arange(n) * 100 + 30,
        }
    )
    frame.to_csv(tmp_path / "c.csv", index=False)
    spec = {
        "type": "binary",
        "source": {"csv": str(tmp_path / "c.csv"), "split": {"by": "chromosome"}},
    }
    meta = build_task("c", spec, tmp_path / "out")
    assert meta["split_method"] == "chromosome"
    chroms = {s: set(read_split(tmp_path / "out", s)["chrom"]) for s in ("train", "val", "test")}
    assert not (
        chroms["train"] & chroms["val"]
        or chroms["train"] & chroms["test"]
        or chroms["val"] & chroms["test"]
    )
    assert {s: sorted(c) for s, c in chroms.items()} == meta["split_detail"]


# ---------------------------------------------------------------- ids


def all_splits(out: Path) -> pd.DataFrame:
    return pd.concat(read_split(out, s) for s in ("train", "val", "test"))


def test_ids_survive_the_shuffled_split_and_join_back_to_the_input(tmp_path):
    path = tmp_path / "all.csv"
    sequences = random_sequences(60)
    table = pd.DataFrame(
        {"id": [f"seq{i:03d}" for i in range(60)], "sequence": sequences, "label": [0, 1] * 30}
    )
    table.to_csv(path, index=False)
    meta = build_task("t", {"type": "binary", "source": {"csv": str(path)}}, tmp_path / "out")
    assert meta["ids"] == "column 'id'"
    rows = all_splits(tmp_path / "out")
    assert str(pq.read_schema(tmp_path / "out" / "test.parquet").field("id").type) == "string"
    assert sorted(rows["id"]) == sorted(table["id"]) and rows["id"].is_unique
    joined = rows.merge(table, on="id", suffixes=("", "_input"))
    assert len(joined) == 60 and (joined["sequence"] == joined["sequence_input"]).all()
    assert (joined["label"] == joined["label_input"]).all()


def test_without_an_id_column_ids_are_line_numbers_of_each_split_file(tmp_path):
    meta = build_task(
        "g", {"type": "binary", "source": {"csv": gue_layout(tmp_path)}}, tmp_path / "o"
    )
    assert meta["ids"] == "line numbers ('<file>:<line>', the header is line 1)"
    test = read_split(tmp_path / "o", "test")
    lines = (tmp_path / "test.csv").read_text().splitlines()
    for row in test.itertuples():
        name, line = row.id.split(":")
        assert name == "test.csv" and lines[int(line) - 1].startswith(row.sequence + ",")


def test_a_duplicate_id_names_the_file_the_id_and_its_lines(tmp_path):
    path = tmp_path / "dup.csv"
    ids = [f"s{i}" for i in range(40)]
    ids[7] = ids[30] = "s3"
    pd.DataFrame({"id": ids, "sequence": random_sequences(40), "label": [0, 1] * 20}).to_csv(
        path, index=False
    )
    with pytest.raises(
        TaskInputError,
        match=r"id 's3' \(column 'id'\) occurs 3 times: \S*dup\.csv line 5; \S*dup\.csv line 9; "
        r"\S*dup\.csv line 32; 1 id\(s\) repeat.*Fix: make the ids unique, or set source\.id_column",
    ):
        build_task("d", {"type": "binary", "source": {"csv": str(path)}}, tmp_path / "out")
    # ids repeat across the user's split files too, here FASTA record names
    for split in ("train", "val", "test"):
        records = "".join(f">r{i} label={i % 2}\nACGTACGT\n" for i in range(4))
        (tmp_path / f"{split}.fa").write_text(records)
    with pytest.raises(
        TaskInputError,
        match=r"id 'r0' \(FASTA record names\) occurs 3 times: \S*train\.fa record 1",
    ):
        build_task(
            "f",
            {"type": "binary", "source": {"fasta": str(tmp_path / "{split}.fa")}},
            tmp_path / "f",
        )


# ---------------------------------------------------------------- config


@pytest.fixture
def config():
    with open(ROOT / "config" / "config.yaml") as handle:
        return yaml.safe_load(handle)


def test_default_tasks_pass_the_checks(config):
    check_task_specs(config)


def test_random_split_of_genome_task_is_refused(config):
    config["tasks"]["promoter"]["source"]["split"] = {"by": "random"}
    with pytest.raises(ConfigError, match=r"tasks\.promoter\.source\.split\.by.*never at random"):
        check_task_specs(config)


def test_annotation_task_needs_an_annotated_genome(config):
    config["genomes"]["plain"] = {"path": "x.fa"}
    config["tasks"]["promoter"]["source"]["annotation"]["genome"] = "plain"
    with pytest.raises(
        ConfigError, match=r"genome 'plain' has no annotation.*genomes\.plain\.annotation"
    ):
        check_task_specs(config)


def test_annotation_regression_and_binary_without_negatives_are_refused(config):
    bad = copy.deepcopy(config)
    bad["tasks"]["promoter"]["type"] = "regression"
    with pytest.raises(ConfigError, match=r"tasks\.promoter\.type.*bed source with a score"):
        check_task_specs(bad)
    config["tasks"]["promoter"]["source"]["annotation"]["negatives"] = "none"
    with pytest.raises(ConfigError, match=r"binary task needs negatives"):
        check_task_specs(config)


def test_multiclass_annotation_needs_classes(config):
    config["tasks"]["promoter"]["type"] = "multiclass"
    with pytest.raises(ConfigError, match=r"label_attribute.*'\|'"):
        check_task_specs(config)


def test_id_column_is_for_tables_only(config):
    config["tasks"]["promoter"]["source"]["id_column"] = "gene"
    with pytest.raises(
        ConfigError, match=r"tasks\.promoter\.source\.id_column': only for csv, tsv and parquet"
    ):
        check_task_specs(config)


def test_binary_labels_must_be_two(config):
    config["tasks"]["promoter"]["labels"] = ["a", "b", "c"]
    with pytest.raises(ConfigError, match=r"tasks\.promoter\.labels.*binary task has 2 labels"):
        check_task_specs(config)


def test_with_defaults_fills_schema_defaults_without_touching_input():
    spec = {"type": "binary", "source": {"annotation": {"genome": "g", "feature": "CDS"}}}
    full = with_defaults(spec)
    assert full["source"]["annotation"]["length"] == 200
    assert full["source"]["annotation"]["gc_match"] is True
    assert full["source"]["split"] == {"val": 0.1, "test": 0.1, "seed": 0, "by": "auto"}
    assert "split" not in spec["source"]


# ---------------------------------------------------------------- workflow


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.workflow
def test_editing_one_task_reruns_only_that_task(tmp_path, config):
    gue_layout(tmp_path)
    write_csv(tmp_path / "other.csv", random_sequences(60, seed=9), [0, 1] * 30)
    config["tasks"] = {
        "gue": {"type": "binary", "source": {"csv": "{split}.csv"}},
        "other": {"type": "binary", "source": {"csv": "other.csv"}},
    }
    del config["apply"]  # its cells are the demo's tasks'
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    targets = ["results/tasks/gue/meta.json", "results/tasks/other/meta.json"]
    _snakemake(tmp_path, "--cores", "1", *targets)
    assert (
        json.loads((tmp_path / "results/tasks/other/meta.json").read_text())["counts"]["test"] == 6
    )
    assert (tmp_path / "logs/build_task/gue.log").read_text().count("task gue (binary, csv)") == 1
    assert (tmp_path / "benchmarks/results/build_task/gue.tsv").exists()

    config["tasks"]["other"]["source"]["split"] = {"seed": 1}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    rerun = _snakemake(tmp_path, "-n", "--printshellcmds", *targets).stdout
    assert "wildcards: task=other" in rerun and "wildcards: task=gue" not in rerun
