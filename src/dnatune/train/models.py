"""Model sources: a scratch architecture spec or a Hugging Face model, and loading for fine-tuning.

Every model directory the workflow writes (results/models/{model}/base) is a
plain Hugging Face directory that also carries its tokenizer and the
`dnatune_tokenizer.json` sidecar, so `DnaTokenizer.from_pretrained(model_dir)`
and `AutoModel*.from_pretrained(model_dir)` both work on it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from dnatune.atomic import atomic_path
from dnatune.settings import fill_defaults, schema_node
from dnatune.train.families import family_of
from dnatune.train.pooling import (
    POOLING_KEY,
    POOLINGS,
    apply_pooling,
    configure_pooling,
    requested_pooling,
)

logger = logging.getLogger(__name__)

SIDECAR = "dnatune_tokenizer.json"
ENCODERS = ("bert", "esm")
DECODERS = ("gpt2", "llama")
ARCHITECTURES = ENCODERS + DECODERS
PROBLEM_TYPES = ("single_label_classification", "multi_label_classification", "regression")
# Framework duplicates of the PyTorch weights that a hub snapshot may also hold.
HUB_IGNORE = [
    "*.h5",
    "*.msgpack",
    "*.ckpt",
    "*.onnx",
    "*.tflite",
    "*.ot",
    "flax_*",
    "tf_*",
    "rust_*",
    "training_args.bin",  # the author's Trainer settings, a pickle: not part of the model
]


class ModelSourceError(ValueError):
    """A model that cannot be fetched, built or loaded; the message says the fix."""


# ---------------------------------------------------------------- scratch models


def scratch_config(spec: dict, hf_tokenizer):
    """A transformers config for an architecture spec, sized to the tokenizer's vocabulary.

    `spec` is `models.<name>.scratch` of the config (architecture, layers, hidden,
    heads, intermediate, max_length, dropout); special token ids come from the tokenizer.
    """
    from transformers import BertConfig, EsmConfig, GPT2Config, LlamaConfig

    arch = spec["architecture"]
    if arch not in ARCHITECTURES:
        raise ModelSourceError(
            f"key 'scratch.architecture': unknown architecture '{arch}'; "
            f"choose one of {', '.join(ARCHITECTURES)}"
        )
    spec = scratch_spec(spec)
    hidden, heads = int(spec["hidden"]), int(spec["heads"])
    if hidden % heads:
        raise ModelSourceError(
            f"key 'scratch.hidden': {hidden} is not divisible by scratch.heads={heads}; "
            "pick a hidden size that is a multiple of the number of heads"
        )
    layers = int(spec["layers"])
    intermediate = int(spec.get("intermediate") or 4 * hidden)  # the schema has no default
    max_length = int(spec["max_length"])
    dropout = float(spec["dropout"])
    ids = _special_ids(hf_tokenizer, need_mask=arch in ENCODERS)
    vocab = len(hf_tokenizer)

    if arch == "bert":
        return BertConfig(
            vocab_size=vocab,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=intermediate,
            max_position_embeddings=max_length,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            pad_token_id=ids["pad"],
        )
    if arch == "esm":
        # rotary positions, as ESM-2; absolute ones would need max_length + pad offset slots
        return EsmConfig(
            vocab_size=vocab,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=intermediate,
            max_position_embeddings=max_length + ids["pad"] + 1,
            position_embedding_type="rotary",
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            pad_token_id=ids["pad"],
            mask_token_id=ids["mask"],
            eos_token_id=ids["eos"],
            layer_norm_eps=1e-5,
        )
    if arch == "gpt2":
        return GPT2Config(
            vocab_size=vocab,
            n_positions=max_length,
            n_embd=hidden,
            n_layer=layers,
            n_head=heads,
            n_inner=intermediate,
            resid_pdrop=dropout,
            embd_pdrop=dropout,
            attn_pdrop=dropout,
            bos_token_id=ids["bos"],
            eos_token_id=ids["eos"],
            pad_token_id=ids["pad"],
        )
    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=max_length,
        attention_dropout=dropout,
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["pad"],
        tie_word_embeddings=True,
    )


def scratch_spec(spec: dict) -> dict:
    """A `models.<name>.scratch` block with the schema's defaults for the keys it leaves out."""
    return fill_defaults(dict(spec), schema_node("definitions/scratch_model"))


