"""Loading, calling and saving models whatever their own (remote) code does.

One place for what real model families need beyond `AutoModel*.from_pretrained`:

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
from pathlib import Path

import torch
from transformers import PreTrainedModel, Trainer

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # each may be sharded (.index.json)


def load_model(
    auto_class,
    model_dir,
    trust_remote_code: bool = False,
    reinitialise: bool = False,
    config=None,
):
    """`auto_class` (an AutoModelFor* class) on `model_dir`, ready for the Trainer.

    reinitialise=True builds random weights from the config (seeded by the caller).
    """
    if config is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    if reinitialise:
        model = auto_class.from_config(config, trust_remote_code=trust_remote_code)
    else:
        try:
            model = auto_class.from_pretrained(
                model_dir, config=config, trust_remote_code=trust_remote_code
            )
        except RuntimeError as err:
            if "meta" not in str(err):
                raise
            # its __init__ computes tensors, which fails on the meta device (transformers 5)
            logger.info(
                "%s cannot be built on the meta device (%s); building it on the CPU", model_dir, err
            )
            model = auto_class.from_config(config, trust_remote_code=trust_remote_code)
            load_weights(model, model_dir)
            model.eval()
    pass_only_accepted_inputs(model)
    return model


def load_weights(model, model_dir) -> None:
    """Load `model_dir`'s weight files into `model`; a fresh head may be missing from them."""
    state = read_weights(Path(model_dir))
    own = model.state_dict()
    prefix = model.base_model_prefix
    if prefix and not own.keys() & state.keys():  # saved from the bare backbone, or vice versa
        with_prefix = {f"{prefix}.{k}": v for k, v in state.items()}
        without = {k.removeprefix(f"{prefix}."): v for k, v in state.items()}
        state = max(with_prefix, without, key=lambda s: len(own.keys() & s.keys()))
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys:
        logger.info("newly initialised (not in %s): %s", model_dir, ", ".join(result.missing_keys))
    if result.unexpected_keys:
        logger.info("unused weights of %s: %s", model_dir, ", ".join(result.unexpected_keys))
    model.tie_weights()


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
