"""Loading, calling and saving models whatever their own (remote) code does.

One place for what real model families need beyond `AutoModel*.from_pretrained`:

- a remote-code repository whose config.json `auto_map` names only some auto classes
  (GENA-LM's names `AutoModel` alone) gets its other heads from its own module
  (`BertForSequenceClassification` beside the mapped `BertForMaskedLM`), as its README
  does by hand; transformers alone would build its native class for the model_type,
  another architecture. Code without such a head is an error, never a native fallback;
- a checkpoint whose backbone weights do not fit the built model (keys missing,
  unexpected or of another shape, beyond the head's) is an error, not a warning;
- tensors built in `__init__` (DNABERT-2's ALiBi bias) break transformers 5's
  meta-device initialisation; such a model is built on the real device from its
  config and its weights (safetensors or `.bin`, sharded or not) loaded after;
- a forward that does not take every input the Trainer, peft or the collators pass
  (HyenaDNA has no `attention_mask`) gets only the inputs it names;
- a model that cannot mask padding is batched so that it never sees any
  (`unpadded_batches`): sequences of one length batch as usual, others go one per
  forward, gradients accumulated over the batch;
- aliased parameters (one module reused, as HyenaDNA's activation) are saved as
  copies, which safetensors accepts (`AliasSafeTrainer`, `save_model`).
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import sys
from pathlib import Path

import torch
from transformers import PreTrainedModel, Trainer

from dnatune.train.families import GENERIC_HEAD, family_of, remote_modules
from dnatune.train.models import ModelSourceError

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # each may be sharded (.index.json)
# a model class's name: a family prefix, then what it is ("Bert" + "ForMaskedLM")
MODEL_CLASS_NAME = re.compile(r"^(\w+?)(?:For[A-Z]\w*|LMHeadModel|PreTrainedModel|Model)$")
# the class name endings an auto class's head has in a family's own code, where not
# the auto class's own ending (AutoModelForMaskedLM -> ForMaskedLM)
HEAD_ENDINGS = {"AutoModelForCausalLM": ("ForCausalLM", "LMHeadModel"), "AutoModel": ("Model",)}


class MissingHeadError(ModelSourceError):
    """A remote-code model whose own code has no class for the head asked for."""


def load_model(
    auto_class,
    model_dir,
    trust_remote_code: bool = False,
    reinitialise: bool = False,
    config=None,
):
    """`auto_class` (an AutoModelFor* class) on `model_dir`, ready for the Trainer.

    reinitialise=True builds random weights from the config (seeded by the caller).
    Raises MissingHeadError for remote code without that head, and ModelSourceError
    for weights that do not fit the model built.
    """
    if config is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    # None where transformers resolves the class itself (native, or named in the auto_map)
    own_class = own_head_class(auto_class, model_dir, config, trust_remote_code)
    model_class = own_class or auto_class
    remote = {} if own_class else {"trust_remote_code": trust_remote_code}

    def build():
        if own_class:
            return own_class._from_config(config)  # as from_config builds remote code
        return auto_class.from_config(config, **remote)

    if reinitialise:
        model = build()
    else:
        try:
            model, info = model_class.from_pretrained(
                model_dir, config=config, output_loading_info=True, **remote
            )
        except RuntimeError as err:
            if "meta" not in str(err):
                raise
            # its __init__ computes tensors, which fails on the meta device (transformers 5)
            logger.info(
                "%s cannot be built on the meta device (%s); building it on the CPU", model_dir, err
            )
            model = build()
            info = load_weights(model, model_dir)
            model.eval()
        check_weights_fit(model, info, model_dir)
    pass_only_accepted_inputs(model)
    return model


def own_head_class(auto_class, model_dir, config, trust_remote_code: bool):
    """The class for `auto_class` in the remote code of a config whose auto_map lacks it.

    None where transformers resolves the class itself: no remote code (or not trusted),
    or the auto_map names `auto_class`. Otherwise the head is looked up in the modules
    the auto_map names, under the prefix of the classes it maps ("Bert" of
    "modeling_bert.BertForMaskedLM" -> "BertForSequenceClassification"); code without
    it raises MissingHeadError.
    """
    from transformers.dynamic_module_utils import get_class_from_dynamic_module

    auto_map = getattr(config, "auto_map", None) or {}
    name = auto_class.__name__
    references = [v for k, v in auto_map.items() if k.startswith("AutoModel")]
    if not trust_remote_code or not references or name in auto_map:
        return None
    endings = HEAD_ENDINGS.get(name, (name.removeprefix("AutoModel"),))
    looked_for = []
    for reference in sorted(references):
        prefix = MODEL_CLASS_NAME.match(reference.rsplit(".", 1)[-1])
        mapped = get_class_from_dynamic_module(reference, model_dir)
        module = sys.modules[mapped.__module__]
        for ending in endings:
            wanted = f"{prefix.group(1) if prefix else ''}{ending}"
            looked_for.append(f"{reference.rsplit('.', 1)[0]}.{wanted}")
            model_class = getattr(module, wanted, None)
            if isinstance(model_class, type) and issubclass(model_class, PreTrainedModel):
                model_class.register_for_auto_class(name)  # saving records it in the auto_map
                logger.info("%s: %s is %s of its own code", model_dir, name, wanted)
                return model_class
    raise MissingHeadError(
        f"{model_dir}: its own code (auto_map modules {', '.join(sorted(remote_modules(config)))}) "
        f"has no {' or '.join(looked_for)}, and its config.json auto_map names no {name}; "
        f"transformers' native class for model type '{config.model_type}' would be another "
        f"architecture, so dnatune does not fall back to it. Fix: use a model (or revision) "
        f"whose code defines that head, or, where it does under another name, add "
        f'"{name}": "<module>.<class>" to the auto_map of a local copy\'s config.json'
    )


def check_weights_fit(model, info: dict, model_dir) -> None:
    """Raise if `model_dir`'s weights do not fit `model` beyond its head.

    `info` is from_pretrained's loading info. A fresh head (classifier, score, pooler:
    the family's head modules) may be missing from a pre-trained checkpoint and
    another head's weights (an MLM head's) unused; backbone weights missing, left
    over or of another shape mean the checkpoint is of another architecture.
    """
    family = family_of(model.config)
    head = set(family.head if family else GENERIC_HEAD)
    prefix = model.base_model_prefix
    has_backbone = bool(prefix) and model.base_model is not model

    def in_backbone(key: str) -> bool:
        if head & set(key.split(".")[:-1]):
            return False
        return not has_backbone or key.startswith(f"{prefix}.")

    problems = {
        "missing from the checkpoint": sorted(filter(in_backbone, info["missing_keys"])),
        "in the checkpoint but not in the model": sorted(
            filter(in_backbone, info["unexpected_keys"])
        ),
        "of another shape": sorted(str(k) for k in info.get("mismatched_keys") or ()),
    }
    for kind, keys in problems.items():
        if keys:
            raise ModelSourceError(
                f"{model_dir}: the weights do not fit {type(model).__name__} "
                f"({type(model).__module__}): backbone weights {kind}: {', '.join(keys)}. "
                "The checkpoint is of another architecture than the class built for it: a "
                "model shipping its own code (auto_map in config.json) needs "
                "models.<name>.trust_remote_code: true; otherwise point the model at a "
                "directory whose config.json and weights belong together"
            )
    fresh = sorted(set(info["missing_keys"]) - set(problems["missing from the checkpoint"]))
    if fresh:
        logger.info("newly initialised (not in %s): %s", model_dir, ", ".join(fresh))


def load_weights(model, model_dir) -> dict:
    """Load `model_dir`'s weight files into `model`; returns the missing and unexpected keys."""
    state = read_weights(Path(model_dir))
    own = model.state_dict()
    prefix = model.base_model_prefix
    if prefix and not own.keys() & state.keys():  # saved from the bare backbone, or vice versa
        with_prefix = {f"{prefix}.{k}": v for k, v in state.items()}
        without = {k.removeprefix(f"{prefix}."): v for k, v in state.items()}
        state = max(with_prefix, without, key=lambda s: len(own.keys() & s.keys()))
    result = model.load_state_dict(state, strict=False)
    model.tie_weights()
    tied = set(getattr(model, "all_tied_weights_keys", None) or {})
    return {
        "missing_keys": [k for k in result.missing_keys if k not in tied],
        "unexpected_keys": result.unexpected_keys,
    }


