"""Baselines: each learns a planted signal on tiny data in about a second, on the LM cells'
label subsample, for every task type, and writes outputs the evaluate stage scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dnatune import metrics
from dnatune.baselines import BaselineArguments, train_baseline
from dnatune.baselines.cnn import OneHotCNN, encode
from dnatune.baselines.kmer_lr import kmer_spectrum
from dnatune.evaluate.score import evaluate_cell
from dnatune.genome.kmer import as_bytes, reverse_complement

MOTIFS = ("TATAAT", "GCGCGC", "CATGCA")
NUM_LABELS = {"binary": 2, "multiclass": 3, "multilabel": 2, "regression": 1}
CHANCE = {"binary": 0.0, "multiclass": 0.0, "multilabel": 0.5, "regression": 0.0}


def planted(rng, motifs: list[str], length: int) -> str:
    """A random sequence with each motif planted once at a random place (they may overlap)."""
    bases = list("".join(rng.choice(list("ACGT"), length)))
    for motif in motifs:
        at = int(rng.integers(0, length - len(motif)))
        bases[at : at + len(motif)] = motif
    return "".join(bases)


def example(rng, task_type: str, lengths) -> tuple[str, object]:
    length = int(rng.integers(*lengths))
    if task_type == "binary":
        label = int(rng.integers(0, 2))
        return planted(rng, [MOTIFS[0]] * 2 * label, length), label
    if task_type == "multiclass":
        label = int(rng.integers(0, 3))
        return planted(rng, [MOTIFS[label]] * 2, length), label
    if task_type == "multilabel":
        label = rng.integers(0, 2, 2).astype("int8")
        return planted(
            rng, [m for m, on in zip(MOTIFS, label, strict=False) for _ in range(2 * on)], length
        ), label
    gc = rng.uniform(0.2, 0.8)
    sequence = "".join(rng.choice(list("ATCG"), length, p=[(1 - gc) / 2] * 2 + [gc / 2] * 2))
    return sequence, (sequence.count("G") + sequence.count("C")) / length


def motif_task(
    root: Path, task_type: str, sizes=(300, 100, 100), lengths=(80, 121), seed=0
) -> Path:
    """Labels set by planted motifs (regression: by GC content); lengths vary, so the CNN
    pads and masks."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        rows = [example(rng, task_type, lengths) for _ in range(n)]
        pd.DataFrame(
            {
                "id": [f"{split}{i}" for i in range(n)],
                "sequence": [s for s, _ in rows],
                "label": [y for _, y in rows],
            }
        ).to_parquet(root / f"{split}.parquet")
    meta = {
        "task": root.name,
        "type": task_type,
        "num_labels": NUM_LABELS[task_type],
        "label_names": [],
    }
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def run(task: Path, out: Path, variant: str, **kwargs) -> dict:
    args = BaselineArguments(variant, str(task), str(out), threads=1, **kwargs)
    return train_baseline(args)


def evaluate(task: Path, out: Path, variant: str) -> dict:
    return evaluate_cell(
        out / "predictions.parquet",
        out / "history.json",
        task / "meta.json",
        out / "metrics.json",
        task=task.name,
        model="baseline",
        variant=variant,
        label_fraction=1.0,
        seed=0,
        bootstrap=50,
    )


# (metric, floor) a baseline must beat on the test split. Chance is 0 for MCC and Pearson r
# and 0.5 for macro-AUROC; the CNN's floors sit well below what it reaches (MCC 0.50 and
# 0.51, AUROC 0.69, r 0.96), the spectrum's too (0.92, 0.98, 0.99, 0.99)
FLOORS = {
    ("binary", "cnn"): ("mcc", 0.35),
    ("multiclass", "cnn"): ("mcc", 0.35),
    ("multilabel", "cnn"): ("macro_auroc", 0.62),
    ("regression", "cnn"): ("pearson", 0.8),
    ("binary", "kmer_lr"): ("mcc", 0.8),
    ("multiclass", "kmer_lr"): ("mcc", 0.8),
    ("multilabel", "kmer_lr"): ("macro_auroc", 0.9),
    ("regression", "kmer_lr"): ("pearson", 0.9),
}


