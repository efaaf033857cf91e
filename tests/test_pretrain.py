"""Pre-training: real tiny runs (MLM and CLM), kill-and-resume, and the pieces they rely on."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from model_fixtures import CHAR, KMER3, make_corpus, make_tokenizer, pretrain_args, tiny_setup
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    TrainerCallback,
    TrainerState,
)

from dnatune.corpus.shards import load_corpus
from dnatune.corpus.tokenizers import DnaTokenizer
from dnatune.train import masking, pretrain, pretrain_data

KMER6_NONOVERLAP = {"kind": "kmer", "k": 6, "overlap": False}


@pytest.mark.parametrize(
    ("architecture", "objective"),
    [("bert", "mlm"), ("esm", "mlm"), ("gpt2", "clm"), ("llama", "clm")],
)
def test_pretraining_learns_with_the_family_objective(tmp_path, architecture, objective):
    setup = tiny_setup(tmp_path, architecture)
    summary = pretrain.main(pretrain_args(tmp_path, setup, max_steps=30))

    assert summary["objective"] == objective
    assert summary["global_step"] == 30
    out = tmp_path / "out"
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert losses[-1] < losses[0] - 0.3
    # its reference: the unigram entropy of the val windows it was scored on
    val = pretrain_data.fit_to_length(load_corpus([str(setup["corpus"])], "val"), 80)
    assert summary["val_unigram_entropy"] == pytest.approx(
        pretrain_data.unigram_entropy(val, DnaTokenizer.from_pretrained(setup["tokenizer"]).hf)
    )
    assert "uniform_loss" not in summary
    # the output is a complete HF dir with its tokenizer; checkpoints are cleaned up
    auto = AutoModelForMaskedLM if objective == "mlm" else AutoModelForCausalLM
    assert auto.from_pretrained(out).config.model_type == architecture
    assert DnaTokenizer.from_pretrained(out).kind == "kmer"
    assert json.loads((out / "pretrain_summary.json").read_text())["objective"] == objective
    assert not (tmp_path / "checkpoints").exists()


def test_the_reference_loss_is_the_unigram_entropy_of_the_val_tokens(tmp_path):
    """GC 0.36, one token per base: about 1.35 nats, where a uniform guess says ln 5 (with N)."""
    tokenizer = DnaTokenizer.from_pretrained(make_tokenizer(tmp_path / "char", CHAR)).hf
    windows = ["A" * 32 + "C" * 18 + "G" * 18 + "T" * 32, "ACGT" * 5 + "N"]  # N: 1 in 121
    val = datasets.Dataset.from_dict({"input_ids": tokenizer(windows)["input_ids"]})
    assert tokenizer.cls_token_id in val[0]["input_ids"]  # specials are there, and left out
    p = np.array([37, 23, 23, 37, 1]) / 121
    assert pretrain_data.unigram_entropy(val, tokenizer) == pytest.approx(-(p * np.log(p)).sum())


def test_a_finished_run_leaves_no_empty_checkpoint_folders_and_no_training_args(tmp_path):
    setup = tiny_setup(tmp_path, "gpt2")
    args = pretrain_args(tmp_path, setup, max_steps=4, save_steps=2)
    args.checkpoint_dir = str(tmp_path / "results/checkpoints/pretrain/tiny/pretrained")
    pretrain.main(args)
    assert not any((tmp_path / "results").iterdir())  # results/checkpoints/... all gone
    assert (tmp_path / "out/model.safetensors").exists()
    assert not (tmp_path / "out/training_args.bin").exists()


def test_explicit_objective_must_fit_the_model(tmp_path):
    setup = tiny_setup(tmp_path, "bert")
    with pytest.raises(ValueError, match="pretrain.objective.*clm does not fit an? encoder"):
        pretrain.main(pretrain_args(tmp_path, setup, objective="clm"))


def test_empty_training_corpus_is_a_clear_error(tmp_path):
    setup = tiny_setup(tmp_path, "bert")
    empty = make_corpus(tmp_path / "empty", setup["tokenizer"], n_train=0, n_val=0)
    args = pretrain_args(tmp_path, setup)
    args.corpus_dirs = [str(empty)]
    with pytest.raises(ValueError, match="no training windows"):
        pretrain.main(args)


def test_trainer_knobs_reach_the_trainers_arguments(tmp_path):
    class Seen(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.args = args

    setup, seen = tiny_setup(tmp_path, "gpt2"), Seen()
    knobs = {"lr_scheduler_type": "cosine", "max_grad_norm": 0.25}
    args = pretrain_args(tmp_path, setup, max_steps=2, weight_decay=0.3, trainer=knobs)
    assert pretrain.main(args, callbacks=[seen])["global_step"] == 2
    assert {key: getattr(seen.args, key) for key in knobs} == knobs
    assert seen.args.weight_decay == 0.3  # a schema key marked x-training-argument


def test_without_val_windows_training_runs_unevaluated(tmp_path):
    setup = tiny_setup(tmp_path, "gpt2")
    setup["corpus"] = make_corpus(tmp_path / "noval", setup["tokenizer"], n_train=40, n_val=0)
    summary = pretrain.main(pretrain_args(tmp_path, setup, max_steps=3))
    assert summary["global_step"] == 3 and summary["eval_loss"] is None


KILL_AFTER_FIRST_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    from transformers import TrainerCallback
    from dnatune.train.pretrain import PretrainArguments, main

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)  # as the scheduler would: no clean-up

    main(PretrainArguments(**eval(sys.argv[1])), callbacks=[Kill()])
    """
)


