"""Training throughput of one run: tokens/s, samples/s, padding, peak memory and MFU.

`ThroughputCallback` is a TrainerCallback. It counts every training batch through a
forward pre-hook on the model (the batch as the model gets it, so any collator,
packing included, is counted alike; evaluation forwards run in eval mode and are left
out), times the optimisation steps (on_step_begin to on_step_end, the GPU
synchronised at both ends: data loading, evaluation and checkpointing are left out)
and, at the end of training, puts its figures in `record`:

- tokens_per_second: real tokens (attention mask 1, padding excluded) per step second;
- samples_per_second: sequences per step second;
- padding_fraction: padded positions / all positions of the training batches;
- peak_rss_mb: the process' peak resident memory (resource.getrusage, since it started);
- peak_gpu_mb: torch.cuda.max_memory_allocated during training (None on CPU);
- mfu: model FLOPs utilisation on a GPU in PEAK_BF16_FLOPS, in bf16 or fp16 only. Model
  FLOPs use the 6 * N * tokens approximation (forward 2N, backward 4N per token), N the
  parameters outside the input embedding: attention's quadratic term is left out (it
  understates long sequences) and frozen weights (probe, LoRA) count as trained (it
  overstates such runs).

Under DDP the counts are summed over the processes and the time is the slowest one's.
"""

from __future__ import annotations

import resource
import sys
import time

import torch
from transformers import TrainerCallback

# Dense bf16 tensor-core peaks (no sparsity) from the vendors' data sheets, matched in
# order against torch.cuda.get_device_name: the first name contained in it wins.
PEAK_BF16_FLOPS = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
)
HALF_PRECISIONS = ("bf16", "fp16")


def peak_flops(device_name: str) -> float | None:
    """The bf16 peak of a GPU named `device_name`, or None for a GPU not in the table."""
    for name, flops in PEAK_BF16_FLOPS:
        if name.lower() in device_name.lower():
            return flops
    return None


def batch_counts(inputs: dict) -> tuple[int, int, int]:
    """(samples, real tokens, positions) of one model input, as tensors' sums.

    Real tokens are where the attention mask is 1. A packed batch (one row of sequences
    laid end to end, no attention mask, position ids restarting at 0 per sequence) has no
    padding; its samples are the restarts. Without a mask or position ids every position
    is a token (dnatune never pads a model that takes no mask: model_loading.unpadded_batches).
    """
    ids = inputs.get("input_ids")
    if ids is None:
        ids = inputs.get("inputs_embeds")
        ids = None if ids is None else ids[..., 0]
    if ids is None:
        return 0, 0, 0
    mask = inputs.get("attention_mask")
    positions = inputs.get("position_ids")
    if mask is not None and mask.dim() == 2:
        real = int(mask.sum())
        samples = ids.shape[0]
    elif positions is not None and ids.shape[0] == 1:
        real = ids.numel()
        samples = int((positions == 0).sum())
    else:
        real = ids.numel()
        samples = ids.shape[0]
    return samples, real, ids.numel()


def model_flops_per_token(model) -> float:
    """6 * N, N the parameters outside the input embedding (see the module's docstring)."""
    try:
        embedding = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):  # remote code that does not name it
        embedding = None
    skipped = {id(p) for p in embedding.parameters()} if embedding is not None else set()
    return 6.0 * sum(p.numel() for p in model.parameters() if id(p) not in skipped)


def peak_rss_mb() -> float:
    """The process' peak resident set size in MB (ru_maxrss: KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class ThroughputCallback(TrainerCallback):
    """Counts training batches and step time; `record` holds the figures after training.

    `precision` is the run's (fp32, bf16, fp16): MFU is given for half precision only.
    `stage` names the workflow rule the run belongs to (pretrain, finetune).
    """

    def __init__(self, model, precision: str, stage: str):
        self.stage, self.precision = stage, precision
        self.flops_per_token = model_flops_per_token(model)
        self.samples = self.real = self.positions = 0
        self.step_seconds = 0.0
        self._started: float | None = None
        self.record: dict = {}
        model.register_forward_pre_hook(self._count, with_kwargs=True)

    @torch.compiler.disable  # under torch.compile the count runs eagerly, before the graph
    def _count(self, module, args, kwargs) -> None:
        if not module.training:
            return
        inputs = dict(kwargs)
        if args and "input_ids" not in inputs:
            inputs["input_ids"] = args[0]
        samples, real, positions = batch_counts(inputs)
        self.samples += samples
        self.real += real
        self.positions += positions

    def on_train_begin(self, args, state, control, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_step_begin(self, args, state, control, **kwargs):
        _synchronise()
        self._started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        _synchronise()
        if self._started is not None:
            self.step_seconds += time.perf_counter() - self._started
            self._started = None

    def on_train_end(self, args, state, control, **kwargs):
        self.record = self.figures()

    def figures(self) -> dict:
        samples, real, positions, seconds = _across_processes(
            self.samples, self.real, self.positions, self.step_seconds
        )
        on_gpu = torch.cuda.is_available()
        device = torch.cuda.get_device_name() if on_gpu else "cpu"
        peak = peak_flops(device) if on_gpu and self.precision in HALF_PRECISIONS else None
        tokens_per_second = real / seconds if seconds > 0 else None
        world = _world_size()
        return {
            "stage": self.stage,
            "tokens_per_second": tokens_per_second,
            "samples_per_second": samples / seconds if seconds > 0 else None,
            "padding_fraction": 1 - real / positions if positions else None,
            "real_tokens": real,
            "positions": positions,
            "samples": samples,
            "step_seconds": seconds,
            "peak_rss_mb": peak_rss_mb(),
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if on_gpu else None,
            "device": device,
            "precision": self.precision,
            "model_flops_per_token": self.flops_per_token,
            "mfu": (
                self.flops_per_token * tokens_per_second / (peak * world)
                if peak and tokens_per_second
                else None
            ),
            "mfu_basis": "6 * N * tokens, N = parameters outside the input embedding",
        }


def _synchronise() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _world_size() -> int:
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _across_processes(samples: int, real: int, positions: int, seconds: float):
    """Counts summed over DDP processes, the time of the slowest; as is in one process."""
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return samples, real, positions, seconds
    device = "cuda" if torch.cuda.is_available() else "cpu"
    counts = torch.tensor([samples, real, positions], dtype=torch.int64, device=device)
    time_taken = torch.tensor([seconds], dtype=torch.float64, device=device)
    dist.all_reduce(counts)
    dist.all_reduce(time_taken, op=dist.ReduceOp.MAX)
    samples, real, positions = (int(v) for v in counts.tolist())
    return samples, real, positions, float(time_taken.item())


def run_precision(training_args) -> str:
    """The precision a Trainer's arguments train in: bf16, fp16 or fp32."""
    return "bf16" if training_args.bf16 else "fp16" if training_args.fp16 else "fp32"
