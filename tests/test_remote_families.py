"""Remote-code model families end to end, with the tiny modules of tests/remote_models:
fetch (proving each head) -> continued pre-training -> fine-tuning full, LoRA and probe."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
import torch
from model_fixtures import make_corpus, pretrain_args
from remote_models import PATTERNS, make_remote_model
from safetensors.torch import load_file, save_file
from test_finetune import make_task, run_cell
from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
)

from dnatune.corpus.shards import build_workflow_tokenizer
from dnatune.train import pretrain
from dnatune.train.fetch_check import missing_package_message
from dnatune.train.loading import can_mask_padding, load_model, unpadded_batches
from dnatune.train.models import ModelSourceError, fetch_hf_model, load_sequence_classifier

PROBLEM = "single_label_classification"
LORA_TARGETS = {
    "dnabert2": ["Wqkv"],
    "hyenadna": ["in_proj", "out_proj"],
    "nt2": ["query", "value"],
    "gena": ["query", "value"],
}


def fetched(tmp_path, pattern: str):
    """The pattern's model as fetch_model leaves it: copied, each head proved to work."""
    source = make_remote_model(pattern, tmp_path / "source")
    return fetch_hf_model(str(source), tmp_path / "base", trust_remote_code=True)


def without_class(source, module: str, class_name: str):
    """`source`'s remote code with `class_name` removed from `module`, as a repository without it."""
    with (source / f"{module}.py").open("a") as code:
        code.write(f"\ndel {class_name}\n")
    return source


def own_class(model) -> str:
    """'module.Class' of a model, the module named as in the repository ('modeling_bert')."""
    return f"{type(model).__module__.rsplit('.', 1)[-1]}.{type(model).__name__}"


@pytest.mark.slow
@pytest.mark.parametrize("pattern", list(LORA_TARGETS))
def test_remote_family_runs_fetch_pretraining_and_every_method(tmp_path, pattern):
    base = fetched(tmp_path, pattern)
    spec = {"kind": "hf", "name": "hub/id", "trust_remote_code": True}
    build_workflow_tokenizer(spec, tmp_path / "tokenizer", model_dir=str(base))
    corpora = [  # two window lengths: batches of a model without a mask must not mix them
        make_corpus(tmp_path / f"corpus{n}", tmp_path / "tokenizer", 20, 4, length=n)
        for n in (64, 48)
    ]
    args = pretrain_args(
        tmp_path,
        {"model": base, "corpus": corpora[0]},
        max_steps=4,
        save_steps=2,
        batch_size=4,
        trust_remote_code=True,
    )
    args.corpus_dirs = [str(c) for c in corpora]
    assert pretrain.main(args)["global_step"] == 4  # checkpoints at steps 2 and 4 were saved
    continued = tmp_path / "out"
    spec = PATTERNS[pattern]  # every head is the family's own class, never a native one
    lm_auto = AutoModelForMaskedLM if spec.objective == "mlm" else AutoModelForCausalLM
    lm = load_model(lm_auto, continued, trust_remote_code=True)
    assert own_class(lm) == f"{spec.module}.{spec.lm_class}"
    state = json.loads((continued / "trainer_state.json").read_text())
    assert state["train_batch_size"] == (1 if pattern == "hyenadna" else 4)

    task = make_task(tmp_path / "task", sizes=(24, 8, 8))
    cells = {  # each method once, over the three variants' model directories
        "full": (continued, {}),
        "lora": (base, {"lora_target_modules": LORA_TARGETS[pattern]}),
        "probe": (base, {"reinitialise": True}),
    }
    for method, (model_dir, extra) in cells.items():
        out = tmp_path / method
        history = run_cell(
            model_dir, task, out, method=method, max_steps=3, batch_size=8,
            trust_remote_code=True, **extra,
        )  # fmt: skip
        assert history["train_steps"] == 3
        predictions = pd.read_parquet(out / "predictions.parquet")
        assert sorted(predictions.loc[predictions["split"] == "test", "row"]) == list(range(8))
        assert predictions["score"].between(0, 1).all()
        trainable, total = history["trainable_parameters"], history["total_parameters"]
        assert (trainable == total) if method == "full" else (0 < trainable < total / 2)
        if method != "lora":  # a whole model was saved: it reloads as the family's classifier
            tuned, _ = load_sequence_classifier(out / "model", 2, PROBLEM, False, 0, True)
            assert own_class(tuned) == f"{spec.module}.{spec.classifier_class}"
    adapter = load_file(tmp_path / "lora" / "model" / "adapter_model.safetensors")
    assert any("lora_A" in name for name in adapter)


