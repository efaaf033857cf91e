"""One-hot CNN baseline in the shape of the Genomic Benchmarks CNN (plain torch).

Genomic Benchmarks' baseline (genomic_benchmarks/models/torch.py) stacks three blocks of
Conv1d(kernel 8, no padding) -> BatchNorm -> ReLU -> MaxPool(2) with 16, 8 and 4 channels,
flattens, and ends in Linear(-> 512) -> Linear(-> output), trained with Adam (lr 1e-3).
Kept here, as defaults of `baselines.cnn`; what differs, and why:

- input: one-hot A/C/G/T (N is all zeros) instead of a learnt character embedding;
- variable lengths: sequences are padded to the longest of the task (as Genomic Benchmarks
  pads to its longest), and after every block the positions whose receptive field reaches
  past the sequence's end are zeroed, BatchNorm's batch statistics counting only the others.
  So a sequence's output does not depend on its padding or on what it is batched with;
- a ReLU between the two dense layers (without one they are a single linear map);
- every task type: binary (one logit, BCE), multiclass (softmax, cross-entropy), multilabel
  (sigmoid per label, BCE), regression (MSE on standardised targets, un-scaled back);
- training: epochs over shuffled batches with early stopping on the val headline metric,
  keeping the best epoch's weights (Genomic Benchmarks trains a fixed number of epochs).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F  # noqa: N812

from dnatune.baselines.fit import BaselineFit, CellData, Selection
from dnatune.genome.kmer import as_bytes, base_digits

logger = logging.getLogger(__name__)

DEFAULTS = {
    "channels": [16, 8, 4],
    "kernel_size": 8,
    "pool": 2,
    "dense": 512,
    "readout": "flatten",
    "epochs": 10,
    "batch_size": 64,
    "lr": 1.0e-3,
    "weight_decay": 0.0,
    "patience": 3,
}
PAD = 4  # digit of N and of padding: one_hot's fifth class, dropped


def encode(sequences, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(digits (n, length) uint8, A/T/C/G 0..3 and PAD elsewhere; lengths (n,))."""
    digits = np.full((len(sequences), length), PAD, dtype=np.uint8)
    lengths = np.zeros(len(sequences), dtype=np.int64)
    for i, sequence in enumerate(sequences):
        values, is_n = base_digits(as_bytes(sequence))
        if is_n is not None:
            values = np.where(is_n, PAD, values)
        digits[i, : len(values)] = values
        lengths[i] = len(values)
    return torch.from_numpy(digits), torch.from_numpy(lengths)


class MaskedBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d whose batch statistics count only the positions inside the sequences."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)  # running statistics: independent of the batch
        weight = mask[:, None, :].to(x.dtype)
        n = weight.sum().clamp(min=2)
        mean = (x * weight).sum((0, 2)) / n
        var = ((x - mean[:, None]) ** 2 * weight).sum((0, 2)) / n
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * n / (n - 1), self.momentum)
            self.num_batches_tracked += 1
        scale = self.weight / torch.sqrt(var + self.eps)
        return (x - mean[:, None]) * scale[:, None] + self.bias[:, None]


