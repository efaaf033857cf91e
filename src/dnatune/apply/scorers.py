"""The models that score variants: a pre-training head (zero-shot) or a fine-tuned cell.

Both load through the project's one loader (`model_loading.load_model`, and
`models.load_sequence_classifier` for cells, as fine-tuning saved them), so every family
that trains also scores.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from dnatune.apply.likelihood import zero_shot_scores
from dnatune.train.models import ModelSourceError, max_model_tokens

logger = logging.getLogger(__name__)


def load_language_model(model_dir, reinitialise: bool, seed: int, trust_remote_code: bool):
    """(model, DnaTokenizer, objective) of `model_dir`'s pre-training head, in eval mode.

    reinitialise=True gives the `scratch` variant: the architecture with random weights.
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, set_seed

    from dnatune.corpus.tokenizers import DnaTokenizer
    from dnatune.train.loading import load_model
    from dnatune.train.pretrain import resolve_objective

    tokenizer = DnaTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    config = AutoConfig.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    objective = resolve_objective("auto", config)
    auto = AutoModelForMaskedLM if objective == "mlm" else AutoModelForCausalLM
    set_seed(seed)
    model = load_model(auto, model_dir, trust_remote_code, reinitialise, config=config)
    return model.to(device()).eval(), tokenizer, objective


def device() -> str:
    """Where scoring runs: the GPU a job was given, else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def zero_shot(alleles, model_dir, reinitialise: bool, seed: int, batch_size: int, trust=False):
    """(scores, methods) of the `ok` alleles' windows under `model_dir`'s language model."""
    model, tokenizer, objective = load_language_model(model_dir, reinitialise, seed, trust)
    max_tokens = max_model_tokens(model.config, tokenizer.max_length)
    return zero_shot_scores(
        model,
        tokenizer,
        objective,
        alleles["ref_window"],
        alleles["alt_window"],
        max_tokens,
        batch_size,
    )


def load_cell(cell_model_dir, task_type: str, trust_remote_code: bool = False):
    """A fine-tuned cell's classifier (its model/ folder), as fine-tuning saved it."""
    from dnatune.train.finetune import PROBLEM_TYPES
    from dnatune.train.models import load_sequence_classifier

    cell_model_dir = Path(cell_model_dir)
    if (cell_model_dir / "adapter_config.json").exists():
        raise ModelSourceError(
            f"{cell_model_dir} holds a LoRA adapter; supervised variant scores need a cell "
            "fine-tuned with finetune.method full or probe (choose such cells in apply.cells)"
        )
    config = json.loads((cell_model_dir / "config.json").read_text())
    model, tokenizer = load_sequence_classifier(
        cell_model_dir,
        int(config.get("num_labels", len(config.get("id2label") or {}) or 2)),
        PROBLEM_TYPES[task_type],
        reinitialise=False,
        seed=0,
        trust_remote_code=trust_remote_code,
    )
    return model.to(device()).eval(), tokenizer


def task_scores(model, tokenizer, task_type: str, windows, batch_size: int) -> np.ndarray:
    """The cell's score of each window: P(class 1) for binary tasks, the output for regression,
    the probability vector otherwise. Windows batch by token length, never padded."""
    from dnatune.train.finetune import scores_from_logits

    ids = tokenizer.encode_ids(list(windows))
    max_tokens = max_model_tokens(model.config, tokenizer.max_length)
    if ids and max(len(i) for i in ids) > max_tokens:
        raise ValueError(
            f"a variant window takes {max(len(i) for i in ids)} tokens, more than the "
            f"model's {max_tokens}; lower apply.variants.window"
        )
    out: list = [None] * len(ids)
    by_length: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        by_length.setdefault(len(row), []).append(i)
    with torch.no_grad():
        for rows in by_length.values():
            for start in range(0, len(rows), batch_size):
                batch = rows[start : start + batch_size]
                stacked = np.stack([ids[i] for i in batch]).astype(np.int64)
                inputs = torch.as_tensor(stacked, device=model.device)
                scores = scores_from_logits(task_type, model(input_ids=inputs).logits)
                for i, score in zip(batch, scores, strict=True):
                    out[i] = score
    return np.asarray(out, dtype=np.float64)


def supervised(alleles, cell_model_dir, task_type: str, batch_size: int, trust=False):
    """alt - ref change of the cell's score. Tasks with a probability vector (multiclass,
    multilabel) score the change in the probability of the class the reference scores highest."""
    model, tokenizer = load_cell(cell_model_dir, task_type, trust)
    ref = task_scores(model, tokenizer, task_type, alleles["ref_window"], batch_size)
    alt = task_scores(model, tokenizer, task_type, alleles["alt_window"], batch_size)
    if ref.ndim > 1:
        top = ref.argmax(axis=1)
        rows = np.arange(len(ref))
        return alt[rows, top] - ref[rows, top]
    return alt - ref
