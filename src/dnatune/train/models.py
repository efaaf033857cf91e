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
from dnatune.train.families import family_of
from dnatune.train.model_errors import ModelSourceError
from dnatune.train.pooling import (
    POOLING_KEY,
    POOLINGS,
    apply_pooling,
    configure_pooling,
    requested_pooling,
)
from dnatune.train.scratch import (
    ARCHITECTURES,
    DECODERS,
    ENCODERS,
    init_scratch_model,
    scratch_config,
)

# What moved to train/scratch.py and train/model_errors.py stays importable from here.
__all__ = [
    "ARCHITECTURES",
    "DECODERS",
    "ENCODERS",
    "ModelSourceError",
    "fetch_hf_model",
    "fetch_model",
    "init_scratch_model",
    "load_sequence_classifier",
    "max_model_tokens",
    "model_family",
    "scratch_config",
]

logger = logging.getLogger(__name__)

SIDECAR = "dnatune_tokenizer.json"
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
    from dnatune.train.fetch_check import prove_usable

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
        config, hf_tokenizer = _load_copy(tmp, source, name, trust_remote_code)
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


def _load_copy(directory: Path, source: str, name: str, trust_remote_code: bool) -> tuple:
    """(config, hf tokenizer) of a copied model; an error says why one does not load."""
    from transformers import AutoConfig, AutoTokenizer

    from dnatune.train.fetch_check import missing_package_message

    try:
        config = AutoConfig.from_pretrained(directory, trust_remote_code=trust_remote_code)
        hf_tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=trust_remote_code)
    except ValueError as err:
        if "trust_remote_code" in str(err):
            raise ModelSourceError(
                f"key 'models.{name}.trust_remote_code': '{source}' ships its own code; "
                "set trust_remote_code: true for this model if you trust that repository"
            ) from None
        raise ModelSourceError(f"key 'models.{name}.hf': cannot load '{source}': {err}") from None
    except ImportError as err:
        raise ModelSourceError(missing_package_message(name, err)) from None
    except OSError as err:
        raise ModelSourceError(
            f"key 'models.{name}.hf': '{source}' has no loadable tokenizer ({err}); "
            "dnatune uses a hub model's own tokenizer, so the model directory must contain it"
        ) from None
    return config, hf_tokenizer


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

    _check_request(model_dir, num_labels, problem_type, pooling)
    tokenizer = DnaTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    config = AutoConfig.from_pretrained(
        model_dir,
        num_labels=num_labels,
        problem_type=problem_type,
        trust_remote_code=trust_remote_code,
    )
    family = _fit_tokenizer(config, tokenizer)
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


def _fit_tokenizer(config, tokenizer):
    """Give the config the tokenizer's pad id (decoders without one pad with eos) and the
    tokenizer the padding side its family's head and masking need; return the family."""
    if config.pad_token_id is None:
        hf = tokenizer.hf
        if hf.pad_token_id is None:
            hf.pad_token = hf.eos_token
        config.pad_token_id = hf.pad_token_id
    family = family_of(config)
    if family and family.padding_side:
        tokenizer.hf.padding_side = family.padding_side
    return family


def _check_request(model_dir, num_labels: int, problem_type: str, pooling: str | None) -> None:
    """What load_sequence_classifier is asked for must exist: problem type, pooling, the model."""
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
