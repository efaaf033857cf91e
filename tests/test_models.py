"""Model sources (scratch specs, hub and local HF models) and loading for fine-tuning."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from family_fixtures import save_dnabert as save_dnabert_like
from model_fixtures import CHAR, KMER3, TINY, make_model, make_tokenizer, markov_sequences
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    BertForMaskedLM,
    BertTokenizer,
    PreTrainedTokenizerFast,
)

from dnatune.corpus.tokenizers import DnaTokenizer, split_kmers
from dnatune.train import models
from dnatune.train.models import ModelSourceError, fetch_hf_model, load_sequence_classifier

PROBLEM = "single_label_classification"


@pytest.fixture(scope="module")
def kmer_tokenizer(tmp_path_factory) -> Path:
    return make_tokenizer(tmp_path_factory.mktemp("tok") / "kmer3", KMER3)


# ---------------------------------------------------------------- scratch specs


@pytest.mark.parametrize(
    ("architecture", "auto"),
    [
        ("bert", AutoModelForMaskedLM),
        ("esm", AutoModelForMaskedLM),
        ("gpt2", AutoModelForCausalLM),
        ("llama", AutoModelForCausalLM),
    ],
)
def test_scratch_spec_builds_a_model_dir_with_its_tokenizer(
    tmp_path, kmer_tokenizer, architecture, auto
):
    model_dir = make_model(tmp_path / "base", kmer_tokenizer, architecture)

    tokenizer = DnaTokenizer.from_pretrained(model_dir)
    model = auto.from_pretrained(model_dir)
    config = model.config
    assert config.model_type == architecture
    assert config.vocab_size == len(tokenizer.hf) == 5 + 4**3
    assert config.pad_token_id == tokenizer.hf.pad_token_id == 0
    assert config.num_hidden_layers == 1 and config.hidden_size == 32
    assert tokenizer.max_length == TINY["max_length"]
    assert json.loads((model_dir / "dnatune_tokenizer.json").read_text())["kind"] == "kmer"
    # the longest input the model takes (max_length tokens, specials included) runs
    ids = tokenizer([markov_sequences(1, 200, 0)[0]])["input_ids"]
    assert len(ids[0]) == TINY["max_length"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor(ids)).logits
    assert logits.shape == (1, TINY["max_length"], config.vocab_size)


def test_scratch_init_is_seeded(tmp_path, kmer_tokenizer):
    a = AutoModelForMaskedLM.from_pretrained(make_model(tmp_path / "a", kmer_tokenizer, seed=1))
    b = AutoModelForMaskedLM.from_pretrained(make_model(tmp_path / "b", kmer_tokenizer, seed=1))
    c = AutoModelForMaskedLM.from_pretrained(make_model(tmp_path / "c", kmer_tokenizer, seed=2))
    wa, wb, wc = (m.bert.embeddings.word_embeddings.weight for m in (a, b, c))
    assert torch.equal(wa, wb)
    assert not torch.equal(wa, wc)


def test_scratch_spec_errors_name_the_key_and_the_fix(kmer_tokenizer):
    hf = DnaTokenizer.from_pretrained(kmer_tokenizer).hf
    with pytest.raises(ModelSourceError, match="scratch.hidden.*multiple of the number of heads"):
        models.scratch_config({"architecture": "bert", "hidden": 30, "heads": 4}, hf)
    with pytest.raises(ModelSourceError, match="unknown architecture 'mamba'"):
        models.scratch_config({"architecture": "mamba"}, hf)
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    no_mask = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"<pad>": 0, "<unk>": 1, "A": 2}, unk_token="<unk>")),
        pad_token="<pad>",
        unk_token="<unk>",
    )
    with pytest.raises(ModelSourceError, match="no mask token"):
        models.scratch_config({"architecture": "bert"}, no_mask)
    assert models.scratch_config({"architecture": "gpt2"}, no_mask).pad_token_id == 0
    no_pad = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"<unk>": 0, "A": 1}, unk_token="<unk>")),
        unk_token="<unk>",
    )
    with pytest.raises(ModelSourceError, match="no pad token"):
        models.scratch_config({"architecture": "llama"}, no_pad)


# ---------------------------------------------------------------- sequence classifiers


@pytest.mark.parametrize("architecture", ["bert", "esm", "gpt2", "llama"])
def test_classifier_keeps_pretrained_weights_or_reinitialises_by_seed(
    tmp_path, kmer_tokenizer, architecture
):
    model_dir = make_model(tmp_path / "base", kmer_tokenizer, architecture, seed=5)
    saved = AutoModelForMaskedLM if architecture in models.ENCODERS else AutoModelForCausalLM
    reference = saved.from_pretrained(model_dir).get_input_embeddings().weight

    pretrained, tokenizer = load_sequence_classifier(model_dir, 3, PROBLEM, False, seed=0)
    scratch_a, _ = load_sequence_classifier(model_dir, 3, PROBLEM, True, seed=0)
    scratch_b, _ = load_sequence_classifier(model_dir, 3, PROBLEM, True, seed=0)
    scratch_c, _ = load_sequence_classifier(model_dir, 3, PROBLEM, True, seed=1)

    embedding = [m.get_input_embeddings().weight for m in (pretrained, scratch_a, scratch_b)]
    assert torch.equal(embedding[0], reference)
    assert not torch.equal(embedding[1], reference)
    assert torch.equal(embedding[1], embedding[2])
    assert not torch.equal(embedding[1], scratch_c.get_input_embeddings().weight)
    assert pretrained.config.num_labels == 3 and pretrained.config.problem_type == PROBLEM
    # a padded batch of unequal lengths classifies (decoders need pad_token_id for this)
    batch = tokenizer.hf.pad(tokenizer(["ACGTACGTAC", "ACGTAC"]), return_tensors="pt")
    pretrained.eval()
    with torch.no_grad():
        logits = pretrained(**batch).logits
        alone = pretrained(**tokenizer.hf.pad(tokenizer(["ACGTAC"]), return_tensors="pt")).logits
    assert logits.shape == (2, 3)
    assert torch.allclose(logits[1], alone[0], atol=1e-5)  # padding does not change the result


@pytest.mark.parametrize("architecture", ["bert", "esm"])
def test_mean_pooling_reads_every_token_ignores_padding_and_reloads(
    tmp_path, kmer_tokenizer, architecture
):
    model_dir = make_model(tmp_path / "base", kmer_tokenizer, architecture, seed=5)
    first, tokenizer = load_sequence_classifier(model_dir, 2, PROBLEM, False, seed=0)
    mean, _ = load_sequence_classifier(model_dir, 2, PROBLEM, False, seed=0, pooling="mean")
    assert first.config.dnatune_pooling == "first" and mean.config.dnatune_pooling == "mean"
    first.eval(), mean.eval()
    seqs = ["ACGTACGTAC", "ACGTAC", "ACGTTT"]
    batch = tokenizer.hf.pad(tokenizer(seqs), return_tensors="pt")
    with torch.no_grad():
        logits = mean(**batch).logits
        alone = mean(**tokenizer.hf.pad(tokenizer(seqs[1:2]), return_tensors="pt")).logits
        # the same weights, read from the first token instead: a different result
        assert not torch.allclose(logits, first(**batch).logits, atol=1e-4)
    assert torch.allclose(logits[1], alone[0], atol=1e-5)  # padding does not change the result
    # a saved model records its pooling and reloads with it
    mean.save_pretrained(tmp_path / "tuned")
    tokenizer.save_pretrained(tmp_path / "tuned")
    again, _ = load_sequence_classifier(tmp_path / "tuned", 2, PROBLEM, False, seed=1)
    assert again.config.dnatune_pooling == "mean"
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(**batch).logits, logits)
    with pytest.raises(ModelSourceError, match="finetune.pooling"):
        load_sequence_classifier(model_dir, 2, PROBLEM, False, seed=0, pooling="max")


def test_decoder_without_pad_id_gets_the_tokenizers(tmp_path, kmer_tokenizer):
    model_dir = make_model(tmp_path / "base", kmer_tokenizer, "gpt2")
    config = json.loads((model_dir / "config.json").read_text())
    config["pad_token_id"] = None
    (model_dir / "config.json").write_text(json.dumps(config))
    model, tokenizer = load_sequence_classifier(model_dir, 1, "regression", False, seed=0)
    assert model.config.pad_token_id == tokenizer.hf.pad_token_id == 0
    assert model.config.problem_type == "regression"


def test_classifier_argument_errors(tmp_path, kmer_tokenizer):
    model_dir = make_model(tmp_path / "base", kmer_tokenizer)
    with pytest.raises(ModelSourceError, match="regression needs num_labels=1"):
        load_sequence_classifier(model_dir, 2, "regression", False, 0)
    with pytest.raises(ModelSourceError, match="problem_type 'binary' is unknown"):
        load_sequence_classifier(model_dir, 2, "binary", False, 0)
    with pytest.raises(ModelSourceError, match="not a model directory"):
        load_sequence_classifier(tmp_path / "missing", 2, PROBLEM, False, 0)


# ---------------------------------------------------------------- hub and local HF models


def test_local_dnabert_model_is_copied_with_kmer_sidecar(tmp_path):
    source = save_dnabert_like(tmp_path / "dnabert3")
    out = fetch_hf_model(str(source), tmp_path / "base", kmer=3, max_length=40, name="dnabert")

    sidecar = json.loads((out / "dnatune_tokenizer.json").read_text())
    assert sidecar["kind"] == "hf" and sidecar["kmer"] == 3 and sidecar["commit"] is None
    tokenizer = DnaTokenizer.from_pretrained(out)
    assert tokenizer.max_length == 40
    # raw sequences are split into k-mers for the model, never one [UNK]
    seq = "ACGTTGCAAC"
    expected = BertTokenizer.from_pretrained(source)(split_kmers(seq, 3))["input_ids"]
    assert tokenizer([seq])["input_ids"][0] == expected
    assert tokenizer.hf.unk_token_id not in expected
    model, _ = load_sequence_classifier(out, 2, PROBLEM, False, seed=0)
    original = BertForMaskedLM.from_pretrained(source).bert.embeddings.word_embeddings.weight
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, original)


def test_wrong_kmer_for_the_vocabulary_is_refused(tmp_path):
    source = save_dnabert_like(tmp_path / "dnabert3")
    with pytest.raises(ModelSourceError, match="models.dnabert.kmer.*no 4-mer token"):
        fetch_hf_model(str(source), tmp_path / "base", kmer=4, name="dnabert")
    assert not (tmp_path / "base").exists()


def test_missing_directory_is_named_as_such(tmp_path):
    with pytest.raises(ModelSourceError, match="models.m.hf.*neither an existing local directory"):
        fetch_hf_model(str(tmp_path / "no" / "such" / "dir"), tmp_path / "base", name="m")


def test_directory_without_config_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSourceError, match="models.m.hf.*no config.json"):
        fetch_hf_model(str(tmp_path / "empty"), tmp_path / "base", name="m")


def fill_hub_cache(cache: Path, repo_id: str, source: Path, commit: str = "a" * 40) -> None:
    """Lay `source` out as huggingface_hub's cache holds a downloaded snapshot of `repo_id`."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(source, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)


