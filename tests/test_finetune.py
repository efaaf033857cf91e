"""Fine-tuning one grid cell: real, tiny training runs on a 1-layer BERT with a char tokenizer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    BertForSequenceClassification,
    EsmConfig,
    EsmForSequenceClassification,
    GPT2Config,
    GPT2ForSequenceClassification,
    LlamaConfig,
    LlamaForSequenceClassification,
    TrainerCallback,
)

from dnatune import metrics
from dnatune.cell_outputs import read_predictions
from dnatune.corpus.tokenizers import DnaTokenizer, build_tokenizer
from dnatune.evaluate.score import EvaluationInputError, evaluate_cell
from dnatune.train.finetune import (
    FinetuneArguments,
    FinetuneInputError,
    _weighted_loss,
    encode_split,
    finetune,
    label_subsample,
    lora_target_modules,
    prepare_method,
)
from dnatune.train.models import init_scratch_model, load_sequence_classifier

SPEC = {
    "architecture": "bert",
    "layers": 1,
    "hidden": 32,
    "heads": 2,
    "intermediate": 64,
    "max_length": 64,
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("model")
    build_tokenizer({"kind": "char"}, root / "tokenizer")
    init_scratch_model(SPEC, root / "tokenizer", root / "base", seed=0)
    return root / "base"


def random_sequences(rng, labels, gc_of, lengths=(30, 60)) -> list[str]:
    out = []
    for label in labels:
        gc = gc_of(label)
        p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
        n = int(rng.integers(*lengths))
        out.append("".join(rng.choice(list("ACGT"), n, p=p)))
    return out


def make_task(
    root: Path, task_type: str = "binary", sizes=(120, 40, 40), lengths=(30, 60), seed: int = 0
) -> Path:
    """A task whose label is readable from GC content, so a tiny model learns it in seconds."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    num_labels = {"binary": 2, "multiclass": 3, "multilabel": 2, "regression": 1}[task_type]
    for split, n in zip(("train", "val", "test"), sizes, strict=True):
        if task_type == "binary":
            labels = rng.permutation(np.arange(n) % 2).astype("int64")
            seqs = random_sequences(rng, labels, lambda y: 0.75 if y else 0.25, lengths)
        elif task_type == "multiclass":
            labels = rng.permutation(np.arange(n) % 3).astype("int64")
            seqs = random_sequences(rng, labels, lambda y: (0.2, 0.5, 0.8)[y], lengths)
        elif task_type == "multilabel":
            gc = rng.integers(0, 2, n)
            seqs = random_sequences(rng, gc, lambda y: 0.75 if y else 0.25, lengths)
            labels = [
                np.array([g, len(s) > np.mean(lengths)], dtype="int8")
                for g, s in zip(gc, seqs, strict=True)
            ]
        else:
            gcs = rng.uniform(0.2, 0.8, n)
            seqs = random_sequences(rng, gcs, lambda y: y, lengths)
            labels = np.array([(s.count("G") + s.count("C")) / len(s) for s in seqs])
        pd.DataFrame({"sequence": seqs, "label": labels}).to_parquet(root / f"{split}.parquet")
    meta = {
        "task": root.name,
        "type": task_type,
        "num_labels": num_labels,
        "label_names": [str(i) for i in range(num_labels)],
        "split_method": "random",
        "counts": dict(zip(("train", "val", "test"), sizes, strict=True)),
        "warnings": [],
    }
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def run_cell(model_dir, task_dir, out, **kwargs) -> dict:
    settings = {"lr": 5e-3, "batch_size": 16, "epochs": 3, "eval_steps": 8, "threads": 1}
    settings.update(kwargs)
    args = FinetuneArguments.defaults(
        **settings, model_dir=str(model_dir), task_dir=str(task_dir), output_dir=str(out)
    )
    return finetune(args)


@pytest.fixture(scope="module")
def binary_task(tmp_path_factory) -> Path:
    return make_task(tmp_path_factory.mktemp("tasks") / "gc", "binary")


