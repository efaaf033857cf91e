"""Settings that make training faster without changing what it computes: torch.compile
and the fused AdamW kernel, as TrainingArguments (the Trainer applies both itself).

- `compile`: the model is compiled with torch.compile (TorchInductor). It pays on GPUs for
  runs of many steps; on a CPU the first compilation of even a tiny BERT took minutes on
  this project's 2-core test machine, so it is off unless asked for. Variable batch shapes
  recompile once, then run with dynamic shapes.
- `fused_optimizer`: AdamW as one fused kernel per parameter group (torch's `fused=True`).
  auto: on a CUDA GPU only. transformers >= 5 picks it on every device when left alone;
  dnatune keeps the CPU on the plain (foreach) AdamW, which its CPU results were made with.
"""

from __future__ import annotations

import torch


def speed_arguments(compile: bool, fused_optimizer: bool | str, where: str) -> dict:
    """TrainingArguments for `compile` and `fused_optimizer`; `where` names the config block."""
    if not isinstance(compile, bool):
        raise ValueError(f"key '{where}.compile': {compile!r} is neither true nor false")
    if fused_optimizer != "auto" and not isinstance(fused_optimizer, bool):
        raise ValueError(
            f"key '{where}.fused_optimizer': {fused_optimizer!r} is not one of auto, true, false"
        )
    fused = torch.cuda.is_available() if fused_optimizer == "auto" else fused_optimizer
    return {"torch_compile": compile, "optim": "adamw_torch_fused" if fused else "adamw_torch"}