@pytest.mark.parametrize(("task_type", "variant"), list(FLOORS))
def test_each_baseline_learns_a_planted_signal_of_every_task_type(tmp_path, task_type, variant):
    task = motif_task(tmp_path / task_type, task_type)
    history = run(task, tmp_path / "cell", variant)
    result = evaluate(task, tmp_path / "cell", variant)
    metric, floor = FLOORS[(task_type, variant)]
    assert result["metrics"][metric]["value"] > floor, result["metrics"]
    assert set(result["metrics"]) == set(metrics.METRICS[task_type])
    assert result["n_test"] == 100 and result["n_train"] == 300 and result["method"] == variant
    assert history["train_seconds"] < 10  # about a second; the bound leaves room for a busy CI
    predictions = pd.read_parquet(tmp_path / "cell" / "predictions.parquet")
    for split in ("val", "test"):
        part = predictions[predictions["split"] == split]
        frame = pd.read_parquet(task / f"{split}.parquet")
        assert part["row"].tolist() == list(range(len(frame)))
        assert part["id"].tolist() == frame["id"].tolist()
    assert (tmp_path / "cell" / "model" / "dnatune_baseline.json").exists()


@pytest.mark.parametrize("variant", ["cnn", "kmer_lr"])
def test_a_baseline_trains_on_the_label_subsample_of_the_model_cells(
    tmp_path, monkeypatch, variant
):
    import dnatune.train.finetune
    from dnatune.baselines import cnn, kmer_lr

    module = {"cnn": cnn, "kmer_lr": kmer_lr}[variant]
    fit, seen = getattr(module, f"fit_{variant}"), {}

    def spy(cell, *args):
        seen["train"] = cell.frames["train"]
        return fit(cell, *args)

    monkeypatch.setattr(module, f"fit_{variant}", spy)
    task = motif_task(tmp_path / "task", "multiclass")
    history = run(task, tmp_path / "cell", variant, label_fraction=0.25, seed=3)
    train = pd.read_parquet(task / "train.parquet")
    expected = dnatune.train.finetune.label_subsample(train, "multiclass", 0.25, 3)
    assert seen["train"]["id"].tolist() == expected["id"].tolist()
    assert history["n_train"] == len(expected) == 75
    other_seed = dnatune.train.finetune.label_subsample(train, "multiclass", 0.25, 4)
    assert other_seed["id"].tolist() != expected["id"].tolist()


def test_the_same_seed_gives_the_same_cnn(tmp_path):
    task = motif_task(tmp_path / "task", "binary", sizes=(100, 40, 40))
    for name in ("a", "b"):
        run(task, tmp_path / name, "cnn", seed=5, settings={"epochs": 3})
    first, second = (pd.read_parquet(tmp_path / n / "predictions.parquet") for n in ("a", "b"))
    pd.testing.assert_frame_equal(first, second)


def test_cnn_output_does_not_depend_on_padding_or_batch():
    """A sequence gives the same output padded to 100 or to 160, alone or beside a longer one,
    in training mode (batch statistics) as in evaluation mode."""
    import torch

    torch.manual_seed(0)
    short, long = "ACGTTGCA" * 11, "TTGACA" * 25  # 88 and 150 bases
    model = OneHotCNN(100, 2, [6, 5, 4], 5, 2, 16, readout="max")
    for training in (True, False):
        model.train(training)
        outputs = []
        for length, batch in ((100, [short]), (160, [short, long]), (160, [short])):
            digits, lengths = encode(batch, length)
            with torch.no_grad():
                outputs.append(model(digits, lengths)[0])
        if training:  # the batch's statistics: alone, or with another sequence
            torch.testing.assert_close(outputs[0], outputs[2])
        else:
            torch.testing.assert_close(outputs[0], outputs[1])
            torch.testing.assert_close(outputs[0], outputs[2])


def test_kmer_spectrum_folds_strands_and_skips_n():
    sequences = ["AAAAC", "GTTTT", "AANAA", "A"]
    spectrum = kmer_spectrum(sequences, 2)
    assert spectrum.shape == (4, 10)  # 16 dinucleotides, 6 palindromes: (16 + 4) / 2
    # a sequence and its reverse complement have the same spectrum
    np.testing.assert_array_equal(spectrum[0], spectrum[1])
    rc = reverse_complement(as_bytes("ACGGTCANNTTAG")).tobytes().decode()
    np.testing.assert_array_equal(*kmer_spectrum(["ACGGTCANNTTAG", rc], 3))
    # AANAA: only AA twice (AN, NA skipped); "A" has no 2-mer
    assert spectrum[2].max() == 1.0 and spectrum[2].sum() == 1.0
    assert spectrum[3].sum() == 0
    np.testing.assert_allclose(spectrum[0].sum(), 1.0)
    assert sorted(spectrum[0][spectrum[0] > 0].round(2)) == [0.25, 0.75]  # AA x3 (=TT), AC (=GT)


