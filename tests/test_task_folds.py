"""K-fold validation for suites without a val split (the Nucleotide Transformer protocol):
fold assignment, the task folder it writes, each grid cell's train and val, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnatune.config import ConfigError
from dnatune.tasks.build import build_task
from dnatune.tasks.folds import assign_folds
from dnatune.tasks.frames import FinetuneInputError, label_subsample, load_task
from dnatune.tasks.protocols import apply_protocols
from dnatune.tasks.sources import TaskInputError
from dnatune.tasks.spec import check_task_specs

# ---------------------------------------------------------------- fold assignment


def test_folds_are_deterministic_disjoint_covering_and_stratified():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    folds = assign_folds(len(labels), 10, seed=4, strata=labels)
    assert np.array_equal(folds, assign_folds(len(labels), 10, seed=4, strata=labels))
    assert not np.array_equal(folds, assign_folds(len(labels), 10, seed=5, strata=labels))
    # one fold per example, every fold used: the folds partition the examples
    assert folds.shape == (100,) and set(folds) == set(range(10))
    for fold in range(10):  # each class spread evenly: 6, 3 and 1 per fold
        held_out = labels[folds == fold]
        assert np.bincount(held_out, minlength=3).tolist() == [6, 3, 1]


def test_unstratified_folds_are_even():
    folds = assign_folds(23, 5, seed=0)
    assert sorted(np.bincount(folds).tolist()) == [4, 4, 5, 5, 5]


# ---------------------------------------------------------------- the task folder and its cells


def nt_folder(root: Path, per_class: dict[int, int], test: int = 6, seed: int = 1) -> Path:
    """An NT task folder: train.fna and test.fna with `>name|label` headers."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    train = [(f"tr{label}_{i}", label) for label, n in per_class.items() for i in range(n)]
    tests = [(f"te{i}", i % len(per_class)) for i in range(test)]
    for name, records in (("train", train), ("test", tests)):
        text = "".join(
            f">{rid}|{label}\n" + "".join(rng.choice(list("ACGT"), size=40)) + "\n"
            for rid, label in records
        )
        (root / f"{name}.fna").write_text(text)
    return root


def nt_spec(folder: Path, folds: int | None = 5, task_type: str = "binary") -> dict:
    split = {"val_folds": folds} if folds else {}
    return {"type": task_type, "source": {"nt": str(folder), "split": split}}


@pytest.fixture
def fold_task(tmp_path) -> tuple[Path, dict]:
    folder = nt_folder(tmp_path / "promoter", {0: 30, 1: 20})
    meta = build_task("promoter", nt_spec(folder), tmp_path / "task")
    return tmp_path / "task", meta


def test_the_task_folder_keeps_train_and_test_as_published_with_a_fold_per_train_row(fold_task):
    task_dir, meta = fold_task
    train = pd.read_parquet(task_dir / "train.parquet")
    assert len(train) == 50 and sorted(train["fold"].unique()) == [0, 1, 2, 3, 4]
    assert train.groupby("fold")["label"].sum().tolist() == [4] * 5  # 20 positives, 4 a fold
    assert len(pd.read_parquet(task_dir / "val.parquet")) == 0
    assert len(pd.read_parquet(task_dir / "test.parquet")) == 6
    assert meta["val_folds"] == 5 and meta["counts"] == {"train": 50, "test": 6}
    assert meta["split_method"] == "user, val: fold (seed mod 5) of 5 folds of train"
    assert meta["warnings"] == []
    assert meta["split_detail"] == {
        "val_folds": 5,
        "seed": 0,
        "stratified": True,
        "fold_sizes": [10] * 5,
    }
    assert json.loads((task_dir / "meta.json").read_text())["val_folds"] == 5


def test_a_cell_validates_on_fold_seed_mod_k_and_trains_on_the_rest(fold_task):
    task_dir, _ = fold_task
    published = pd.read_parquet(task_dir / "train.parquet")
    vals = []
    for seed in range(5):
        task = load_task(task_dir, seed=seed)
        train, val = task.frames["train"], task.frames["val"]
        assert (val["fold"] == seed).all() and (train["fold"] != seed).all()
        assert len(train) + len(val) == 50 and not set(train["id"]) & set(val["id"])
        assert len(task.frames["test"]) == 6
        vals.append(set(val["id"]))
    assert set().union(*vals) == set(published["id"])  # every train row validates once
    again = load_task(task_dir, seed=7)  # seed 7 reuses fold 2
    assert set(again.frames["val"]["id"]) == vals[2]


