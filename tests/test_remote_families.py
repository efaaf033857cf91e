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
from remote_models import make_remote_model
from safetensors.torch import load_file
from test_finetune import make_task, run_cell
from transformers import AutoModelForMaskedLM

from dnatune import pretrain
from dnatune.corpus import build_workflow_tokenizer
from dnatune.fetch_check import missing_package_message
from dnatune.model_loading import can_mask_padding, load_model
from dnatune.models import ModelSourceError, fetch_hf_model, load_sequence_classifier

LORA_TARGETS = {
    "dnabert2": ["Wqkv"],
    "hyenadna": ["in_proj", "out_proj"],
    "nt2": ["query", "value"],
    "gena": ["query", "value"],
}


def fetched(tmp_path, pattern: str, **uses):
    source = make_remote_model(pattern, tmp_path / "source")
    uses = uses or {"objective": "auto", "classify": True}
    return fetch_hf_model(str(source), tmp_path / "base", trust_remote_code=True, **uses)


@pytest.mark.parametrize("pattern", list(LORA_TARGETS))
def test_remote_family_runs_fetch_pretraining_and_every_method(tmp_path, pattern):
    base = fetched(tmp_path, pattern)
    spec = {"kind": "hf", "name": "hub/id", "trust_remote_code": True}
    build_workflow_tokenizer(spec, tmp_path / "tokenizer", model_dir=str(base))
    corpus = make_corpus(tmp_path / "corpus", tmp_path / "tokenizer", n_train=40, n_val=8)
    setup = {"model": base, "corpus": corpus}
    args = pretrain_args(
        tmp_path, setup, max_steps=4, save_steps=2, batch_size=4, trust_remote_code=True
    )
    assert pretrain.main(args)["global_step"] == 4  # checkpoints at steps 2 and 4 were saved
    continued = tmp_path / "out"

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
    adapter = load_file(tmp_path / "lora" / "model" / "adapter_model.safetensors")
    assert any("lora_A" in name for name in adapter)


def test_aliased_parameter_is_saved_under_both_names_and_reloads(tmp_path):
    base = fetched(tmp_path, "hyenadna", objective="clm")
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
    base = fetched(tmp_path, "dnabert2", objective="mlm")
    with pytest.raises(RuntimeError, match="meta"):  # what transformers 5 alone does
        AutoModelForMaskedLM.from_pretrained(base, trust_remote_code=True)
    model = load_model(AutoModelForMaskedLM, base, trust_remote_code=True)
    saved = torch.load(base / "pytorch_model.bin", weights_only=True)
    assert torch.equal(model.state_dict()["decoder.weight"], saved["decoder.weight"])
    assert model.bert.encoder.alibi.device.type == "cpu"


def test_prediction_does_not_depend_on_the_batch_without_an_attention_mask(tmp_path):
    base = fetched(tmp_path, "hyenadna", objective="clm")
    task = make_task(tmp_path / "task", sizes=(16, 8, 24), lengths=(20, 60))
    run_cell(base, task, tmp_path / "cell", max_steps=2, batch_size=8, trust_remote_code=True)

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
        fetch_hf_model(
            str(source), tmp_path / "base", trust_remote_code=True, name="cad", objective="auto"
        )
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


def test_fetch_proves_only_the_uses_asked_for(tmp_path):
    source = make_remote_model("caduceus", tmp_path / "source")
    out = fetch_hf_model(str(source), tmp_path / "base", trust_remote_code=True, name="cad")
    assert json.loads((out / "dnatune_tokenizer.json").read_text())["kind"] == "hf"