def test_hub_id_resolves_from_the_cache_when_offline(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    fill_hub_cache(cache, "lab/tiny-dnabert", save_dnabert_like(tmp_path / "src"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert models.hub_offline()

    out = fetch_hf_model("lab/tiny-dnabert", tmp_path / "base", revision="main", kmer=3, name="t")
    sidecar = json.loads((out / "dnatune_tokenizer.json").read_text())
    assert sidecar["source"] == "lab/tiny-dnabert" and sidecar["commit"] == "a" * 40
    assert AutoConfig.from_pretrained(out).model_type == "bert"
    assert not any(p.is_symlink() for p in out.iterdir())  # real copies, not cache links

    with pytest.raises(
        ModelSourceError, match="models.other.hf.*not in the local .*HF_HUB_OFFLINE"
    ):
        fetch_hf_model("lab/not-cached", tmp_path / "other", name="other")
    assert not (tmp_path / "other").exists()


def test_fetch_model_reads_the_config_entry(tmp_path):
    source = save_dnabert_like(tmp_path / "dnabert3")
    (source / "training_args.bin").write_bytes(b"a pickle of the author's TrainingArguments")
    entry = {"hf": str(source), "revision": "main", "trust_remote_code": False, "kmer": 3}
    out = models.fetch_model(entry, tmp_path / "base", name="dnabert")
    assert json.loads((out / "dnatune_tokenizer.json").read_text())["kmer"] == 3
    assert not (out / "training_args.bin").exists()


REMOTE_CONFIG = """
from transformers import PretrainedConfig


class DnaConfig(PretrainedConfig):
    model_type = "dna-remote"
"""


def test_remote_code_needs_trust_remote_code(tmp_path):
    source = make_model(tmp_path / "src", make_tokenizer(tmp_path / "tok", CHAR), "bert")
    (source / "configuration_dna.py").write_text(REMOTE_CONFIG)
    config = json.loads((source / "config.json").read_text())
    config.update(model_type="dna-remote", auto_map={"AutoConfig": "configuration_dna.DnaConfig"})
    (source / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelSourceError, match="models.remote.trust_remote_code"):
        fetch_hf_model(str(source), tmp_path / "base", name="remote")
    out = fetch_hf_model(  # only its config is remote: no model classes to prove
        str(source),
        tmp_path / "base",
        trust_remote_code=True,
        name="remote",
        objective=None,
        classify=False,
    )
    assert (out / "configuration_dna.py").exists()


@pytest.mark.workflow
def test_workflow_fetches_hf_models_and_initialises_scratch_specs(tmp_path):
    from conftest import run_snakemake, tiny_config, write_config

    config = tiny_config()
    config["models"]["dnabert"] = {"hf": str(tmp_path / "local-dnabert"), "kmer": 3}
    config["models"]["gpt"] = {
        "scratch": {"architecture": "gpt2", "tokenizer": {"kind": "char"}, "max_length": 64},
        "resources": {"gpu": 2},
    }
    config["tasks"] = {}
    write_config(tmp_path, config)
    targets = ["results/models/dnabert/continued", "results/models/gpt/pretrained"]
    out = run_snakemake(tmp_path, "-n", *targets)
    text = out.stdout + out.stderr
    stats = text[text.index("Job stats:") :].splitlines()[3:]
    rows = [row.split() for row in stats]
    counts = {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}
    assert counts["fetch_model"] == 1  # the hub model
    assert counts["init_model"] == 1  # the scratch spec
    assert counts["pretrain"] == 2
    assert "gpu=2" in text  # models.gpt.resources.gpu reaches the pretrain job

    wrong = run_snakemake(tmp_path, "-n", "results/models/gpt/continued", check=False)
    assert wrong.returncode != 0
    assert "is pre-trained into results/models/gpt/pretrained" in wrong.stdout + wrong.stderr