@pytest.fixture(scope="module")
def full_run(model_dir, binary_task, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cell") / "full"
    run_cell(model_dir, binary_task, out)
    return out


# ---------------------------------------------------------------- real training runs


def test_full_finetune_learns_and_predicts_every_row_once(full_run, binary_task):
    history = json.loads((full_run / "history.json").read_text())
    losses = [e["loss"] for e in history["log_history"] if "loss" in e]
    assert len(losses) >= 3 and losses[-1] < losses[0] - 0.2
    assert history["train_steps"] == 24 and history["n_train"] == 120
    predictions = pd.read_parquet(full_run / "predictions.parquet")
    for split, n in (("val", 40), ("test", 40)):
        part = predictions[predictions["split"] == split]
        assert sorted(part["row"]) == list(range(n))
        truth = pd.read_parquet(binary_task / f"{split}.parquet")["label"].to_numpy()
        assert (part.sort_values("row")["label"].to_numpy() == truth).all()
    # predictions line up with their rows: val metrics from the file equal the Trainer's best
    val = read_predictions(full_run / "predictions.parquet", "binary", EvaluationInputError, "val")
    labels, scores = val.labels, val.scores
    assert metrics.compute_metrics("binary", labels, scores)["mcc"] == pytest.approx(
        history["best_metric"]
    )
    assert history["best_metric"] > 0.8
    # the saved model reloads (with the mean pooling it was trained with, the default)
    # as a classifier that reproduces the test scores
    assert (full_run / "model" / "dnatune_tokenizer.json").exists()
    assert history["pooling"] == "mean"
    model, tokenizer = load_sequence_classifier(
        full_run / "model", 2, "single_label_classification", reinitialise=False, seed=1
    )
    model.eval()
    test = pd.read_parquet(binary_task / "test.parquet")
    batch = tokenizer.hf.pad(tokenizer(test["sequence"].tolist()[:4]), return_tensors="pt")
    with torch.no_grad():
        probs = torch.softmax(model(**batch).logits, -1)[:, 1].numpy()
    saved = read_predictions(
        full_run / "predictions.parquet", "binary", EvaluationInputError
    ).scores[:4]
    np.testing.assert_allclose(probs, saved, atol=1e-5)


def test_same_seed_gives_the_same_metrics(model_dir, binary_task, full_run, tmp_path):
    run_cell(model_dir, binary_task, tmp_path / "again")
    first = pd.read_parquet(full_run / "predictions.parquet")
    second = pd.read_parquet(tmp_path / "again" / "predictions.parquet")
    pd.testing.assert_frame_equal(first, second)
    results = []
    for cell in (full_run, tmp_path / "again"):
        results.append(
            evaluate_cell(
                cell / "predictions.parquet",
                cell / "history.json",
                binary_task / "meta.json",
                tmp_path / f"{cell.name}.json",
                task="gc",
                model="tiny",
                variant="pretrained",
                label_fraction=1.0,
                seed=0,
                bootstrap=50,
            )
        )
    assert results[0]["metrics"] == results[1]["metrics"]


def test_lora_trains_only_adapters_and_head(model_dir, binary_task, tmp_path):
    history = run_cell(model_dir, binary_task, tmp_path / "lora", method="lora", max_steps=4)
    assert 0 < history["trainable_parameters"] < history["total_parameters"] / 2
    saved = tmp_path / "lora" / "model"
    config = json.loads((saved / "adapter_config.json").read_text())
    assert set(config["target_modules"]) == {"query", "value"}
    weights = load_file(saved / "adapter_model.safetensors")
    assert any("lora_A" in name for name in weights)
    assert any("classifier" in name for name in weights)  # the head is saved with the adapter

    model = BertForSequenceClassification(BertConfig(**TINY_BERT))
    peft_model = prepare_method(model, FinetuneArguments.defaults("m", "t", "o", method="lora"))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("lora_" in n for n in trainable)
    assert any("modules_to_save" in n and "classifier" in n for n in trainable)
    assert all("lora_" in n or "modules_to_save" in n for n in trainable), trainable


def test_probe_trains_only_the_head(model_dir, binary_task, tmp_path):
    run_cell(model_dir, binary_task, tmp_path / "probe", method="probe", max_steps=4)
    base = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    tuned = AutoModelForSequenceClassification.from_pretrained(tmp_path / "probe" / "model")
    tuned_state = tuned.state_dict()
    backbone = [n for n in base.state_dict() if n.startswith("bert.") and ".pooler." not in n]
    assert backbone
    for name in backbone:
        torch.testing.assert_close(base.state_dict()[name], tuned_state[name])

    model = BertForSequenceClassification(BertConfig(**TINY_BERT))
    prepare_method(model, FinetuneArguments.defaults("m", "t", "o", method="probe"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {
        "classifier.weight",
        "classifier.bias",
        "bert.pooler.dense.weight",
        "bert.pooler.dense.bias",
    }


@pytest.mark.parametrize(
    ("task_type", "options"),
    [
        ("multiclass", {"class_weights": True}),
        ("multilabel", {"class_weights": True}),
        ("regression", {"long_sequences": "slide"}),
    ],
)
def test_every_task_type_trains_and_scores(model_dir, tmp_path, task_type, options):
    lengths = (80, 120) if options.get("long_sequences") == "slide" else (30, 60)
    task = make_task(tmp_path / task_type, task_type, sizes=(48, 24, 24), lengths=lengths)
    history = run_cell(model_dir, task, tmp_path / "cell", max_steps=4, **options)
    result = evaluate_cell(
        tmp_path / "cell" / "predictions.parquet",
        tmp_path / "cell" / "history.json",
        task / "meta.json",
        tmp_path / "metrics.json",
        task=task_type,
        model="tiny",
        variant="scratch",
        label_fraction=1.0,
        seed=0,
        bootstrap=20,
    )
    assert set(result["metrics"]) == set(metrics.METRICS[task_type])
    assert result["n_test"] == 24
    if task_type == "regression":
        # every sequence is longer than the model's 64 tokens: slid over, one prediction per row
        assert history["long"] == {"train": 48, "val": 24, "test": 24}
        assert history["windows"]["test"] > 24
        assert history["truncated"] == {"train": 0, "val": 0, "test": 0}


@pytest.fixture(scope="module")
def misleading_task(tmp_path_factory) -> Path:
    """Val labels flipped: the more the model learns train, the worse val gets."""
    task = make_task(tmp_path_factory.mktemp("tasks") / "flipped", "binary")
    val = pd.read_parquet(task / "val.parquet")
    val.assign(label=1 - val["label"]).to_parquet(task / "val.parquet")
    return task


class WeightsAtEvaluation(TrainerCallback):
    """The model's weights at each evaluation, by step."""

    def __init__(self):
        self.weights = {}

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        self.weights[state.global_step] = {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("select", ["best", "last"])
def test_select_keeps_the_best_val_checkpoint_or_the_last(
    model_dir, misleading_task, tmp_path, select
):
    seen = WeightsAtEvaluation()
    settings = {"lr": 5e-3, "batch_size": 16, "max_steps": 16, "eval_steps": 4, "threads": 1}
    args = FinetuneArguments.defaults(
        **{**settings, "early_stopping_patience": 0, "select": select},
        model_dir=str(model_dir),
        task_dir=str(misleading_task),
        output_dir=str(tmp_path / "cell"),
    )
    history = finetune(args, callbacks=[seen])
    assert history["train_steps"] == 16 and history["best_step"] < 16  # they differ
    kept = history["best_step"] if select == "best" else 16
    assert history["select"] == select and history["kept_step"] == kept
    saved = load_file(tmp_path / "cell" / "model" / "model.safetensors")
    for step in (history["best_step"], 16):
        same = all(torch.equal(value, seen.weights[step][k]) for k, value in saved.items())
        assert same == (step == kept)


def test_by_default_early_stopping_has_evaluations_to_fire_on(model_dir, misleading_task, tmp_path):
    args = FinetuneArguments.defaults(  # the defaults, but for a short run
        model_dir=str(model_dir),
        task_dir=str(misleading_task),
        output_dir=str(tmp_path / "cell"),
        lr=5e-3,
        batch_size=16,
        epochs=5,
        threads=1,
    )
    history = finetune(args)
    assert history["eval_steps"] == 4  # ten evaluations over 5 epochs of 8 steps
    evaluations = [e["step"] for e in history["log_history"] if "eval_loss" in e]
    assert history["train_steps"] < 40 and len(evaluations) == 4  # best, then patience 3
    assert history["kept_step"] == history["best_step"] == 4


class ArgumentsSeen(TrainerCallback):
    """The TrainingArguments a Trainer runs with."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.args = args


def test_trainer_knobs_reach_the_trainers_arguments(model_dir, binary_task, tmp_path):
    seen = ArgumentsSeen()
    knobs = {"gradient_accumulation_steps": 2, "lr_scheduler_type": "constant", "adam_beta2": 0.9}
    args = FinetuneArguments.defaults(
        model_dir=str(model_dir),
        task_dir=str(binary_task),
        output_dir=str(tmp_path / "cell"),
        batch_size=16,
        max_steps=4,
        threads=1,
        weight_decay=0.2,
        trainer=knobs,
    )
    history = finetune(args, callbacks=[seen])
    assert {key: getattr(seen.args, key) for key in knobs} == knobs
    assert seen.args.weight_decay == 0.2  # a schema key marked x-training-argument
    assert history["train_steps"] == 4
    with pytest.raises(ValueError, match=r"finetune.trainer.seed': .*'finetune.seeds'"):
        finetune(dataclasses.replace(args, trainer={"seed": 3}))


# ---------------------------------------------------------------- pieces


TINY_BERT = {
    "vocab_size": 12,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 32,
}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (lambda: BertForSequenceClassification(BertConfig(**TINY_BERT)), ["query", "value"]),
        (
            lambda: EsmForSequenceClassification(EsmConfig(**TINY_BERT, pad_token_id=0)),
            ["query", "value"],
        ),
        (
            lambda: GPT2ForSequenceClassification(
                GPT2Config(vocab_size=12, n_embd=16, n_layer=1, n_head=2, n_positions=32)
            ),
            ["c_attn"],
        ),
        (
            lambda: LlamaForSequenceClassification(
                LlamaConfig(
                    vocab_size=12,
                    hidden_size=16,
                    num_hidden_layers=1,
                    num_attention_heads=2,
                    intermediate_size=32,
                    pad_token_id=0,
                )
            ),
            ["q_proj", "v_proj"],
        ),
    ],
)
def test_lora_targets_per_family_and_overrides(model, expected):
    net = model()
    assert lora_target_modules(net, FinetuneArguments.defaults("m", "t", "o")) == expected
    task_level = FinetuneArguments.defaults("m", "t", "o", lora={"target_modules": ["a"]})
    assert lora_target_modules(net, task_level) == ["a"]
    model_level = FinetuneArguments.defaults(
        "m", "t", "o", lora={"target_modules": ["a"]}, lora_target_modules=["b"]
    )
    assert lora_target_modules(net, model_level) == ["b"]
    peft_model = prepare_method(net, FinetuneArguments.defaults("m", "t", "o", method="lora"))
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or "modules_to_save" in n for n in trainable)


def test_wrong_lora_targets_name_the_key_and_the_layers():
    model = BertForSequenceClassification(BertConfig(**TINY_BERT))
    args = FinetuneArguments.defaults(
        "m", "t", "o", method="lora", lora={"target_modules": ["qkv"]}
    )
    with pytest.raises(FinetuneInputError, match=r"finetune.lora.target_modules.*query"):
        prepare_method(model, args)


def test_label_fraction_is_stratified_and_seeded():
    frame = pd.DataFrame({"sequence": ["ACGT"] * 1000, "label": [0] * 900 + [1] * 100})
    part = label_subsample(frame, "binary", 0.1, seed=0)
    assert part["label"].value_counts().to_dict() == {0: 90, 1: 10}
    assert part.index.equals(label_subsample(frame, "binary", 0.1, seed=0).index)
    assert not part.index.equals(label_subsample(frame, "binary", 0.1, seed=1).index)
    assert label_subsample(frame, "binary", 1.0, seed=0) is frame
    with pytest.raises(FinetuneInputError, match="larger label fraction"):
        label_subsample(frame, "binary", 0.001, seed=0, where="train.parquet")


def test_long_sequences_are_truncated_or_slid(model_dir):
    tokenizer = DnaTokenizer.from_pretrained(model_dir)
    frame = pd.DataFrame({"sequence": ["ACGT" * 40, "ACG" * 10], "label": [1, 0]})
    cut = encode_split(frame, tokenizer, 64, "truncate", "binary")
    assert [len(ids) for ids in cut.input_ids] == [64, 32]
    assert cut.n_long == 1 and cut.n_truncated == 1
    slid = encode_split(frame, tokenizer, 64, "slide", "binary")
    assert slid.n_long == 1 and slid.n_truncated == 0
    assert max(len(ids) for ids in slid.input_ids) <= 64
    assert list(slid.row).count(0) == slid.n_windows >= 3 and list(slid.row).count(1) == 1
    assert (slid.labels == np.array([1] * slid.n_windows + [0])).all()
    # the windows cover the whole sequence
    specials = tokenizer.hf.num_special_tokens_to_add()
    assert specials == 2  # [CLS] ... [SEP]
    content = sum(len(ids) - specials for ids in slid.input_ids[:-1])
    assert content >= 160


def test_class_weights_are_balanced():
    labels = np.array([0] * 30 + [1] * 10)
    loss = _weighted_loss("binary", labels)
    logits = torch.tensor([[0.2, -0.1], [0.5, 0.3], [-1.0, 1.0]])
    target = torch.tensor([0, 1, 1])
    weight = torch.tensor([40 / 60, 40 / 20])
    expected = torch.nn.functional.cross_entropy(logits, target, weight=weight)
    torch.testing.assert_close(loss({"logits": logits}, target), expected)


# ---------------------------------------------------------------- bad input


def test_a_split_with_one_class_is_a_clear_error(model_dir, tmp_path):
    task = make_task(tmp_path / "one", "binary", sizes=(40, 20, 20))
    val = pd.read_parquet(task / "val.parquet")
    val["label"] = 1
    val.to_parquet(task / "val.parquet")
    with pytest.raises(FinetuneInputError, match=r"val.parquet: the val split has only class 1"):
        run_cell(model_dir, task, tmp_path / "out")


def test_a_missing_label_column_is_a_clear_error(model_dir, tmp_path):
    task = make_task(tmp_path / "nolabel", "binary", sizes=(40, 20, 20))
    pd.read_parquet(task / "train.parquet").rename(columns={"label": "y"}).to_parquet(
        task / "train.parquet"
    )
    with pytest.raises(FinetuneInputError, match=r"train.parquet: missing column\(s\) label"):
        run_cell(model_dir, task, tmp_path / "out")


def test_labels_outside_the_classes_are_a_clear_error(model_dir, tmp_path):
    task = make_task(tmp_path / "range", "binary", sizes=(40, 20, 20))
    test = pd.read_parquet(task / "test.parquet")
    test.loc[3, "label"] = 5
    test.to_parquet(task / "test.parquet")
    with pytest.raises(FinetuneInputError, match=r"test.parquet: column 'label' must hold"):
        run_cell(model_dir, task, tmp_path / "out")


def test_an_unknown_method_names_the_key(model_dir, binary_task, tmp_path):
    with pytest.raises(FinetuneInputError, match="finetune.method"):
        run_cell(model_dir, binary_task, tmp_path / "out", method="adapters")


def test_input_ids_reach_predictions_one_row_per_sequence_when_slid(model_dir, tmp_path):
    """The user's ids survive build_task's shuffle and slide mode's windows (max_length 64,
    sequences up to 150 bp), so predictions.parquet joins back to the input CSV on `id`."""
    from dnatune.tasks.build import build_task

    rng = np.random.default_rng(3)
    labels = rng.permutation(np.arange(80) % 2)
    inputs = pd.DataFrame(
        {
            "id": [f"gene{i:02d}" for i in rng.permutation(80)],
            "sequence": random_sequences(rng, labels, lambda y: 0.75 if y else 0.25, (30, 150)),
            "label": labels,
        }
    )
    inputs.to_csv(tmp_path / "input.csv", index=False)
    build_task(
        "ids", {"type": "binary", "source": {"csv": str(tmp_path / "input.csv")}}, tmp_path / "task"
    )
    run_cell(model_dir, tmp_path / "task", tmp_path / "cell", epochs=1, long_sequences="slide")
    history = json.loads((tmp_path / "cell" / "history.json").read_text())
    assert history["long"]["test"] > 0 and history["windows"]["test"] > history["long"]["test"]
    predictions = pd.read_parquet(tmp_path / "cell" / "predictions.parquet")
    for split in ("val", "test"):
        part = predictions[predictions["split"] == split]
        task_rows = pd.read_parquet(tmp_path / "task" / f"{split}.parquet")
        assert part["id"].tolist() == task_rows["id"].tolist()  # in row order
    # the join of config/README.md: one row per input sequence, labels agree
    read_back = pd.read_csv(tmp_path / "input.csv", dtype={"id": str})
    joined = predictions.merge(read_back, on="id", suffixes=("", "_input"), validate="one_to_one")
    assert len(joined) == len(predictions) == 16
    assert (joined["label"] == joined["label_input"]).all()
    # the evaluate stage reads predictions that carry ids
    result = evaluate_cell(
        tmp_path / "cell" / "predictions.parquet",
        tmp_path / "cell" / "history.json",
        tmp_path / "task" / "meta.json",
        tmp_path / "metrics.json",
        task="ids",
        model="tiny",
        variant="scratch",
        label_fraction=1.0,
        seed=0,
        bootstrap=20,
    )
    assert result["n_test"] == 8
