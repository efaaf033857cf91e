"""The pre-training corpus as training reads it: window counts, token windows cut to the
model's length, and the unigram entropy a val loss is read against."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def load_windows(args, training_args, max_length: int, has_val: bool):
    """(train, val): token windows cut to the model's length; val thinned to eval_windows."""
    from dnatune.corpus.shards import load_corpus

    with training_args.main_process_first(desc="corpus"):
        train = fit_to_length(load_corpus(args.corpus_dirs, "train"), max_length)
        val = fit_to_length(load_corpus(args.corpus_dirs, "val"), max_length) if has_val else None
    if val is not None and len(val) > args.eval_windows:
        val = val.shuffle(seed=args.seed).select(range(args.eval_windows))
    return train, val


def corpus_windows(corpus_dirs: list[str], split: str) -> int:
    """Windows in a split of the corpora, from their stats.json."""
    total = 0
    for directory in corpus_dirs:
        path = Path(directory) / "stats.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; build the corpus with its rule first")
        total += int(json.loads(path.read_text()).get(split, {}).get("windows", 0))
    return total


def fit_to_length(dataset, max_length: int):
    """Cut windows longer than the model accepts into consecutive chunks of max_length tokens."""
    import pyarrow.compute as pc

    if len(dataset) == 0:
        return dataset
    lengths = pc.list_value_length(dataset.data.column("input_ids"))
    if pc.max(lengths).as_py() <= max_length:
        return dataset
    logger.info("chunking windows longer than %d tokens", max_length)

    def chunk(batch):
        return {
            "input_ids": [
                ids[start : start + max_length]
                for ids in batch["input_ids"]
                for start in range(0, len(ids), max_length)
            ]
        }

    return dataset.map(chunk, batched=True, remove_columns=dataset.column_names)


def token_lengths(dataset) -> set[int]:
    """The distinct token counts of a corpus dataset's windows."""
    import pyarrow.compute as pc

    if len(dataset) == 0:
        return set()
    return set(pc.unique(pc.list_value_length(dataset.data.column("input_ids"))).to_pylist())


def unigram_entropy(dataset, hf_tokenizer) -> float:
    """Entropy (nats) of the token frequencies in `dataset`, special tokens left out.

    The loss of a model that knows only how often each token occurs (the base
    composition, for one token per base): the reference a val loss is read against.
    Guessing uniformly among the vocabulary would flatter any model of a GC-skewed genome.
    """
    import pyarrow.compute as pc

    ids = pc.list_flatten(dataset.with_format("arrow")["input_ids"]).to_numpy()
    counts = np.bincount(ids, minlength=len(hf_tokenizer))
    counts[sorted(set(hf_tokenizer.all_special_ids))] = 0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())