def _special_ids(hf_tokenizer, need_mask: bool) -> dict:
    """pad, mask, bos (= [CLS] when there is no bos) and eos (= [SEP]) ids of a tokenizer."""
    ids = {
        "pad": hf_tokenizer.pad_token_id,
        "mask": hf_tokenizer.mask_token_id,
        "bos": hf_tokenizer.bos_token_id
        if hf_tokenizer.bos_token_id is not None
        else hf_tokenizer.cls_token_id,
        "eos": hf_tokenizer.eos_token_id
        if hf_tokenizer.eos_token_id is not None
        else hf_tokenizer.sep_token_id,
    }
    if ids["pad"] is None:
        raise ModelSourceError("the tokenizer has no pad token; rebuild it with a [PAD] token")
    if need_mask and ids["mask"] is None:
        raise ModelSourceError(
            "an encoder (bert, esm) is pre-trained by masked language modelling but the "
            "tokenizer has no mask token; use a built-in tokenizer (char, kmer, bpe), which has [MASK]"
        )
    return ids


def init_scratch_model(spec: dict, tokenizer_dir: str | os.PathLike, out_dir, seed: int = 0):
    """Randomly initialise `spec`'s architecture (seeded) and save it with its tokenizer.

    Encoders are saved as masked-LM models, decoders as causal-LM models, so the
    pre-training stage and `AutoModelForSequenceClassification` both load them.
    """
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, set_seed

    from dnatune.corpus.tokenizers import DnaTokenizer

    tokenizer = DnaTokenizer.from_pretrained(tokenizer_dir)
    config = scratch_config(spec, tokenizer.hf)
    set_seed(seed)
    auto = AutoModelForMaskedLM if spec["architecture"] in ENCODERS else AutoModelForCausalLM
    model = auto.from_config(config)
    n_params = sum(p.numel() for p in model.parameters())
    tokenizer.max_length = int(scratch_spec(spec)["max_length"])
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)  # with its dnatune_tokenizer.json sidecar
    logger.info(
        "initialised %s (%d layers, hidden %d, vocab %d, %.2fM parameters, seed %d) -> %s",
        spec["architecture"],
        config.num_hidden_layers,
        config.hidden_size,
        config.vocab_size,
        n_params / 1e6,
        seed,
        out_dir,
    )
    return model


# ---------------------------------------------------------------- Hugging Face models