class FirstStep(TrainerCallback):
    def __init__(self):
        self.steps = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


@pytest.mark.slow
def test_killed_pretraining_resumes_from_its_last_checkpoint(tmp_path):
    setup = tiny_setup(tmp_path, "bert")
    args = pretrain_args(tmp_path, setup, max_steps=30, save_steps=10)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_FIRST_SAVE, repr(vars(args))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr[-3000:]
    assert (tmp_path / "checkpoints" / "checkpoint-10").is_dir()
    assert not (tmp_path / "out").exists()  # a killed job leaves no finished-looking output

    steps = FirstStep()
    summary = pretrain.main(args, callbacks=[steps])

    assert summary["resumed_from_step"] == 10
    assert steps.steps[0] == 11
    assert summary["global_step"] == 30
    history = json.loads((tmp_path / "out" / "trainer_state.json").read_text())["log_history"]
    logged = [entry["step"] for entry in history if "loss" in entry]
    assert logged[0] == 1 and logged[-1] == 30  # the killed run's log is carried over


class Interrupt(Exception):
    pass


class InterruptAfterSave(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Interrupt  # the checkpoint of this step is complete on disk


@pytest.mark.slow
@pytest.mark.parametrize(
    ("architecture", "tokenizer"),
    [("bert", CHAR), ("bert", KMER3), ("bert", KMER6_NONOVERLAP), ("gpt2", CHAR)],
    ids=["mlm-char", "mlm-kmer-overlap", "mlm-kmer-nonoverlap", "clm-char"],
)
def test_interrupted_pretraining_resumes_to_the_uninterrupted_model(
    tmp_path, architecture, tokenizer
):
    setup = tiny_setup(tmp_path, architecture, tokenizer)
    straight_args = pretrain_args(tmp_path / "straight", setup, max_steps=30, logging_steps=1)
    straight = pretrain.main(straight_args)

    # 200 windows in batches of 16: 13 steps an epoch. Interrupted after the checkpoint of
    # step 20, the rerun skips the 7 trained batches of the second epoch, then starts a third.
    args = pretrain_args(tmp_path / "resumed", setup, max_steps=30, logging_steps=1)
    with pytest.raises(Interrupt):
        pretrain.main(args, callbacks=[InterruptAfterSave(20)])
    resumed = pretrain.main(args)

    assert resumed["resumed_from_step"] == 20
    history = [
        [(e["step"], e["loss"]) for e in run.log_history if "loss" in e]
        for run in (load_state(straight_args), load_state(args))
    ]
    assert history[0] == history[1]  # every step's training loss, exactly
    assert resumed["eval_loss"] == straight["eval_loss"]
    weights = [load_file(Path(a.output_dir) / "model.safetensors") for a in (straight_args, args)]
    assert weights[0].keys() == weights[1].keys()
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name


def load_state(args: pretrain.PretrainArguments) -> TrainerState:
    return TrainerState.load_from_json(str(Path(args.output_dir) / "trainer_state.json"))


def test_checkpoints_of_other_settings_are_discarded(tmp_path):
    setup = tiny_setup(tmp_path, "bert")
    args = pretrain_args(tmp_path, setup)
    pretrain.discard_stale_checkpoints(args)
    (tmp_path / "checkpoints" / "checkpoint-10").mkdir()

    pretrain.discard_stale_checkpoints(args)  # same run: kept
    assert (tmp_path / "checkpoints" / "checkpoint-10").is_dir()

    args.lr = 1e-4
    pretrain.discard_stale_checkpoints(args)  # edited learning rate: not resumable
    assert not (tmp_path / "checkpoints" / "checkpoint-10").exists()
    assert json.loads((tmp_path / "checkpoints" / pretrain.FINGERPRINT).read_text())["lr"] == 1e-4


def test_a_checkpoint_killed_while_saving_is_skipped(tmp_path):
    for step, complete in [(10, True), (20, True), (30, False)]:
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    assert pretrain.last_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-20")
    assert (tmp_path / "checkpoint-30").exists()
    pretrain.last_complete_checkpoint(str(tmp_path), clean=True)
    assert not (tmp_path / "checkpoint-30").exists()
    assert pretrain.last_complete_checkpoint(str(tmp_path / "none")) is None


def test_windows_longer_than_the_model_are_chunked():
    data = datasets.Dataset.from_dict({"input_ids": [list(range(10)), [1, 2, 3]]})
    out = pretrain_data.fit_to_length(data, 4)
    assert out["input_ids"] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [1, 2, 3]]
    assert pretrain_data.fit_to_length(data, 10) is data