def test_aliased_parameter_is_saved_under_both_names_and_reloads(tmp_path):
    base = fetched(tmp_path, "hyenadna")
    model, _ = load_sequence_classifier(base, 2, "single_label_classification", False, 0, True)
    run_cell(base, make_task(tmp_path / "task", sizes=(16, 8, 8)), tmp_path / "cell",
             max_steps=2, batch_size=8, trust_remote_code=True)  # fmt: skip
    saved = load_file(tmp_path / "cell" / "model" / "model.safetensors")
    aliases = [name for name in saved if name.endswith("freq")]
    assert len(aliases) == 2  # one Sin module used twice in the filter
    assert torch.equal(saved[aliases[0]], saved[aliases[1]])
    reloaded, _ = load_sequence_classifier(
        tmp_path / "cell" / "model", 2, "single_label_classification", False, 0, True
    )
    first, second = (reloaded.get_parameter(name) for name in aliases)
    assert first is second  # still one parameter


def test_init_time_tensors_load_on_the_real_device(tmp_path):
    base = fetched(tmp_path, "dnabert2")
    with pytest.raises(RuntimeError, match="meta"):  # what transformers 5 alone does
        AutoModelForMaskedLM.from_pretrained(base, trust_remote_code=True)
    model = load_model(AutoModelForMaskedLM, base, trust_remote_code=True)
    saved = torch.load(base / "pytorch_model.bin", weights_only=True)
    assert torch.equal(model.state_dict()["decoder.weight"], saved["decoder.weight"])
    assert model.bert.encoder.alibi.device.type == "cpu"


def test_only_a_model_without_a_mask_and_data_of_mixed_lengths_goes_one_by_one(tmp_path):
    hyena, _ = load_sequence_classifier(
        fetched(tmp_path, "hyenadna"), 2, "single_label_classification", False, 0, True
    )
    bert, _ = load_sequence_classifier(
        fetched(tmp_path / "b", "nt2"), 2, "single_label_classification", False, 0, True
    )
    full = {
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,
        "gradient_accumulation_steps": 1,
    }
    assert unpadded_batches(bert, 8, {20, 41}, {20, 41}) == full
    assert unpadded_batches(hyena, 8, {41}, {41}) == full
    assert unpadded_batches(hyena, 8, {20, 41}, {41}) == {
        **full,
        "per_device_train_batch_size": 1,
        "gradient_accumulation_steps": 8,
    }
    assert unpadded_batches(hyena, 8, {41}, {20, 41})["per_device_eval_batch_size"] == 1