def test_baseline_defaults_are_the_schema_defaults():
    import yaml

    from dnatune.baselines import cnn, kmer_lr
    from dnatune.baselines.cell import FITTERS
    from dnatune.config import BASELINES

    schema = yaml.safe_load(
        (Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml").read_text()
    )
    blocks = schema["properties"]["baselines"]["properties"]
    for name, defaults in (("cnn", cnn.DEFAULTS), ("kmer_lr", kmer_lr.DEFAULTS)):
        assert {k: v["default"] for k, v in blocks[name]["properties"].items()} == defaults
    assert set(blocks) == set(FITTERS) == set(BASELINES)


def test_an_unknown_baseline_is_a_clear_error(tmp_path):
    task = motif_task(tmp_path / "task", "binary", sizes=(20, 10, 10))
    with pytest.raises(ValueError, match="baseline 'svm' is unknown; baselines are cnn, kmer_lr"):
        run(task, tmp_path / "cell", "svm")


def test_a_label_fraction_without_both_classes_names_the_file(tmp_path):
    task = motif_task(tmp_path / "task", "binary", sizes=(20, 10, 10))
    with pytest.raises(ValueError, match="train.parquet: cannot draw a stratified label fraction"):
        run(task, tmp_path / "cell", "kmer_lr", label_fraction=0.05)


# ---------------------------------------------------------------- the grid


def grid_config(**finetune) -> dict:
    from conftest import tiny_config

    config = tiny_config()
    config["tasks"]["coding"] = {
        "type": "binary",
        "source": {"annotation": {"genome": "demo", "feature": "CDS", "length": 100}},
    }
    config["finetune"].update(finetune)
    return config


def validated(config: dict) -> dict:
    from dnatune.config import validate_config

    return validate_config(
        config, Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml"
    )


def test_baseline_cells_belong_to_the_task_one_per_fraction_and_seed():
    from dnatune.config import grid

    config = validated(
        grid_config(
            variants=["scratch", "cnn", "kmer_lr"], label_fractions=[0.5, 1.0], seeds=[0, 1]
        )
    )
    config["models"]["wide"] = config["models"]["tiny"]
    cells = grid(config)
    baseline = {(c.task, c.variant, c.fraction, c.seed) for c in cells if c.model == "baseline"}
    assert baseline == {
        (t, v, f, s)
        for t in ("promoter", "coding")
        for v in ("cnn", "kmer_lr")
        for f in ("0.5", "1")
        for s in (0, 1)
    }
    assert len([c for c in cells if c.model == "baseline"]) == 16  # not one per model
    lm = {(c.model, c.variant) for c in cells if c.model != "baseline"}
    assert lm == {("tiny", "scratch"), ("wide", "scratch")}
    assert {c.variant for c in cells if c.model == "baseline"} == {"cnn", "kmer_lr"}
    assert config["baselines"]["kmer_lr"]["k"] == 4  # schema defaults filled in


def test_a_task_may_ask_for_baselines_only():
    from dnatune.config import grid

    config = grid_config()
    config["tasks"]["coding"]["finetune"] = {"variants": ["kmer_lr"]}
    cells = grid(validated(config))
    assert {(c.model, c.variant) for c in cells if c.task == "coding"} == {("baseline", "kmer_lr")}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda c: c["models"].update(baseline=c["models"]["tiny"]),
            r"key 'models\.baseline': the model name 'baseline' is reserved",
        ),
        (
            lambda c: c["finetune"].update(variants=["continued", "cnn"]),
            r"key 'finetune\.variants': model 'tiny' has none of the variants",
        ),
        (
            lambda c: c.update(baselines={"kmer_lr": {"k": 9}}),
            r"key 'baselines\.kmer_lr\.k': 9 is greater than the maximum of 6",
        ),
        (
            lambda c: c.update(baselines={"cnn": {"chanels": [8]}}),
            r"unknown key 'baselines\.cnn\.chanels': did you mean 'channels'\?",
        ),
        (
            lambda c: c["finetune"].update(variants=["scratch", "svm"]),
            r"key 'finetune\.variants\.1': 'svm' is not one of",
        ),
    ],
)
def test_a_baseline_config_error_names_the_key(change, error):
    from dnatune.config import ConfigError

    config = grid_config()
    change(config)
    with pytest.raises(ConfigError, match=error):
        validated(config)


# ---------------------------------------------------------------- the workflow

