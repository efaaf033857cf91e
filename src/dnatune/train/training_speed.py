"""Settings that make training faster without changing what it computes: torch.compile
and the fused AdamW kernel, as TrainingArguments (the Trainer applies both itself).

- `compile`: the model is compiled with torch.compile (TorchInductor). It pays on GPUs for
  runs of many steps; on a CPU the first compilation of even a tiny BERT took minutes on
  this project's 2-core test machine, so it is off unless asked for. Variable batch shapes
  recompile once, then run with dynamic shapes.
- `fused_optimizer`: AdamW as one fused kernel per parameter group (torch's `fused=True`,
  `adamw_torch_fused`) or the plain one (`adamw_torch`). auto leaves the Trainer's choice:
  transformers 5.24 picks the fused kernel on every device, which the project's results
  were made with, so auto changes nothing; true/false force one.
"""

from __future__ import annotations


def speed_arguments(compile: bool, fused_optimizer: bool | str, where: str) -> dict:
    """TrainingArguments for `compile` and `fused_optimizer`; `where` names the config block."""
    if not isinstance(compile, bool):
        raise ValueError(f"key '{where}.compile': {compile!r} is neither true nor false")
    if fused_optimizer != "auto" and not isinstance(fused_optimizer, bool):
        raise ValueError(
            f"key '{where}.fused_optimizer': {fused_optimizer!r} is not one of auto, true, false"
        )
    arguments = {"torch_compile": compile}
    if fused_optimizer != "auto":
        arguments["optim"] = "adamw_torch_fused" if fused_optimizer else "adamw_torch"
    return arguments
