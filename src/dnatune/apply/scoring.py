"""A fine-tuned classifier as a function of DNA sequences: scores (n, tracks), in batches.

Sequences are batched by token count, so no batch is padded: windows of one width mostly
tokenise alike, and models that cannot mask padding (see model_loading.unpadded_batches)
score exactly what they were trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from dnatune.genome.kmer import reverse_complement_text
from dnatune.train.finetune import scores_from_logits

Scorer = Callable[[Sequence[str]], np.ndarray]


def track_names(record: dict) -> list[str]:
    """One track per score column: P(positive class) of a binary task, each class or label of
    a multi-class or multi-label one, the prediction of a regression."""
    names = [str(name) for name in record.get("label_names") or []]
    if record["type"] == "binary":
        return [names[1] if len(names) == 2 else "positive"]
    if record["type"] == "regression":
        return ["prediction"]
    return names or [f"class{i}" for i in range(record["num_labels"])]


class ModelScorer:
    """scores = scorer(sequences): a loaded classifier's scores, as finetune writes them."""

    def __init__(self, model, tokenizer, task_type: str, batch_size: int, device=None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.task_type = task_type
        self.batch_size = batch_size

    def __call__(self, sequences: Sequence[str]) -> np.ndarray:
        ids = self.tokenizer(list(sequences), truncation=False)["input_ids"]
        out: np.ndarray | None = None
        for part in same_length_batches(ids, self.batch_size):
            scores = self._forward([ids[i] for i in part])
            if out is None:
                out = np.empty((len(ids), scores.shape[1]), dtype=np.float32)
            out[part] = scores
        return out if out is not None else np.empty((0, 1), dtype=np.float32)

    @torch.inference_mode()
    def _forward(self, rows: list[list[int]]) -> np.ndarray:
        input_ids = torch.tensor(rows, device=self.device)
        logits = self.model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits
        scores = scores_from_logits(self.task_type, logits.float().cpu().numpy())
        return scores.reshape(len(rows), -1)


def same_length_batches(ids: Sequence[Sequence[int]], batch_size: int) -> Iterator[list[int]]:
    """Indices of `ids` in batches of at most batch_size rows of one token count."""
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        by_length.setdefault(len(row), []).append(i)
    for rows in by_length.values():
        for lo in range(0, len(rows), batch_size):
            yield rows[lo : lo + batch_size]


def strand_averaged(scorer: Scorer) -> Scorer:
    """The mean of a sequence's scores and its reverse complement's (one call, one batching)."""

    def score(sequences: Sequence[str]) -> np.ndarray:
        both = scorer([*sequences, *(reverse_complement_text(s) for s in sequences)])
        return (both[: len(sequences)] + both[len(sequences) :]) / 2

    return score