def seeded_windows(tokenizer, seqs: list[str], seed=0) -> masking.MaskSeeded:
    return masking.MaskSeeded(datasets.Dataset.from_dict(tokenizer(seqs)), seed)


def test_overlapping_kmers_are_masked_in_spans_of_k(tmp_path):
    tokenizer = DnaTokenizer.from_pretrained(tiny_setup(tmp_path, "bert", KMER3)["model"])
    collator = masking.language_modeling_collator(tokenizer.hf, "mlm", 0.15, tokenizer.kmer)
    assert isinstance(collator, masking.KmerSpanCollator)
    windows = seeded_windows(tokenizer, ["ACGT" * 50] * 64)
    batch = collator(windows.__getitems__(list(range(64))))
    masked = batch["labels"] != -100
    content = masked[:, 1:-1]  # [CLS] and [SEP] are never masked
    assert not masked[:, 0].any() and not masked[:, -1].any()
    assert 0.08 < content.float().mean() < 0.25
    # every run of masked tokens away from the sequence ends is at least k long
    for row in content.int().tolist():
        runs = "".join(map(str, row)).strip("1").split("0")
        assert all(len(run) >= 3 for run in runs if run)


@pytest.mark.parametrize("spec", [CHAR, KMER3], ids=["char", "kmer-overlap"])
def test_a_windows_mask_depends_only_on_seed_epoch_and_window(tmp_path, spec):
    tokenizer = DnaTokenizer.from_pretrained(tiny_setup(tmp_path, "bert", spec)["model"])
    collator = masking.language_modeling_collator(tokenizer.hf, "mlm", 0.15, tokenizer.kmer)
    windows = seeded_windows(tokenizer, ["ACGTTGCA" * 8, "ACG" * 30, "TTGACA" * 12])

    def mask_of_window_0(batch_indices, epoch=0, seed=0):
        windows.seed = seed
        windows.set_epoch(epoch)
        batch = collator(windows.__getitems__(batch_indices))
        length = len(windows.windows[0]["input_ids"])
        return batch["input_ids"][0, :length].tolist(), batch["labels"][0, :length].tolist()

    alone = mask_of_window_0([0])
    assert any(label != -100 for label in alone[1])
    # beside other windows, padded to another width, in another order: the same mask
    assert mask_of_window_0([0, 1, 2]) == alone == mask_of_window_0([0, 2])
    assert collator([windows[2], windows[0]])["labels"][1, : len(alone[1])].tolist() == alone[1]
    # a new epoch or another run seed draws new masks
    assert mask_of_window_0([0], epoch=1) != alone
    assert mask_of_window_0([0], seed=1) != alone


