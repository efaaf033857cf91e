"""The Trainer of a fine-tuning cell and its pieces: samplers, callbacks, metrics and loss."""

from __future__ import annotations

import logging

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import Sampler, SequentialSampler
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler

from dnatune import metrics
from dnatune.train.loading import AliasSafeTrainer

logger = logging.getLogger(__name__)


class CellTrainer(AliasSafeTrainer):
    def _get_train_sampler(self, train_dataset=None):
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return EpochSeededSampler(sampler, seed)
        return sampler

    def _get_eval_sampler(self, eval_dataset):
        # transformers 5 also length-groups eval batches; keep dataset order so that
        # predictions line up with task rows
        return SequentialSampler(eval_dataset)


class EpochSeededSampler(Sampler):
    """A LengthGroupedSampler whose order is drawn from seed + epoch.

    transformers' draws from the global RNG when an epoch starts, which a job
    resumed mid-epoch cannot replay; seeded per epoch, the resumed epoch has the
    order it had and skips exactly the batches already trained (as the Trainer's
    stock random sampler does through accelerate).
    """

    def __init__(self, sampler: LengthGroupedSampler, seed: int):
        self.sampler, self.seed, self.epoch = sampler, seed, 0
        sampler.generator = torch.Generator()

    def set_epoch(self, epoch: int) -> None:  # the Trainer calls it before each epoch
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        self.sampler.generator.manual_seed(self.seed + self.epoch)
        return iter(self.sampler)


class EvaluateAtEnd(TrainerCallback):
    """Evaluate (and so checkpoint for selection) the last step too, not only every eval_steps."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_evaluate = True
            control.should_save = True
        return control


class TrainerMetrics:
    """compute_metrics for the Trainer: logits -> scores -> dnatune.metrics."""

    def __init__(self, task_type: str):
        self.task_type = task_type

    def __call__(self, eval_prediction) -> dict[str, float]:
        scores = scores_from_logits(self.task_type, eval_prediction.predictions)
        values = metrics.compute_metrics(self.task_type, eval_prediction.label_ids, scores)
        return {k: float(v) for k, v in values.items()}


def _weighted_loss(task_type: str, labels: np.ndarray):
    """compute_loss_func with 'balanced' class weights (sklearn) for classification tasks."""
    if task_type == "regression":
        logger.warning("class_weights ignored: a regression task has no classes")
        return None
    if task_type == "multilabel":
        positives = labels.sum(0)
        weight = torch.tensor(
            (len(labels) - positives) / np.maximum(positives, 1), dtype=torch.float
        )
    else:
        classes = np.arange(int(labels.max()) + 1)
        present = compute_class_weight("balanced", classes=np.unique(labels), y=labels)
        full = np.ones(len(classes))
        full[np.unique(labels)] = present
        weight = torch.tensor(full, dtype=torch.float)
    logger.info("class weights: %s", np.round(weight.numpy(), 3).tolist())

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"]
        w = weight.to(logits.device, logits.dtype)
        if task_type == "multilabel":
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels.to(logits.dtype), pos_weight=w
            )
        if len(w) < logits.shape[-1]:
            w = torch.cat([w, w.new_ones(logits.shape[-1] - len(w))])
        return torch.nn.functional.cross_entropy(logits, labels, weight=w)

    return loss


def scores_from_logits(task_type: str, logits) -> np.ndarray:
    """Binary: P(class 1); multiclass: softmax; multilabel: sigmoid; regression: the output."""
    if isinstance(logits, tuple):
        logits = logits[0]
    logits = torch.as_tensor(np.asarray(logits, dtype=np.float32))
    if task_type == "binary":
        return torch.softmax(logits, -1)[:, 1].numpy()
    if task_type == "multiclass":
        return torch.softmax(logits, -1).numpy()
    if task_type == "multilabel":
        return torch.sigmoid(logits).numpy()
    return logits.reshape(len(logits), -1)[:, 0].numpy()
