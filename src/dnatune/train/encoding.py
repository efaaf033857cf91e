"""Task sequences into token ids for fine-tuning: long ones truncated or slid over in windows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dnatune.tasks.frames import label_array


@dataclass
class Encoded:
    """A tokenised split: `row[i]` is the task row example i came from (windows share rows)."""

    input_ids: list
    attention_mask: list
    labels: np.ndarray
    row: np.ndarray
    n_long: int = 0
    n_truncated: int = 0
    n_windows: int = 0


def encode_split(
    frame: pd.DataFrame, tokenizer, max_length: int, long_sequences: str, task_type: str
) -> Encoded:
    """Tokenise without padding; sequences over max_length are truncated or slid over."""
    sequences = frame["sequence"].tolist()
    full = tokenizer(sequences, truncation=False)["input_ids"]
    lengths = np.array([len(ids) for ids in full])
    long_rows = np.flatnonzero(lengths > max_length)
    labels = label_array(frame["label"], task_type)
    if long_rows.size == 0:
        return Encoded(
            input_ids=[list(ids) for ids in full],
            attention_mask=[[1] * len(ids) for ids in full],
            labels=labels,
            row=np.arange(len(frame)),
        )
    if long_sequences == "truncate":
        clipped = tokenizer([sequences[i] for i in long_rows], max_length=max_length)["input_ids"]
        input_ids = [list(ids) for ids in full]
        for i, ids in zip(long_rows, clipped, strict=True):
            input_ids[i] = list(ids)
        return Encoded(
            input_ids=input_ids,
            attention_mask=[[1] * len(ids) for ids in input_ids],
            labels=labels,
            row=np.arange(len(frame)),
            n_long=len(long_rows),
            n_truncated=len(long_rows),
        )
    return _slide(sequences, full, labels, tokenizer, max_length)


def _slide(sequences, full, labels, tokenizer, max_length) -> Encoded:
    """Overlapping windows (half-window stride) for long sequences; one example per window."""
    specials = tokenizer.hf.num_special_tokens_to_add()
    input_ids, rows, n_long, n_truncated, n_windows = [], [], 0, 0, 0
    for i, (sequence, ids) in enumerate(zip(sequences, full, strict=True)):
        if len(ids) <= max_length:
            input_ids.append(list(ids))
            rows.append(i)
            continue
        n_long += 1
        tokens_per_base = max(len(ids) - specials, 1) / len(sequence)
        window = max(1, int(0.95 * (max_length - specials) / tokens_per_base))
        stride = max(1, window // 2)
        starts = list(range(0, len(sequence) - window + 1, stride))
        if starts[-1] + window < len(sequence):
            starts.append(len(sequence) - window)
        pieces = [sequence[s : s + window] for s in starts]
        encoded = tokenizer(pieces, truncation=False)["input_ids"]
        over = [j for j, piece_ids in enumerate(encoded) if len(piece_ids) > max_length]
        if over:  # a window denser in tokens than the sequence's average (e.g. N runs)
            n_truncated += len(over)
            clipped = tokenizer([pieces[j] for j in over], max_length=max_length)["input_ids"]
            for j, piece_ids in zip(over, clipped, strict=True):
                encoded[j] = piece_ids
        input_ids.extend(list(piece_ids) for piece_ids in encoded)
        rows.extend([i] * len(pieces))
        n_windows += len(pieces)
    rows = np.asarray(rows)
    return Encoded(
        input_ids=input_ids,
        attention_mask=[[1] * len(ids) for ids in input_ids],
        labels=labels[rows],
        row=rows,
        n_long=n_long,
        n_truncated=n_truncated,
        n_windows=n_windows,
    )


def by_length(enc: Encoded) -> Encoded:
    """The examples sorted by token count; `row` keeps each one's task row."""
    order = np.argsort([len(ids) for ids in enc.input_ids], kind="stable")
    return dataclasses.replace(
        enc,
        input_ids=[enc.input_ids[i] for i in order],
        attention_mask=[enc.attention_mask[i] for i in order],
        labels=enc.labels[order],
        row=enc.row[order],
    )


def enc_to_dataset(enc: Encoded):
    from datasets import Dataset

    return Dataset.from_dict(
        {"input_ids": enc.input_ids, "attention_mask": enc.attention_mask, "labels": enc.labels}
    )