def read_weights(model_dir: Path) -> dict:
    """Every tensor of a model directory's safetensors or .bin weights (sharded or not)."""
    from safetensors.torch import load_file

    for name in WEIGHT_FILES:
        index = model_dir / f"{name}.index.json"
        files = (
            sorted(set(json.loads(index.read_text())["weight_map"].values()))
            if index.exists()
            else [name] * (model_dir / name).exists()
        )
        if files:
            state = {}
            for file in files:
                path = model_dir / file
                if file.endswith(".safetensors"):
                    state.update(load_file(path))
                else:
                    state.update(torch.load(path, map_location="cpu", weights_only=True))
            return state
    raise FileNotFoundError(f"{model_dir} has no {' or '.join(WEIGHT_FILES)} weights")


# ---------------------------------------------------------------- calling


def forward_inputs(model) -> set[str] | None:
    """Names the model's forward takes; None when it takes any (**kwargs)."""
    parameters = inspect.signature(model.forward).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


def can_mask_padding(model) -> bool:
    """Whether padding can be masked: the forward takes an attention mask (or any input)."""
    names = forward_inputs(model)
    return names is None or "attention_mask" in names


def pass_only_accepted_inputs(model) -> None:
    """Drop the keyword inputs `model`'s forward does not name (attention_mask for HyenaDNA).

    Collators, the Trainer and peft pass attention_mask and output flags to every
    model; a forward without **kwargs rejects them. Dropping the mask is only safe
    for batches without padding: see `unpadded_batches`.
    """
    names = forward_inputs(model)
    if names is None:
        return
    original = model.forward

    @functools.wraps(original)
    def forward(*args, **kwargs):
        return original(*args, **{k: v for k, v in kwargs.items() if k in names})

    model.forward = forward


