"""The family table (dnatune.train.families) and the native families end to end.

Native families are tiny local copies of their hub repositories (family_fixtures.py):
fetched as a user's `hf:` would be, continued pre-training a few steps, then fine-tuned
full, LoRA and probe. The expected module names below are written from each family's
modelling code, not read back from the table, so a wrong table entry fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from family_fixtures import save_dnabert, save_generator, save_modernbert
from model_fixtures import make_corpus, pretrain_args
from safetensors.torch import load_file
from test_finetune import make_task, run_cell
from transformers import AutoModelForMaskedLM, BertConfig, EsmConfig, LlamaConfig

from dnatune.corpus.tokenizers import DnaTokenizer
from dnatune.genome.kmer import reverse_complement_text as reverse_complement
from dnatune.train import masking, pretrain
from dnatune.train.families import FAMILIES, family_of
from dnatune.train.finetune import FinetuneArguments, prepare_method
from dnatune.train.models import fetch_hf_model, load_sequence_classifier

PROBLEM = "single_label_classification"


# ---------------------------------------------------------------- recognition


def remote(model_type: str, module: str, **extra) -> SimpleNamespace:
    """A config as a remote-code hub repository has it: auto_map into its own module."""
    auto_map = {"AutoConfig": f"{module}.Config", "AutoModel": f"{module}.Model"}
    return SimpleNamespace(model_type=model_type, auto_map=auto_map, **extra)


@pytest.mark.parametrize(
    ("config", "family"),
    [
        (BertConfig(), "bert"),  # DNABERT 3-6-mer
        (EsmConfig(), "esm"),  # NT v1, AgroNT
        (LlamaConfig(), "llama"),  # GENERator
        (SimpleNamespace(model_type="modernbert"), "modernbert"),
        (remote("bert", "bert_layers"), "dnabert2"),  # DNABERT-2, DNABERT-S
        # GENA-LM: auto_map holds AutoModel only, into modeling_bert
        (SimpleNamespace(model_type="bert", auto_map={"AutoModel": "modeling_bert.X"}), "gena-lm"),
        (remote("esm", "modeling_esm"), "nt-v2"),
        (remote("hyenadna", "modeling_hyena"), "hyenadna"),
        (remote("caduceus", "modeling_caduceus"), "caduceus"),
        # a hub repository's code referenced as "owner/repo--module.Class"
        (remote("bert", "zhihan1996/DNABERT-2-117M--bert_layers"), "dnabert2"),
        (remote("bert", "someone_elses_bert"), None),  # remote code of an unknown family
        (SimpleNamespace(model_type="mamba"), None),
    ],
)
def test_families_are_recognised_from_their_config(config, family):
    found = family_of(config)
    assert (found.name if found else None) == family


def test_every_family_is_complete_and_documented():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text()
    for family in FAMILIES:
        assert family.objective in ("mlm", "clm"), family.name
        assert family.lora_targets and family.head, family.name
        assert family.mean_pooling in ("hook", "config", "native", "none"), family.name
        assert (family.mean_pooling == "none") == (family.objective == "clm"), family.name
        assert f"`{family.name}`" in docs, f"docs/models.md does not list {family.name}"
        row = next(line for line in docs.splitlines() if f"`{family.name}`" in line)
        for target in family.lora_targets:
            assert f"`{target}`" in row, f"docs/models.md: {family.name} row lacks {target}"


def test_reverse_complement_averaging_is_caduceus_ph_only():
    caduceus = family_of(SimpleNamespace(model_type="caduceus"))
    assert caduceus.rc_average_for(SimpleNamespace(rcps=False))  # -ph: post-hoc conjoining
    assert not caduceus.rc_average_for(SimpleNamespace(rcps=True))  # -ps: equivariant already
    assert not family_of(BertConfig()).rc_average_for(BertConfig())
    assert reverse_complement("AACGTN") == "NACGTT"


def test_caduceus_mlm_labels_ignore_the_pad_id(tmp_path):
    """CaduceusForMaskedLM's loss ignores pad_token_id, where transformers' ignore -100."""
    hf = DnaTokenizer.from_pretrained(save_dnabert(tmp_path / "d", 3)).hf
    stock = masking.language_modeling_collator(hf, "mlm", 0.5, None)
    collator = masking.IgnoreWithPadLabel(stock, hf.pad_token_id)
    windows = [hf("AAA CCC GGG TTT")["input_ids"], [2, 3]]
    batch = collator([{"input_ids": ids, masking.MASK_SEED: i} for i, ids in enumerate(windows)])
    labels = batch["labels"]
    assert (labels != -100).all()
    assert (labels == hf.pad_token_id).any() and (labels != hf.pad_token_id).any()


# ---------------------------------------------------------------- native families, end to end

NATIVE = {
    "dnabert3": lambda d: save_dnabert(d, 3),
    "dnabert4": lambda d: save_dnabert(d, 4),
    "dnabert5": lambda d: save_dnabert(d, 5),
    "dnabert6": lambda d: save_dnabert(d, 6),
    "modernbert": save_modernbert,
    "generator": save_generator,
}
# from the modelling code: the head's modules, LoRA's targets, the objective
EXPECTED = {
    "bert": {"head": ("classifier.", "bert.pooler."), "lora": {"query", "value"}, "lm": "mlm"},
    "modernbert": {"head": ("head.", "classifier."), "lora": {"Wqkv"}, "lm": "mlm"},
    "llama": {"head": ("score.",), "lora": {"q_proj", "v_proj"}, "lm": "clm"},
}


@pytest.fixture(scope="module", params=list(NATIVE))
def continued(request, tmp_path_factory) -> dict:
    """A native family fetched from its local hub copy and pre-trained further a few steps."""
    root = tmp_path_factory.mktemp(request.param)
    source = NATIVE[request.param](root / "hub")
    base = fetch_hf_model(str(source), root / "base", name=request.param)
    corpus = make_corpus(root / "corpus", base, n_train=48, n_val=8, length=60)
    setup = {"model": base, "corpus": corpus}
    args = pretrain_args(root, setup, max_steps=4, save_steps=2, logging_steps=2, batch_size=8)
    summary = pretrain.main(args)
    family = family_of(json_config(base))
    return {
        "name": request.param,
        "family": family,
        "expected": EXPECTED[family.name],
        "base": base,
        "continued": root / "out",
        "summary": summary,
        "task": make_task(root / "task", "binary", sizes=(48, 16, 16), lengths=(30, 60)),
        "root": root,
    }


def json_config(model_dir: Path) -> SimpleNamespace:
    return SimpleNamespace(**json.loads((Path(model_dir) / "config.json").read_text()))


def test_continued_pretraining_uses_the_family_objective_and_masking(continued):
    summary = continued["summary"]
    assert summary["objective"] == continued["expected"]["lm"]
    assert summary["global_step"] == 4 and summary["final_train_loss"] > 0
    tokenizer = DnaTokenizer.from_pretrained(continued["continued"])
    collator = masking.language_modeling_collator(
        tokenizer.hf, summary["objective"], 0.15, tokenizer.kmer
    )
    if continued["name"].startswith("dnabert"):
        # overlapping k-mers, detected from the vocabulary: masked in spans of k
        assert tokenizer.kmer == int(continued["name"][-1])
        assert isinstance(collator, masking.KmerSpanCollator) and collator.span == tokenizer.kmer
    else:
        # the ids fed to the model are its own tokenizer's on the raw sequence (GENERator:
        # non-overlapping 6-mers, never DNABERT's overlapping split)
        assert tokenizer.kmer is None and not isinstance(collator, masking.KmerSpanCollator)
        own = tokenizer.hf("ACGTACGTACGTAC")["input_ids"]
        assert tokenizer(["ACGTACGTACGTAC"])["input_ids"][0] == own
    if continued["expected"]["lm"] == "mlm":
        before = AutoModelForMaskedLM.from_pretrained(continued["base"]).state_dict()
        after = AutoModelForMaskedLM.from_pretrained(continued["continued"]).state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before)


def tune(continued: dict, out: Path, method: str) -> dict:
    """A few fine-tuning steps of `method` on the continued model; returns the history."""
    return run_cell(
        continued["continued"], continued["task"], out, method=method, max_steps=4, eval_steps=4
    )


def test_full_finetuning_trains_every_weight(continued, tmp_path):
    history = tune(continued, tmp_path, "full")
    assert history["trainable_parameters"] == history["total_parameters"]
    predictions = pd.read_parquet(tmp_path / "predictions.parquet")
    assert len(predictions) == 32 and predictions["score"].between(0, 1).all()


def test_probe_trains_exactly_the_family_head(continued, tmp_path):
    head = continued["expected"]["head"]
    model, _ = load_sequence_classifier(continued["continued"], 2, PROBLEM, False, seed=0)
    prepare_method(model, FinetuneArguments.defaults("m", "t", "o", method="probe"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    expected = {n for n, _ in model.named_parameters() if n.startswith(head)}
    assert trainable == expected
    assert all(any(n.startswith(module) for n in trainable) for module in head)

    history = tune(continued, tmp_path, "probe")
    assert history["trainable_parameters"] == sum(
        p.numel() for n, p in model.named_parameters() if n in expected
    )
    tuned = load_file(tmp_path / "model" / "model.safetensors")
    start = model.state_dict()
    backbone = [n for n in tuned if not n.startswith(head)]
    assert backbone and all(torch.equal(tuned[n], start[n]) for n in backbone)
    assert any(not torch.equal(tuned[n], start[n]) for n in tuned if n.startswith(head))


def test_lora_adapts_the_family_targets_and_trains_the_head(continued, tmp_path):
    targets = continued["expected"]["lora"]
    tune(continued, tmp_path, "lora")
    saved = tmp_path / "model"
    config = json.loads((saved / "adapter_config.json").read_text())
    assert set(config["target_modules"]) == targets
    weights = load_file(saved / "adapter_model.safetensors")
    adapted = {n.split(".lora_A")[0] for n in weights if ".lora_A" in n}
    model, _ = load_sequence_classifier(continued["continued"], 2, PROBLEM, False, seed=0)
    linear = {
        n
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and n.rsplit(".", 1)[-1] in targets
    }
    # every targeted layer, and only those, carries an adapter
    assert linear and {n.removeprefix("base_model.model.") for n in adapted} == linear
    head = continued["expected"]["head"]
    assert {h.rstrip(".") for h in head} <= set(config["modules_to_save"])
    assert any(n.removeprefix("base_model.model.").startswith(head) for n in weights)


@pytest.mark.parametrize("pooling", ["mean", "first"])
def test_classifiers_pool_as_their_family_and_ignore_padding(continued, pooling):
    model, tokenizer = load_sequence_classifier(
        continued["continued"], 2, PROBLEM, False, seed=0, pooling=pooling
    )
    family = continued["family"].name
    expected = {"llama": "last"}.get(family, pooling)
    assert model.config.dnatune_pooling == expected
    if family == "modernbert":  # its own switch, saved in its config
        assert model.config.classifier_pooling == {"mean": "mean", "first": "cls"}[pooling]
    assert tokenizer.hf.padding_side == "right"
    seqs = ["ACGTACGTACGTAAACGGT", "ACGTACGTAC", "TTTTGGGGCCCC"]
    model.eval()
    with torch.no_grad():
        batch = model(**tokenizer.hf.pad(tokenizer(seqs), return_tensors="pt")).logits
        for i, seq in enumerate(seqs):
            alone = model(**tokenizer.hf.pad(tokenizer([seq]), return_tensors="pt")).logits
            torch.testing.assert_close(batch[i], alone[0], atol=1e-5, rtol=1e-4)


def test_rc_average_scores_a_sequence_and_its_reverse_complement(tmp_path):
    source = save_dnabert(tmp_path / "hub", 3)
    base = fetch_hf_model(str(source), tmp_path / "base", name="dnabert3")
    task = make_task(tmp_path / "task", "binary", sizes=(32, 8, 8), lengths=(30, 40))
    for split in ("train", "val", "test"):  # with ids, as the tasks stage writes them
        frame = pd.read_parquet(task / f"{split}.parquet")
        frame.insert(0, "id", [f"{split}{i}" for i in range(len(frame))])
        frame.to_parquet(task / f"{split}.parquet")
    history = run_cell(base, task, tmp_path / "cell", max_steps=2, eval_steps=2, rc_average=True)
    assert history["rc_average"] is True
    predictions = pd.read_parquet(tmp_path / "cell" / "predictions.parquet")
    model, tokenizer = load_sequence_classifier(tmp_path / "cell" / "model", 2, PROBLEM, False, 0)
    test = pd.read_parquet(task / "test.parquet")["sequence"].tolist()
    model.eval()

    def positive(seqs):
        batch = tokenizer.hf.pad(tokenizer(seqs), return_tensors="pt")
        with torch.no_grad():
            return torch.softmax(model(**batch).logits, -1)[:, 1].numpy()

    both = (positive(test) + positive([reverse_complement(s) for s in test])) / 2
    test_rows = predictions[predictions["split"] == "test"].sort_values("row")
    assert test_rows["id"].tolist() == [f"test{i}" for i in range(len(test))]
    scores = test_rows["score"].to_numpy()
    assert scores == pytest.approx(both, abs=1e-5)
    assert scores != pytest.approx(positive(test), abs=1e-5)


# ---------------------------------------------------------------- remote families

# the remote-code fixtures (tests/remote_models), their modules named as the real families'
REMOTE = {
    "dnabert2": (("classifier.", "bert.pooler."), {"Wqkv"}),  # bert_layers
    "gena": (("classifier.", "bert.pooler."), {"query", "value"}),  # modeling_bert
    "nt2": (("classifier.",), {"query", "value"}),  # modeling_esm
    "hyenadna": (("score.",), {"in_proj", "out_proj"}),  # known by model_type
}


@pytest.mark.parametrize("pattern", list(REMOTE))
def test_remote_families_get_their_head_lora_targets_and_pooling(tmp_path, pattern):
    from remote_models import make_remote_model

    head, targets = REMOTE[pattern]
    source = make_remote_model(pattern, tmp_path / "hub")
    base = fetch_hf_model(str(source), tmp_path / "base", trust_remote_code=True)

    def load(pooling):
        return load_sequence_classifier(
            base, 2, PROBLEM, False, 0, trust_remote_code=True, pooling=pooling
        )

    model, tokenizer = load("mean")
    assert family_of(model.config).name == {"gena": "gena-lm", "nt2": "nt-v2"}.get(pattern, pattern)
    assert tokenizer.hf.padding_side == "right"  # HyenaDNA's own tokenizer pads left

    prepare_method(model, FinetuneArguments.defaults("m", "t", "o", method="probe"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters() if n.startswith(head)}

    peft_model = prepare_method(
        load("mean")[0], FinetuneArguments.defaults("m", "t", "o", method="lora")
    )
    adapted = {n.rsplit(".", 1)[-1] for n, m in peft_model.named_modules() if hasattr(m, "lora_A")}
    assert adapted == targets

    if pattern == "dnabert2":  # the mean hook reads DNABERT-2's encoder through its pooler
        first, _ = load("first")
        assert model.config.dnatune_pooling == "mean" and first.config.dnatune_pooling == "first"
        seqs = ["ACGTACGTTTGACCA", "ACGTAC"]
        model.eval(), first.eval()
        with torch.no_grad():
            batch = model(**tokenizer.hf.pad(tokenizer(seqs), return_tensors="pt")).logits
            alone = model(**tokenizer.hf.pad(tokenizer(seqs[1:]), return_tensors="pt")).logits
            read_first = first(**tokenizer.hf.pad(tokenizer(seqs), return_tensors="pt")).logits
        torch.testing.assert_close(batch[1], alone[0], atol=1e-5, rtol=1e-4)
        assert not torch.allclose(batch, read_first, atol=1e-4)


# ---------------------------------------------------------------- the workflow, from a config edit


@pytest.mark.workflow
def test_native_families_run_the_whole_grid_from_a_config_edit(tmp_path):
    """ModernBERT and GENERator copies as `hf:` models: fetch, continued pre-training,
    fine-tuning full, LoRA and probe from random weights (scratch) and from the continued
    model (pretrained differs from continued only in the model directory it reads),
    evaluation and the report, with no family setting in the config."""
    from conftest import run_snakemake, tiny_config, write_config

    config = tiny_config()
    config["models"] = {
        "modernbert": {"hf": str(save_modernbert(tmp_path / "hub-modernbert"))},
        "generator": {"hf": str(save_generator(tmp_path / "hub-generator"))},
    }
    promoter = config["tasks"]["promoter"]
    config["tasks"] = {f"p_{m}": {**promoter, "finetune": {"method": m}} for m in METHODS}
    config["finetune"].update(max_steps=4, eval_steps=4, variants=VARIANTS)
    config["pretrain"].update(max_steps=4, save_steps=4)
    write_config(tmp_path, config)
    run_snakemake(tmp_path, "--cores", "2")

    head = {"modernbert": ("head.", "classifier."), "generator": ("score.",)}
    for model, expected in {
        "modernbert": EXPECTED["modernbert"],
        "generator": EXPECTED["llama"],
    }.items():
        for method in METHODS:
            for variant in VARIANTS:
                cell = f"p_{method}/{model}/{variant}/f1/s0"
                assert (tmp_path / f"results/eval/{cell}/metrics.json").is_file(), cell
                history = json.loads(
                    (tmp_path / f"results/finetune/{cell}/history.json").read_text()
                )
                assert history["pooling"] == ("mean" if model == "modernbert" else "last"), cell
                saved = tmp_path / f"results/finetune/{cell}/model"
                if method == "lora":
                    adapter = json.loads((saved / "adapter_config.json").read_text())
                    assert set(adapter["target_modules"]) == expected["lora"], cell
                if method == "probe":
                    weights = load_file(saved / "model.safetensors")
                    size = sum(w.numel() for n, w in weights.items() if n.startswith(head[model]))
                    assert history["trainable_parameters"] == size, cell
    summary = pd.read_csv(tmp_path / "results/report/summary.tsv", sep="\t")
    assert set(summary["model"]) == {"modernbert", "generator"}
    assert set(summary["variant"]) == set(VARIANTS)


METHODS = ("full", "lora", "probe")
VARIANTS = ["scratch", "continued"]
