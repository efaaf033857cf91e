"""The fine-tuning methods: full (all weights), probe (the head only), lora (adapters + head)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from dnatune.tasks.frames import FinetuneInputError
from dnatune.train.families import GENERIC_HEAD, family_of

if TYPE_CHECKING:
    from dnatune.train.finetune import FinetuneArguments


def prepare_method(model, args: FinetuneArguments):
    """full: all weights train; probe: only the head; lora: adapters plus the head."""
    head = head_modules(model)
    if args.method == "full":
        return model
    if args.method == "probe":
        for name, param in model.named_parameters():
            param.requires_grad = _in_modules(name, head)
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    targets = lora_target_modules(model, args)
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=args.lora["r"],
        lora_alpha=args.lora["alpha"],
        lora_dropout=args.lora["dropout"],
        target_modules=targets,
        modules_to_save=head,
    )
    try:
        return get_peft_model(model, config)
    except ValueError as err:
        linear = sorted(
            {
                n.rsplit(".", 1)[-1]
                for n, m in model.named_modules()
                if isinstance(m, torch.nn.Linear)
            }
        )
        raise FinetuneInputError(
            f"LoRA target modules {targets} do not fit {type(model).__name__} ({err}); set "
            f"finetune.lora.target_modules or models.<model>.lora_target_modules to some of "
            f"its linear layers: {', '.join(linear)}"
        ) from None


def head_modules(model) -> list[str]:
    """Paths of the classification head's modules: the family's (families.py), else generic names."""
    family = family_of(model.config)
    names = family.head if family else GENERIC_HEAD
    head = [path for path, _ in model.named_modules() if path and path.rsplit(".", 1)[-1] in names]
    # a head module's own children (ModernBERT's head.dense) are covered by their parent
    head = [path for path in head if not any(path.startswith(f"{other}.") for other in head)]
    if not head:
        raise FinetuneInputError(
            f"{type(model).__name__} ({'family ' + family.name if family else 'unknown family'}) "
            f"has no classification head module named {' or '.join(names)}; method 'probe' "
            "and 'lora' cannot tell head from backbone"
        )
    return head


def lora_target_modules(model, args: FinetuneArguments) -> list[str]:
    """models.<m>.lora_target_modules, else finetune.lora.target_modules, else the family's."""
    if args.lora_target_modules:
        return list(args.lora_target_modules)
    if args.lora.get("target_modules"):
        return list(args.lora["target_modules"])
    family = family_of(model.config)
    if family is None or not family.lora_targets:
        raise FinetuneInputError(
            f"no default LoRA target modules for model type '{model.config.model_type}' "
            f"(a family dnatune does not know, see docs/models.md); set "
            "finetune.lora.target_modules or models.<model>.lora_target_modules"
        )
    return list(family.lora_targets)


def _in_modules(param_name: str, modules: list[str]) -> bool:
    return any(param_name.startswith(f"{path}.") for path in modules)