@pytest.mark.parametrize("spec", [CHAR, KMER3], ids=["char", "kmer3"])
def test_a_left_padded_window_gets_the_mask_it_gets_alone(tmp_path, spec):
    tokenizer = DnaTokenizer.from_pretrained(tiny_setup(tmp_path, "bert", spec)["model"])
    tokenizer.hf.padding_side = "left"  # as a family table entry may set it
    collator = masking.language_modeling_collator(tokenizer.hf, "mlm", 0.15, tokenizer.kmer)
    windows = seeded_windows(tokenizer, ["ACGTTGCA" * 4, "ACG" * 30])
    length = len(windows.windows[0]["input_ids"])
    alone = collator(windows.__getitems__([0]))
    padded = collator(windows.__getitems__([0, 1]))
    assert padded["input_ids"].shape[1] > length  # window 0 was padded, on the left
    assert padded["attention_mask"][0, :-length].sum() == 0
    for key in ("input_ids", "labels"):
        assert padded[key][0, -length:].tolist() == alone[key][0].tolist()
    assert (padded["labels"][0, :-length] == -100).all()  # padding is never scored


def test_windows_without_a_mask_seed_are_refused(tmp_path):
    tokenizer = DnaTokenizer.from_pretrained(tiny_setup(tmp_path, "bert", CHAR)["model"])
    collator = masking.language_modeling_collator(tokenizer.hf, "mlm", 0.15, tokenizer.kmer)
    with pytest.raises(ValueError, match="need a 'mask_seed'.*MaskSeeded"):
        collator([{"input_ids": [2, 5, 6, 3]}])


def test_char_tokens_use_the_stock_masking(tmp_path):
    tokenizer = DnaTokenizer.from_pretrained(tiny_setup(tmp_path, "bert", CHAR)["model"])
    collator = masking.language_modeling_collator(tokenizer.hf, "mlm", 0.15, tokenizer.kmer)
    assert type(collator) is masking.SeededMaskCollator
    clm = masking.language_modeling_collator(tokenizer.hf, "clm", 0.15, tokenizer.kmer)
    batch = clm([{"input_ids": [2, 5, 6, 3]}, {"input_ids": [2, 5, 3]}])
    assert batch["labels"].tolist() == [[2, 5, 6, 3], [2, 5, 3, -100]]  # dynamic padding
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]


def test_objective_auto_follows_the_saved_architecture(tmp_path):
    for architecture, expected in [("bert", "mlm"), ("gpt2", "clm")]:
        setup = tiny_setup(tmp_path / architecture, architecture)
        config = AutoConfig.from_pretrained(setup["model"])
        assert pretrain.resolve_objective("auto", config) == expected
    with pytest.raises(ValueError, match="not one of auto, mlm, clm"):
        pretrain.resolve_objective("span", config)


def test_uneven_batch_split_is_reported(caplog):
    assert pretrain.per_device_batch(32, 2) == 16
    assert pretrain.per_device_batch(10, 3) == 3
    assert "does not split over 3 processes" in caplog.text


def test_checkpoint_step_parses_the_directory_name():
    assert pretrain.checkpoint_step(str(Path("x") / "checkpoint-120")) == 120
    assert pretrain.checkpoint_step(None) == 0