def hub_offline() -> bool:
    """HF_HUB_OFFLINE as set now (huggingface_hub reads it only once, at import)."""
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE", "")
    return bool(constants.HF_HUB_OFFLINE) or value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def resolve_hf_source(source: str, revision: str | None = "main", name: str = "model") -> tuple:
    """A local directory holding the model files, and the commit it came from (None if local).

    `source` is a local directory or a hub id; hub ids are downloaded into (or,
    with HF_HUB_OFFLINE set, found in) the Hugging Face cache.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if Path(source).expanduser().is_dir():
        return Path(source).expanduser(), None
    offline = hub_offline()
    key = f"models.{name}.hf"
    try:
        path = snapshot_download(
            source, revision=revision, local_files_only=offline, ignore_patterns=HUB_IGNORE
        )
    except HFValidationError:
        raise ModelSourceError(
            f"key '{key}': '{source}' is neither an existing local directory nor a hub id "
            "(owner/name); fix the path or the id"
        ) from None
    except RevisionNotFoundError:
        raise ModelSourceError(
            f"key 'models.{name}.revision': revision '{revision}' of '{source}' does not exist "
            "on the hub; give a branch, tag or commit hash of that repository"
        ) from None
    except RepositoryNotFoundError:
        raise ModelSourceError(
            f"key '{key}': '{source}' is neither a local directory nor a hub repository "
            "(or it is gated/private: run `huggingface-cli login` first)"
        ) from None
    except LocalEntryNotFoundError:
        if offline:
            raise ModelSourceError(
                f"key '{key}': '{source}' (revision {revision}) is not in the local Hugging Face "
                "cache and HF_HUB_OFFLINE is set; fetch it once where the hub is reachable "
                f"(`snakemake results/models/{name}/base` on a login node) or unset HF_HUB_OFFLINE"
            ) from None
        raise ModelSourceError(
            f"key '{key}': could not download '{source}' (revision {revision}) and it is not "
            "cached; check the network, or fetch it on a machine with internet access"
        ) from None
    except (OSError, ValueError) as err:
        raise ModelSourceError(f"key '{key}': could not fetch '{source}': {err}") from None
    path = Path(path)
    return path, path.name


def fetch_hf_model(
    source: str,
    out_dir: str | os.PathLike,
    revision: str | None = "main",
    trust_remote_code: bool = False,
    kmer: int | None = None,
    max_length: int | None = None,
    name: str = "model",
    objective: str | None = "auto",
    classify: bool = True,
) -> Path:
    """Copy a hub or local model with its tokenizer into `out_dir` and write the sidecar.

    The copy is checked: its config and tokenizer must load (with
    `trust_remote_code` only if the user set it for this model), and it must work
    with the heads the workflow uses (`dnatune.train.fetch_check.prove_usable`): the
    pre-training `objective` (auto, mlm or clm; None skips it) and, if `classify`,
    sequence classification.
    """
    from transformers import AutoConfig, AutoTokenizer

    from dnatune.train.fetch_check import missing_package_message, prove_usable

    src, commit = resolve_hf_source(source, revision, name)
    if not (src / "config.json").exists():
        raise ModelSourceError(
            f"key 'models.{name}.hf': '{src}' has no config.json; point it at a Hugging Face "
            "model directory (one written by save_pretrained) or a hub id"
        )
    with atomic_path(out_dir, directory=True) as tmp:
        shutil.copytree(
            src,
            tmp,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".git", ".cache", *HUB_IGNORE),
        )
        try:
            config = AutoConfig.from_pretrained(tmp, trust_remote_code=trust_remote_code)
            hf_tokenizer = AutoTokenizer.from_pretrained(tmp, trust_remote_code=trust_remote_code)
        except ValueError as err:
            if "trust_remote_code" in str(err):
                raise ModelSourceError(
                    f"key 'models.{name}.trust_remote_code': '{source}' ships its own code; "
                    "set trust_remote_code: true for this model if you trust that repository"
                ) from None
            raise ModelSourceError(
                f"key 'models.{name}.hf': cannot load '{source}': {err}"
            ) from None
        except ImportError as err:
            raise ModelSourceError(missing_package_message(name, err)) from None
        except OSError as err:
            raise ModelSourceError(
                f"key 'models.{name}.hf': '{source}' has no loadable tokenizer ({err}); "
                "dnatune uses a hub model's own tokenizer, so the model directory must contain it"
            ) from None
        if kmer is not None:
            _check_kmer_vocab(hf_tokenizer, kmer, name)
        sidecar = {
            "kind": "hf",
            "kmer": kmer,
            **({"k": kmer, "overlap": True} if kmer else {}),
            "source": source,
            "revision": None if commit is None else revision,
            "commit": commit,
            "max_length": max_length,
        }
        (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
        prove_usable(tmp, name, trust_remote_code, objective, classify)
    logger.info(
        "fetched %s (%s, revision %s, commit %s, kmer %s) -> %s",
        source,
        config.model_type,
        revision,
        commit or "local",
        kmer,
        out_dir,
    )
    return Path(out_dir)


def _check_kmer_vocab(hf_tokenizer, kmer: int, name: str) -> None:
    """A DNABERT-style model must have its k-mers in the vocabulary, else input becomes [UNK]."""
    probe = "A" * kmer
    if probe not in hf_tokenizer.get_vocab():
        raise ModelSourceError(
            f"key 'models.{name}.kmer': kmer is {kmer} but the tokenizer has no {kmer}-mer "
            f"token (no '{probe}' in its vocabulary); set kmer to the model's k or remove it"
        )


def fetch_model(model_cfg: dict, out_dir, name: str = "model") -> Path:
    """`fetch_hf_model` driven by a `models.<name>` config entry."""
    return fetch_hf_model(
        model_cfg["hf"],
        out_dir,
        revision=model_cfg["revision"],
        trust_remote_code=bool(model_cfg["trust_remote_code"]),
        kmer=model_cfg.get("kmer"),
        max_length=model_cfg.get("max_length"),
        name=name,
    )


# ---------------------------------------------------------------- loading


def model_family(config) -> str:
    """'encoder' or 'decoder', from the saved architecture (falls back to the model type)."""
    for arch in getattr(config, "architectures", None) or []:
        if arch.endswith(("ForCausalLM", "LMHeadModel")):
            return "decoder"
        if arch.endswith(("ForMaskedLM", "ForPreTraining")):
            return "encoder"
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    model_type = config.model_type
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "encoder"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or getattr(config, "is_decoder", False):
        return "decoder"
    return "encoder"


def max_model_tokens(config, tokenizer_max_length: int | None = None) -> int:
    """Longest input (in tokens, specials included) the model and its tokenizer accept."""
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        if config.model_type == "esm" and config.position_embedding_type == "absolute":
            positions -= (config.pad_token_id or 0) + 1  # ESM numbers positions after the pad id
        limits.append(int(positions))
    if tokenizer_max_length and tokenizer_max_length < 1_000_000:
        limits.append(int(tokenizer_max_length))
    return min(limits) if limits else 512


def load_sequence_classifier(
    model_dir,
    num_labels: int,
    problem_type: str,
    reinitialise: bool,
    seed: int,
    trust_remote_code: bool = False,
    pooling: str | None = None,
):
    """(model, DnaTokenizer) with a fresh sequence classification head on `model_dir`'s backbone.

    reinitialise=True builds the same architecture with random weights (seeded),
    the `scratch` variant. Decoders (gpt2, llama) classify from the last
    non-pad token, so their config gets the tokenizer's pad id.

    pooling ("mean" or "first", see POOLINGS) is how an encoder's head reads the
    sequence; None takes what `model_dir`'s config recorded (a fine-tuned model
    reloads with the pooling it was trained with), else "first". A fine-tuned
    model with mean pooling must be reloaded with this function: plain
    `AutoModelForSequenceClassification` would read the first token.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, set_seed

    from dnatune.corpus.tokenizers import DnaTokenizer
    from dnatune.train.loading import load_model

    if problem_type not in PROBLEM_TYPES:
        raise ModelSourceError(
            f"problem_type '{problem_type}' is unknown; use one of {', '.join(PROBLEM_TYPES)}"
        )
    if pooling is not None and pooling not in POOLINGS:
        raise ModelSourceError(
            f"key 'finetune.pooling': '{pooling}' is not one of {', '.join(POOLINGS)}"
        )
    if problem_type == "regression" and num_labels != 1:
        raise ModelSourceError(f"regression needs num_labels=1, got {num_labels}")
    if not (Path(model_dir) / "config.json").exists():
        raise ModelSourceError(
            f"{model_dir} is not a model directory (no config.json); build it with the "
            "fetch_model, init_model or pretrain rule first"
        )
    tokenizer = DnaTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    config = AutoConfig.from_pretrained(
        model_dir,
        num_labels=num_labels,
        problem_type=problem_type,
        trust_remote_code=trust_remote_code,
    )
    if config.pad_token_id is None:
        hf = tokenizer.hf
        if hf.pad_token_id is None:
            hf.pad_token = hf.eos_token  # decoders without a pad token pad with eos
        config.pad_token_id = hf.pad_token_id
    family = family_of(config)
    if family and family.padding_side:
        tokenizer.hf.padding_side = family.padding_side  # what its head and masking need
    pooling = requested_pooling(config, pooling)
    configure_pooling(config, pooling)
    set_seed(seed)
    try:
        model = load_model(
            AutoModelForSequenceClassification,
            model_dir,
            trust_remote_code=trust_remote_code,
            reinitialise=reinitialise,
            config=config,
        )
    except ModelSourceError:
        raise
    except ValueError as err:
        raise ModelSourceError(
            f"{model_dir}: transformers has no sequence classification head for model type "
            f"'{config.model_type}' ({err})"
        ) from None
    pooling = apply_pooling(model, pooling, decoder=model_family(config) == "decoder")
    setattr(model.config, POOLING_KEY, pooling)
    logger.info(
        "loaded %s (family %s) for %s with %d labels (%s, seed %d, %s-token pooling)",
        model_dir,
        family.name if family else "unknown",
        problem_type,
        num_labels,
        "re-initialised" if reinitialise else "pretrained weights",
        seed,
        pooling,
    )
    return model, tokenizer