def test_label_fractions_subsample_the_training_folds_only(fold_task):
    task_dir, _ = fold_task
    task = load_task(task_dir, seed=1)
    train = label_subsample(task.frames["train"], task.type, 0.5, 1)
    assert len(train) == 20 and (train["fold"] != 1).all()
    assert len(task.frames["val"]) == 10  # val stays the whole fold


def test_a_baseline_cell_trains_and_validates_on_its_folds(fold_task, tmp_path):
    from dnatune.baselines.cell import BaselineArguments, train_baseline

    task_dir, _ = fold_task
    args = BaselineArguments("kmer_lr", str(task_dir), str(tmp_path / "cell"), seed=7, threads=1)
    history = train_baseline(args)
    assert (history["n_train"], history["n_train_available"], history["n_val"]) == (40, 40, 10)
    predictions = pd.read_parquet(tmp_path / "cell/predictions.parquet")
    train = pd.read_parquet(task_dir / "train.parquet")
    fold_two = set(train.loc[train["fold"] == 2, "id"])  # seed 7 of 5 folds: fold 2
    assert set(predictions.loc[predictions["split"] == "val", "id"]) == fold_two
    assert (predictions["split"] == "test").sum() == 6


def test_a_fold_task_needs_the_cells_seed(fold_task):
    with pytest.raises(FinetuneInputError, match=r"train\.parquet: the task has 5 val folds"):
        load_task(fold_task[0])


def test_without_val_folds_the_val_split_is_carved_as_before(tmp_path):
    folder = nt_folder(tmp_path / "p", {0: 30, 1: 20})
    meta = build_task("p", nt_spec(folder, folds=None), tmp_path / "task")
    assert meta["val_folds"] is None and meta["counts"]["val"] == 5
    assert "fold" not in pd.read_parquet(tmp_path / "task/train.parquet").columns
    assert len(load_task(tmp_path / "task").frames["val"]) == 5


def test_a_sequence_in_several_folds_is_a_counted_warning(tmp_path):
    folder = nt_folder(tmp_path / "p", {0: 30, 1: 20})
    records = (folder / "train.fna").read_text().splitlines()
    headers, sequences = records[0:20:2], records[1:20:2]
    copies = [f"{h.replace('>tr', '>dup')}\n{q}\n" for h, q in zip(headers, sequences, strict=True)]
    with (folder / "train.fna").open("a") as handle:  # the first 10 sequences twice
        handle.writelines(copies)
    meta = build_task("p", nt_spec(folder), tmp_path / "task")
    train = pd.read_parquet(tmp_path / "task/train.parquet")
    in_several = int((train.groupby("sequence")["fold"].nunique() > 1).sum())
    assert 0 < in_several <= 10
    assert meta["warnings"] == [
        f"train: {in_several} sequence(s) occur in more than one fold, so a cell may validate "
        "on sequences it trains on (possible leakage)"
    ]


def test_more_folds_than_examples_of_a_class_names_the_key_and_the_fix(tmp_path):
    folder = nt_folder(tmp_path / "e", {0: 30, 1: 20, 2: 4})
    with pytest.raises(
        TaskInputError,
        match=r"val_folds = 5, but .*train\.fna holds only 4 train examples of class '2'.*"
        r"set source\.split\.val_folds to at most 4",
    ):
        build_task("e", nt_spec(folder, task_type="multiclass"), tmp_path / "task")


def test_val_folds_with_the_sources_own_val_split_is_an_error(tmp_path):
    for split in ("train", "val", "test"):
        rows = "".join(f"{'ACGT' * 5},{i % 2}\n" for i in range(20))
        (tmp_path / f"{split}.csv").write_text("sequence,label\n" + rows)
    spec = {
        "type": "binary",
        "source": {"csv": str(tmp_path / "{split}.csv"), "split": {"val_folds": 5}},
    }
    with pytest.raises(
        TaskInputError,
        match=r"val_folds = 5, but the source has its own val split .*val\.csv.*Fix: drop",
    ):
        build_task("t", spec, tmp_path / "task")


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ({"gue": "GUE/prom"}, r"a GUE folder has its own val split \(dev\.csv\)"),
        ({"csv": "one_table.csv"}, r"needs .*one csv file \(no '\{split\}' in its path\)"),
        (
            {"annotation": {"genome": "g", "feature": "CDS"}},
            r"needs .*the annotation source's examples are split by chromosome or region",
        ),
    ],
)
def test_val_folds_on_a_source_that_splits_otherwise_is_a_config_error(source, error):
    source = {**source, "split": {"val_folds": 10}}
    config = {"genomes": {"g": {}}, "tasks": {"t": {"type": "binary", "source": source}}}
    with pytest.raises(ConfigError, match=r"key 'tasks\.t\.source\.split\.val_folds': " + error):
        check_task_specs(config)