class OneHotCNN(nn.Module):
    def __init__(self, length, outputs, channels, kernel_size, pool, dense, readout="flatten"):
        super().__init__()
        self.kernel_size, self.pool, self.readout = kernel_size, pool, readout
        widths = [4, *channels]
        self.convs = nn.ModuleList(
            nn.Conv1d(a, b, kernel_size) for a, b in zip(widths, widths[1:], strict=False)
        )
        self.norms = nn.ModuleList(MaskedBatchNorm(c) for c in channels)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(
                channels[-1] * (self.out_length(length) if readout == "flatten" else 1), dense
            ),
            nn.ReLU(),
            nn.Linear(dense, outputs),
        )

    def out_length(self, length):
        """Positions left after the blocks (an int, or a tensor of per-sequence lengths)."""
        for _ in self.convs:
            length = (length - self.kernel_size + 1) // self.pool
        return max(length, 0) if isinstance(length, int) else length.clamp(min=0)

    def forward(self, digits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = F.one_hot(digits.long(), PAD + 1)[..., :PAD].transpose(1, 2).float()
        valid = lengths
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = conv(x)
            valid = (valid - self.kernel_size + 1).clamp(min=0)
            mask = torch.arange(x.shape[-1], device=x.device) < valid[:, None]
            x = F.relu(norm(x, mask)) * mask[:, None, :]
            x = F.max_pool1d(x, self.pool)
            valid = valid // self.pool
        if self.readout == "max":  # over each sequence's own positions (all >= 0 after ReLU)
            x = x.amax(dim=-1, keepdim=True)
        return self.head(x)


def min_length(settings: dict) -> int:
    """The shortest padded length that leaves one position after the blocks."""
    length = 1
    for _ in settings["channels"]:
        length = length * settings["pool"] + settings["kernel_size"] - 1
    return length


class Objective:
    """Outputs, loss and scores of one task type; regression targets are standardised."""

    def __init__(self, task_type: str, num_labels: int, train_labels: np.ndarray):
        self.task_type = task_type
        self.outputs = num_labels if task_type in ("multiclass", "multilabel") else 1
        self.mean, self.scale = 0.0, 1.0
        if task_type == "regression":
            self.mean = float(np.mean(train_labels))
            self.scale = float(np.std(train_labels)) or 1.0

    def target(self, labels: np.ndarray) -> torch.Tensor:
        if self.task_type == "multiclass":
            return torch.as_tensor(np.array(labels, dtype=np.int64))
        values = torch.as_tensor(np.asarray(labels, dtype=np.float32))
        return (values - self.mean) / self.scale if self.task_type == "regression" else values

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.task_type == "multiclass":
            return F.cross_entropy(logits, target)
        if self.task_type == "regression":
            return F.mse_loss(logits[:, 0], target)
        if self.task_type == "binary":
            return F.binary_cross_entropy_with_logits(logits[:, 0], target)
        return F.binary_cross_entropy_with_logits(logits, target)

    def scores(self, logits: torch.Tensor) -> np.ndarray:
        if self.task_type == "multiclass":
            return torch.softmax(logits, -1).numpy()
        if self.task_type == "multilabel":
            return torch.sigmoid(logits).numpy()
        if self.task_type == "binary":
            return torch.sigmoid(logits[:, 0]).numpy()
        return (logits[:, 0] * self.scale + self.mean).numpy()


def fit_cnn(cell: CellData, settings: dict, seed: int) -> BaselineFit:
    """Train on the train split, early-stopping on val; score val and test with the best epoch."""
    settings = {**DEFAULTS, **settings}
    torch.manual_seed(seed)
    length, data = encode_splits(cell.frames, min_length(settings))
    objective = Objective(cell.task_type, cell.num_labels, cell.labels["train"])
    model = OneHotCNN(
        length,
        objective.outputs,
        settings["channels"],
        settings["kernel_size"],
        settings["pool"],
        settings["dense"],
        settings["readout"],
    )
    run = train(model, objective, data, cell.labels, cell.selection, settings, seed)
    logger.info(
        "one-hot CNN: %d epochs (%d steps), best val %s %.4g at step %d",
        run.epochs,
        run.steps,
        cell.selection.headline,
        run.best_value,
        run.best_step,
    )

    def save(directory: Path) -> None:
        save_file(model.state_dict(), str(directory / "model.safetensors"))
        architecture = {
            "length": length,
            "outputs": objective.outputs,
            "target_mean": objective.mean,
            "target_scale": objective.scale,
        }
        (directory / "architecture.json").write_text(
            json.dumps({**architecture, **settings}, indent=1)
        )

    batch_size = settings["batch_size"]
    return BaselineFit(
        scores={s: objective.scores(predict(model, data[s], batch_size)) for s in ("val", "test")},
        log_history=run.log_history,
        train_steps=run.steps,
        best_step=run.best_step,
        best_metric=run.best_value,
        parameters=sum(p.numel() for p in model.parameters()),
        save=save,
        details={"epochs_run": run.epochs, "padded_length": length},
    )


def encode_splits(frames: dict[str, pd.DataFrame], shortest: int) -> tuple[int, dict]:
    """(padded length, {split: encode(...)}): the task's longest sequence, at least `shortest`."""
    longest = max(int(frame["sequence"].str.len().max()) for frame in frames.values())
    length = max(longest, shortest)
    data = {split: encode(frame["sequence"].tolist(), length) for split, frame in frames.items()}
    short = {s: int((lengths < shortest).sum()) for s, (_, lengths) in data.items()}
    if any(short.values()):
        logger.warning(
            "sequences shorter than the CNN's receptive field (%d bases) are scored from its "
            "biases only: %s",
            shortest,
            short,
        )
    return length, data


@dataclass
class TrainingRun:
    log_history: list = field(default_factory=list)
    steps: int = 0
    epochs: int = 0
    best_value: float | None = None
    best_step: int | None = None


def train(model, objective, data, labels, selection: Selection, settings, seed) -> TrainingRun:
    """Adam over shuffled batches; val scored after every epoch; the best epoch's weights kept."""
    optimiser = torch.optim.Adam(
        model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"]
    )
    generator = torch.Generator().manual_seed(seed)
    target, val_target = objective.target(labels["train"]), objective.target(labels["val"])
    run, best_state, waited = TrainingRun(), None, 0
    for run.epochs in range(1, settings["epochs"] + 1):
        started = time.perf_counter()
        model.train()
        losses = []
        for batch in torch.randperm(len(target), generator=generator).split(settings["batch_size"]):
            optimiser.zero_grad()
            loss = objective.loss(model(*(t[batch] for t in data["train"])), target[batch])
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            run.steps += 1
        logits = predict(model, data["val"], settings["batch_size"])
        values = selection.evaluate(objective.scores(logits))
        values["eval_loss"] = float(objective.loss(logits, val_target))
        where = {"epoch": run.epochs, "step": run.steps}
        run.log_history.append({**where, "loss": float(np.mean(losses))})
        run.log_history.append({**where, **values, "eval_runtime": time.perf_counter() - started})
        value = values[f"eval_{selection.headline}"]
        if best_state is None or selection.better(value, run.best_value):
            run.best_value, run.best_step, waited = value, run.steps, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if settings["patience"] and waited >= settings["patience"]:
                break
    model.load_state_dict(best_state)
    return run


@torch.no_grad()
def predict(model: OneHotCNN, data: tuple[torch.Tensor, torch.Tensor], batch_size: int):
    """Logits of every example, in order, in evaluation mode."""
    model.eval()
    digits, lengths = data
    return torch.cat(
        [
            model(digits[i : i + batch_size], lengths[i : i + batch_size])
            for i in range(0, len(digits), batch_size)
        ]
    )
