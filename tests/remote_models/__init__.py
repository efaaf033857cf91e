"""Tiny remote-code models, one per real family's loading behaviour, built into a directory.

    from remote_models import make_remote_model
    model_dir = make_remote_model("hyenadna", tmp_path / "hyena")   # -> Path
    # config: models.<name> = {"hf": str(model_dir), "trust_remote_code": True}

`make_remote_model(pattern, directory, seed=0)` writes a Hugging Face model directory
as the hub would hold it: config.json with an `auto_map` into modelling code copied
beside it, the tokenizer files, and random weights (seeded), in well under a second.
Load it with `trust_remote_code=True`. The modelling modules are written here from the
real families' behaviour (their code was read for facts only); each module's docstring
says what it reproduces:

| pattern    | module (+ tokenizer)                      | objective | reproduces                                  |
| ---------- | ----------------------------------------- | --------- | ------------------------------------------- |
| dnabert2   | bert_layers.py, BPE tokenizer.json        | mlm       | tensors built in __init__ (meta-device init |
|            |                                           |           | fails), imports einops, .bin-only weights   |
| hyenadna   | hyena_like.py + tokenization_char.py      | clm       | aliased parameter (shared tensors on save), |
|            |                                           |           | forward without attention_mask, custom      |
|            |                                           |           | tokenizer class via auto_map, left padding, |
|            |                                           |           | .bin-only weights                           |
| nt2        | modeling_esm.py (model_type esm), 6-mer   | mlm       | a plain remote masked LM (rotary, gated FFN |
|            | non-overlapping vocabulary (4107 tokens)  |           | without bias), safetensors weights          |
| gena       | modeling_bert.py (transformers'           | mlm       | auto_map naming `AutoModel` only; the heads |
|            | BertConfig), BPE                          |           | are found in the module; pre-layer-norm     |
|            |                                           |           | BERT whose weights fit native BERT's names  |
| caduceus   | caduceus_like.py, caduceus_config.py +    | mlm       | remote code importing mamba_ssm, which is   |
|            | tokenization_char.py                      |           | not installed: loading the model must fail, |
|            |                                           |           | naming it (config and tokenizer load)       |

Modules are named as the real family's repository names them where dnatune recognises
the family by that name (bert_layers, modeling_esm, modeling_bert); HyenaDNA and
Caduceus are recognised by their model_type.

PATTERNS maps each pattern to its `Pattern` (module, class names, head names).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Pattern:
    module: str  # modelling module in this directory, copied next to config.json
    config_class: str
    lm_class: str | None  # the pre-training head's class (None: the module cannot import)
    classifier_class: str
    objective: str  # "mlm" or "clm"
    tokenizer: str  # "bpe", "nt6" or "char" (the custom CharTokenizer)
    weights: str  # "bin" (pytorch_model.bin only) or "safetensors"
    config_module: str | None = None  # the config class's module, if not `module`
    # the auto classes config.json's auto_map names (AutoModel: the LM class); None:
    # AutoConfig, the LM's and the classifier's
    mapped: tuple[str, ...] | None = None

    @property
    def lm_auto(self) -> str:
        return "AutoModelForMaskedLM" if self.objective == "mlm" else "AutoModelForCausalLM"

    def auto_map(self, lm_class: str) -> dict:
        classes = {
            "AutoConfig": f"{self.config_module or self.module}.{self.config_class}",
            "AutoModelForSequenceClassification": f"{self.module}.{self.classifier_class}",
            self.lm_auto: f"{self.module}.{lm_class}",
            "AutoModel": f"{self.module}.{lm_class}",
        }
        names = self.mapped or ("AutoConfig", self.lm_auto, "AutoModelForSequenceClassification")
        return {name: classes[name] for name in names}


PATTERNS = {
    "dnabert2": Pattern(
        "bert_layers",
        "AlibiBertConfig",
        "AlibiBertForMaskedLM",
        "AlibiBertForSequenceClassification",
        "mlm",
        "bpe",
        "bin",
    ),
    "hyenadna": Pattern(
        "hyena_like",
        "HyenaLikeConfig",
        "HyenaLikeForCausalLM",
        "HyenaLikeForSequenceClassification",
        "clm",
        "char",
        "bin",
    ),
    "nt2": Pattern(
        "modeling_esm",
        "RotaryMlmConfig",
        "RotaryMlmForMaskedLM",
        "RotaryMlmForSequenceClassification",
        "mlm",
        "nt6",
        "safetensors",
    ),
    "gena": Pattern(
        "modeling_bert",
        "BertConfig",  # transformers' own: config.json has no AutoConfig entry
        "BertForMaskedLM",
        "BertForSequenceClassification",
        "mlm",
        "bpe",
        "safetensors",
        mapped=("AutoModel",),
    ),
    "caduceus": Pattern(
        "caduceus_like",
        "CaduceusLikeConfig",
        None,
        "CaduceusLikeForSequenceClassification",
        "mlm",
        "char",
        "safetensors",
        "caduceus_config",
    ),
}
CHAR_TOKENIZER = "tokenization_char"
# sizes for a config class whose defaults are a real model's (transformers' BertConfig)
SMALL = {
    "BertConfig": {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "tie_word_embeddings": False,
    }
}


def make_remote_model(pattern: str, directory: Path, seed: int = 0) -> Path:
    """Write the tiny `pattern` model (see the module docstring) into `directory`."""
    spec = PATTERNS[pattern]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for module_name in {spec.module, spec.config_module or spec.module}:
        shutil.copy(HERE / f"{module_name}.py", directory)
    vocab_size, pad_id = _write_tokenizer(spec.tokenizer, directory, seed)
    if spec.lm_class is None:  # cannot be imported here: config.json alone, as on the hub
        auto_map = spec.auto_map("CaduceusLikeForMaskedLM")
        config = {"model_type": "caduceus", "auto_map": auto_map, "vocab_size": vocab_size}
        config["architectures"] = ["CaduceusLikeForMaskedLM"]
        (directory / "config.json").write_text(json.dumps(config, indent=2))
        return directory
    module = _import(HERE / f"{spec.module}.py")
    config = getattr(module, spec.config_class)(
        vocab_size=vocab_size,
        pad_token_id=pad_id,
        architectures=[spec.lm_class],
        auto_map=spec.auto_map(spec.lm_class),
        **SMALL.get(spec.config_class, {}),
    )
    torch.manual_seed(seed)
    model = getattr(module, spec.lm_class)(config)
    if spec.weights == "bin":  # torch.save keeps an aliased parameter aliased
        config.save_pretrained(directory)
        torch.save(model.state_dict(), directory / "pytorch_model.bin")
    else:
        model.save_pretrained(directory)
    return directory


def _write_tokenizer(kind: str, directory: Path, seed: int) -> tuple[int, int]:
    """Tokenizer files as the family ships them; returns (vocabulary size, pad id)."""
    if kind == "char":
        shutil.copy(HERE / f"{CHAR_TOKENIZER}.py", directory)
        module = _import(HERE / f"{CHAR_TOKENIZER}.py")
        config = {
            "tokenizer_class": "CharTokenizer",
            "auto_map": {"AutoTokenizer": [f"{CHAR_TOKENIZER}.CharTokenizer", None]},
            "characters": ["A", "C", "G", "T", "N"],
            "model_max_length": 1024,
            "padding_side": "left",
        }
        (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
        tokenizer = module.CharTokenizer()
        return len(tokenizer), tokenizer.pad_token_id
    from model_fixtures import markov_sequences

    from dnatune.corpus.tokenizers import build_tokenizer

    if kind == "bpe":
        spec = {"kind": "bpe", "vocab_size": 64}
        tokenizer = build_tokenizer(spec, train_sequences=markov_sequences(50, 200, seed)).hf
    else:
        tokenizer = build_tokenizer({"kind": "kmer", "k": 6, "overlap": False}).hf
    tokenizer.save_pretrained(str(directory))  # no dnatune sidecar: a hub model has none
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_path.write_text(json.dumps(config, indent=2))
    return len(tokenizer), tokenizer.pad_token_id


def _import(path: Path):
    name = f"remote_fixture_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