BASELINE_GRID = {
    "variants": ["scratch", "pretrained", "cnn", "kmer_lr"],
    "label_fractions": [0.5, 1.0],
    "seeds": [0, 1],
}


@pytest.mark.workflow
def test_dry_run_plans_baseline_cells_per_task_fraction_and_seed_and_reruns_on_edits(tmp_path):
    from conftest import write_config
    from test_rerun import edit, mark_complete, planned_jobs

    write_config(tmp_path, grid_config(**BASELINE_GRID))
    jobs = planned_jobs(tmp_path)
    cells = {
        (t, v, f, s)
        for t in ("promoter", "coding")
        for v in ("cnn", "kmer_lr")
        for f in ("0.5", "1")
        for s in ("0", "1")
    }
    baseline = [
        (w["task"], w["variant"], w["fraction"], w["seed"]) for r, w in jobs if r == "baseline"
    ]
    assert sorted(baseline) == sorted(cells)  # one job each, for no model
    scored = {
        (w["task"], w["variant"], w["fraction"], w["seed"])
        for r, w in jobs
        if r == "evaluate" and w["model"] == "baseline"
    }
    assert scored == cells
    assert len([r for r, _ in jobs if r == "finetune"]) == 16  # 2 tasks x 2 variants x 2 x 2

    mark_complete(tmp_path)
    edit(tmp_path, lambda c: c.update(baselines={"kmer_lr": {"k": 3}}))
    jobs = planned_jobs(tmp_path)
    rules = {r for r, _ in jobs}  # the baseline cells, their scores and the report's tables
    assert {"baseline", "evaluate", "summary", "report"} <= rules, jobs
    assert not rules & {"build_task", "pretrain", "finetune"}, jobs
    touched = {(r, w["variant"]) for r, w in jobs if r in ("baseline", "evaluate")}
    assert touched == {("baseline", "kmer_lr"), ("evaluate", "kmer_lr")}
    assert len([r for r, _ in jobs if r == "baseline"]) == 8


@pytest.mark.workflow
def test_baseline_cells_reach_the_summary_and_the_report(tmp_path):
    from conftest import run_snakemake, tiny_config, write_config

    config = tiny_config()
    config["finetune"]["variants"] = BASELINE_GRID["variants"]
    write_config(tmp_path, config)
    run_snakemake(tmp_path, "--cores", "2")
    report = tmp_path / "results/report"
    summary = pd.read_csv(report / "summary.tsv", sep="\t")
    cells = summary.drop_duplicates(["model", "variant"])
    assert set(zip(cells.model, cells.variant, strict=True)) == {
        ("tiny", "scratch"),
        ("tiny", "pretrained"),
        ("baseline", "cnn"),
        ("baseline", "kmer_lr"),
    }
    baseline = summary[(summary.model == "baseline") & (summary.metric == "mcc")]
    assert baseline["value"].notna().all() and (baseline["train_seconds"] < 60).all()
    test = pd.read_parquet(tmp_path / "results/tasks/promoter/test.parquet")
    for variant in ("cnn", "kmer_lr"):
        cell = tmp_path / f"results/finetune/promoter/baseline/{variant}/f1/s0"
        predictions = pd.read_parquet(cell / "predictions.parquet")
        assert predictions[predictions.split == "test"]["id"].tolist() == test["id"].tolist()
        assert (tmp_path / f"logs/baseline/promoter/{variant}/f1/s0.log").read_text()
        assert (tmp_path / f"benchmarks/results/baseline/promoter/{variant}/f1/s0.tsv").exists()
    (transfer_tsv,) = tmp_path.glob("results/*/transfer.tsv")  # report/ or stats/
    transfer = pd.read_csv(transfer_tsv, sep="\t")
    assert set(transfer.model) == {"tiny"} and set(transfer.variant) == {"pretrained"}
    assert "kmer_lr" in (report / "report.html").read_text()
    # the three claims read the real cells: baselines chosen on validation, validation logs
    claims = pd.read_csv(report / "claims.tsv", sep="\t")
    better = claims[(claims.claim == "better_scores") & (claims.reference != "scratch")]
    assert len(better) and set(better.reference) <= {"cnn", "kmer_lr"}
    assert better.note.str.startswith("best baseline chosen on mean validation").all()
    speed = claims[claims.claim == "faster_convergence"]
    assert len(speed) and (speed.evidence != "absent").all(), speed.verdict.tolist()
    assert (claims[claims.claim == "less_data"].evidence != "absent").all()