def test_weights_load_from_a_bare_backbone_and_from_sharded_bin_files(tmp_path):
    base = fetched(tmp_path, "dnabert2")
    saved = torch.load(base / "pytorch_model.bin", weights_only=True)
    backbone = {k.removeprefix("bert."): v for k, v in saved.items() if k.startswith("bert.")}
    names = sorted(backbone)
    shards = {"a.bin": names[: len(names) // 2], "b.bin": names[len(names) // 2 :]}
    for file, keys in shards.items():
        torch.save({k: backbone[k] for k in keys}, base / file)
    index = {"metadata": {}, "weight_map": {k: f for f, keys in shards.items() for k in keys}}
    (base / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    (base / "pytorch_model.bin").unlink()

    model, _ = load_sequence_classifier(base, 2, "single_label_classification", False, 0, True)
    word = model.bert.word_embeddings.weight
    assert torch.equal(word, saved["bert.word_embeddings.weight"])


def test_prediction_does_not_depend_on_the_batch_without_an_attention_mask(tmp_path):
    base = fetched(tmp_path, "hyenadna")
    task = make_task(tmp_path / "task", sizes=(16, 8, 24), lengths=(20, 60))
    history = run_cell(
        base, task, tmp_path / "cell", max_steps=2, batch_size=8, trust_remote_code=True,
        pad_to_max_length=True,  # not even this pads a model that cannot mask it
    )  # fmt: skip
    assert history["padding"].startswith("none")

    model, tokenizer = load_sequence_classifier(
        tmp_path / "cell" / "model", 2, "single_label_classification", False, 0, True
    )
    assert not can_mask_padding(model)
    model.eval()
    sequences = pd.read_parquet(task / "test.parquet")["sequence"].tolist()
    with torch.no_grad():
        alone = [
            torch.softmax(model(**tokenizer.hf.pad(tokenizer([s]), return_tensors="pt")).logits, -1)
            for s in sequences
        ]
        mixed = tokenizer.hf.pad(tokenizer(sequences), return_tensors="pt")
        padded = torch.softmax(model(**mixed).logits, -1)
    alone = torch.cat(alone)[:, 1].numpy()
    assert not np.allclose(padded[:, 1].numpy(), alone, atol=1e-4)  # padding would change them
    predictions = pd.read_parquet(tmp_path / "cell" / "predictions.parquet")
    test = predictions[predictions["split"] == "test"].sort_values("row")
    np.testing.assert_allclose(test["score"].to_numpy(), alone, atol=1e-5)


def test_model_needing_a_missing_package_fails_at_fetch_naming_it(tmp_path):
    source = make_remote_model("caduceus", tmp_path / "source")
    started = time.perf_counter()
    with pytest.raises(ModelSourceError) as failure:
        fetch_hf_model(str(source), tmp_path / "base", trust_remote_code=True, name="cad")
    assert time.perf_counter() - started < 10
    message = str(failure.value)
    assert "model 'cad'" in message and "mamba_ssm" in message
    assert "pip install 'dnatune[caduceus]'" in message and "pip install mamba-ssm" in message
    assert not (tmp_path / "base").exists()  # nothing that looks fetched


def test_missing_package_message_names_the_extra_or_the_package():
    err = ImportError(
        "This modeling file requires the following packages that were not found in your "
        "environment: einops, flash_attn. Run `pip install einops flash_attn`"
    )
    message = missing_package_message("dnabert2", err)
    assert "imports einops, flash_attn" in message
    assert "pip install 'dnatune[dnabert2]'" in message and "`pip install flash_attn`" in message


def test_a_model_without_a_pre_training_head_is_fetched_for_fine_tuning(tmp_path, caplog):
    source = make_remote_model("nt2", tmp_path / "source")
    config = json.loads((source / "config.json").read_text())
    del config["auto_map"]["AutoModelForMaskedLM"]  # a classification-only repository
    (source / "config.json").write_text(json.dumps(config))
    without_class(source, "modeling_esm", "RotaryMlmForMaskedLM")
    fetch_hf_model(str(source), tmp_path / "base", trust_remote_code=True, name="cls")
    assert "cls has no pre-training (auto) head" in caplog.text
    assert "modeling_esm.RotaryMlmForMaskedLM" in caplog.text  # what was looked for
    assert "its continued variant cannot run" in caplog.text


def test_heads_missing_from_the_auto_map_come_from_the_family_code(tmp_path):
    """GENA-LM's auto_map names AutoModel only: transformers alone builds its native BERT
    for model type bert, another architecture; dnatune loads the module's own classes."""
    base = fetched(tmp_path, "gena")
    config = json.loads((base / "config.json").read_text())
    assert config["auto_map"] == {"AutoModel": "modeling_bert.BertForMaskedLM"}
    native = AutoModelForSequenceClassification.from_pretrained(base, trust_remote_code=True)
    assert type(native).__module__.startswith("transformers.models.bert")  # the silent fallback

    classifier, _ = load_sequence_classifier(base, 2, PROBLEM, False, 0, True)
    assert own_class(classifier) == "modeling_bert.BertForSequenceClassification"
    lm = load_model(AutoModelForMaskedLM, base, trust_remote_code=True)
    assert own_class(lm) == "modeling_bert.BertForMaskedLM"
    scratch = load_model(AutoModelForMaskedLM, base, trust_remote_code=True, reinitialise=True)
    assert own_class(scratch) == "modeling_bert.BertForMaskedLM"

    # without its code, the native class is built and its weights do not fit: an error
    with pytest.raises(ModelSourceError, match=r"not in the model: bert\.encoder\.LayerNorm\.bias"):
        load_model(AutoModelForSequenceClassification, base, trust_remote_code=False)


def test_remote_code_without_a_classifier_fails_at_fetch_naming_the_class(tmp_path):
    source = without_class(
        make_remote_model("gena", tmp_path / "source"),
        "modeling_bert",
        "BertForSequenceClassification",
    )
    started = time.perf_counter()
    with pytest.raises(ModelSourceError) as failure:
        fetch_hf_model(str(source), tmp_path / "base", trust_remote_code=True, name="nocls")
    assert time.perf_counter() - started < 10
    message = str(failure.value)
    assert "model 'nocls' cannot be used for fine-tuning (sequence classification)" in message
    assert "modeling_bert.BertForSequenceClassification" in message
    assert "auto_map names no AutoModelForSequenceClassification" in message
    assert "does not fall back" in message and "Fix: use a model" in message
    assert not (tmp_path / "base").exists()


@pytest.mark.parametrize(("pattern", "weights"), [("nt2", "safetensors"), ("dnabert2", "bin")])
def test_backbone_weights_missing_from_a_checkpoint_fail_the_load(tmp_path, pattern, weights):
    """Both loading paths: from_pretrained, and the CPU build of a model that cannot be built
    on the meta device (DNABERT-2 pattern, .bin weights)."""
    base = fetched(tmp_path, pattern)
    if weights == "bin":
        state = torch.load(base / "pytorch_model.bin", weights_only=True)
    else:
        state = load_file(base / "model.safetensors")
    dropped = sorted(k for k in state if ".layer.0." in k)[0]
    del state[dropped]
    if weights == "bin":
        torch.save(state, base / "pytorch_model.bin")
    else:
        save_file(state, base / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelSourceError, match=f"missing from the checkpoint: {dropped}"):
        load_model(AutoModelForMaskedLM, base, trust_remote_code=True)
    with pytest.raises(ModelSourceError, match=f"missing from the checkpoint: {dropped}"):
        load_sequence_classifier(base, 2, PROBLEM, False, 0, True)


@pytest.mark.workflow
def test_workflow_runs_every_variant_of_remote_families(tmp_path):
    from conftest import run_snakemake, tiny_config, write_config

    config = tiny_config()
    for pattern in ("hyenadna", "dnabert2"):
        source = make_remote_model(pattern, tmp_path / "hub" / pattern)
        config["models"][pattern] = {
            "hf": str(source),
            "trust_remote_code": True,
            "lora_target_modules": LORA_TARGETS[pattern],
        }
    del config["models"]["tiny"]
    config["pretrain"]["max_steps"] = 10
    # LoRA: the method that needs the most of the loading (peft over a forward without a
    # mask); full and probe run through the same paths in the tests above
    config["finetune"].update(method="lora", variants=["scratch", "pretrained", "continued"])
    write_config(tmp_path, config)
    run_snakemake(tmp_path, "--cores", "2")

    summary = pd.read_csv(tmp_path / "results" / "report" / "summary.tsv", sep="\t")
    cells = set(zip(summary["model"], summary["variant"], strict=True))
    assert cells == {
        (m, v) for m in ("hyenadna", "dnabert2") for v in config["finetune"]["variants"]
    }
    fetch_log = (tmp_path / "logs" / "fetch_model" / "hyenadna.log").read_text()
    assert "pre-training (auto) works" in fetch_log
    assert "fine-tuning (sequence classification) works" in fetch_log