# ---------------------------------------------------------------- the nt protocol


def test_the_nt_protocol_gives_nt_folders_ten_folds_as_seeds_and_written_keys_win():
    tasks = {
        "a": {"type": "binary", "protocol": "nt", "source": {"nt": "d"}},
        "b": {
            "type": "binary",
            "protocol": "nt",
            "source": {"nt": "d", "split": {"val_folds": 4}},
        },
        "c": {
            "type": "binary",
            "protocol": "nt",
            "finetune": {"seeds": [0, 1, 2]},
            "source": {"nt": "d"},
        },
        "d": {"type": "binary", "protocol": "nt", "source": {"csv": "x/{split}.csv"}},
    }
    config = {"finetune": {"seeds": [0, 1]}, "tasks": tasks}
    apply_protocols(config)
    assert tasks["a"]["source"]["split"] == {"val_folds": 10}
    assert tasks["a"]["finetune"]["seeds"] == list(range(10))
    assert tasks["b"]["finetune"]["seeds"] == [0, 1, 2, 3]
    assert tasks["c"]["source"]["split"]["val_folds"] == 10
    assert tasks["c"]["finetune"]["seeds"] == [0, 1, 2]  # three of the ten folds
    assert "split" not in tasks["d"]["source"] and tasks["d"]["finetune"] == {}


def test_val_folds_on_a_source_without_splits_is_an_error_at_build_too(tmp_path):
    rows = "".join(f"{'ACGT' * 5},{i % 2}\n" for i in range(40))
    (tmp_path / "all.csv").write_text("sequence,label\n" + rows)
    spec = {
        "type": "binary",
        "source": {"csv": str(tmp_path / "all.csv"), "split": {"val_folds": 3}},
    }
    with pytest.raises(TaskInputError, match=r"all\.csv has none \(no split column\).*Fix: drop"):
        build_task("t", spec, tmp_path / "task")


# ---------------------------------------------------------------- the workflow


@pytest.mark.workflow
def test_folds_run_as_grid_cells_and_reach_the_summary_and_report(tmp_path):
    from conftest import run_snakemake, tiny_config, write_config

    config = tiny_config()
    folder = nt_folder(tmp_path / "data/promoter", {0: 24, 1: 24}, test=20)
    config["tasks"] = {
        "nt_promoter": {
            "type": "binary",
            "protocol": "nt",  # MCC, and seeds 0..K-1 for the folds written here
            "source": {"nt": str(folder), "split": {"val_folds": 3}},
        }
    }
    config["finetune"].update(variants=["scratch", "kmer_lr"], seeds=[5])  # seeds: the preset's
    write_config(tmp_path, config)
    run_snakemake(tmp_path, "--cores", "2")

    train = pd.read_parquet(tmp_path / "results/tasks/nt_promoter/train.parquet")
    assert len(train) == 48 and set(train["fold"]) == {0, 1, 2}
    for model, variant in (("tiny", "scratch"), ("baseline", "kmer_lr")):
        for seed in range(3):
            cell = tmp_path / f"results/finetune/nt_promoter/{model}/{variant}/f1/s{seed}"
            predictions = pd.read_parquet(cell / "predictions.parquet")
            val = set(predictions.loc[predictions["split"] == "val", "id"])
            assert val == set(train.loc[train["fold"] == seed, "id"]), (variant, seed)
            assert (predictions["split"] == "test").sum() == 20
    summary = pd.read_csv(tmp_path / "results/report/summary.tsv", sep="\t")
    mcc = summary[summary["metric"] == "mcc"]
    assert sorted(mcc.groupby("variant")["seed"].apply(sorted).tolist()) == [[0, 1, 2]] * 2
    html = (tmp_path / "results/report/report.html").read_text()
    assert "user, val: fold (seed mod 3) of 3 folds of train" in html