def unpadded_batches(
    model, per_device_batch: int, train_lengths: set[int], eval_lengths: set[int]
) -> dict:
    """TrainingArguments batching that never pads for a model that cannot mask padding.

    Such a model (a long convolution over the whole input) would let the padding of a
    batch change each sequence's output. Where all sequences have one token length
    (fixed windows, fixed-length tasks) a batch has no padding anyway; otherwise it gets
    one sequence per forward, training accumulating the gradients of `per_device_batch`
    of them. `*_lengths` are the distinct token lengths of the training and evaluation data.
    """
    batching = {
        "per_device_train_batch_size": per_device_batch,
        "per_device_eval_batch_size": per_device_batch,
        "gradient_accumulation_steps": 1,
    }
    if can_mask_padding(model):
        return batching
    if len(train_lengths) > 1:
        batching.update(per_device_train_batch_size=1, gradient_accumulation_steps=per_device_batch)
    if len(eval_lengths) > 1:
        batching.update(per_device_eval_batch_size=1)
    logger.info(
        "%s takes no attention mask, so it is never padded: %s",
        type(model).__name__,
        ", ".join(f"{k} {v}" for k, v in batching.items()),
    )
    return batching


# ---------------------------------------------------------------- saving


def savable_state_dict(model) -> dict:
    """The state dict with aliased tensors (one parameter under two names) as copies.

    transformers refuses to save shared tensors it does not know as tied weights;
    copies reload into the one parameter, with the same value under each name.
    """
    state = model.state_dict()
    tied = set(getattr(model, "all_tied_weights_keys", None) or {})
    seen = {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.device.type == "meta" or name in tied:
            continue
        if key in seen:
            state[name] = tensor.clone()
        else:
            seen[key] = name
    return state


def save_model(model, directory) -> None:
    """`model.save_pretrained(directory)`, aliased parameters saved as copies."""
    state = savable_state_dict(model) if isinstance(model, PreTrainedModel) else None
    model.save_pretrained(str(directory), state_dict=state)


class AliasSafeTrainer(Trainer):
    """A Trainer whose checkpoints and final model keep aliased parameters (as copies)."""

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if state_dict is None and isinstance(self.model, PreTrainedModel):
            state_dict = savable_state_dict(self.model)  # a peft model saves its adapter
        super()._save(output_dir, state_dict)
