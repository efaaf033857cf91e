"""Masked-LM masks that a resumed run draws exactly as an uninterrupted one.

The stock `DataCollatorForLanguageModeling` draws its masks from torch's global
generator, which also drives dropout. The Trainer's RNG snapshot in a
checkpoint therefore cannot give them back: when it is taken, accelerate's
dataloader has already masked the next batch (it reads one batch ahead), and on
resume the Trainer masks the first batches before it restores the snapshot. The
stock `seed=` option does not help either: its generator is not checkpointed
and restarts from the seed.

Here every window draws its mask from a generator of its own, seeded with
(run seed, epoch, window index). A window's mask then depends on nothing
else: not on when the run was interrupted, nor on the batch it lands in, the
padding, the number of processes or dataloader workers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling, TrainerCallback

MASK_SEED = "mask_seed"  # the key a window's seed travels under from dataset to collator


class MaskSeeded(torch.utils.data.Dataset):
    """Token windows (their input_ids), each with the seed of its masks (key `mask_seed`).

    `MaskEpochCallback` sets the epoch at the start of every epoch, so that each
    epoch draws new masks (dynamic masking) and a resumed epoch the same ones again.
    """

    def __init__(self, windows, seed: int):
        self.windows = windows
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[dict]:
        # one read for the whole batch, as torch's dataloader reads a datasets.Dataset
        rows = self.windows[indices]["input_ids"]
        return [
            {"input_ids": ids, MASK_SEED: self.mask_seed(index)}
            for ids, index in zip(rows, indices, strict=True)
        ]

    def mask_seed(self, index: int) -> int:
        entropy = (self.seed, self.epoch, int(index))
        return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


class MaskEpochCallback(TrainerCallback):
    """Hands the epoch the Trainer starts to the MaskSeeded training windows.

    accelerate's dataloader forwards `set_epoch` to its dataset only when no
    sampler wrapper takes it first; it does not after skipping the trained
    batches of a resumed epoch, nor under DDP. The callback runs before the
    epoch's dataloader is iterated (and its workers, if any, are started).
    """

    def __init__(self, windows: MaskSeeded):
        self.windows = windows

    def on_epoch_begin(self, args, state, control, **kwargs):
        # state.epoch: epochs done, plus the fraction of a resumed one
        self.windows.set_epoch(math.floor(state.epoch))


class SeededMaskCollator(DataCollatorForLanguageModeling):
    """The stock collator (dynamic padding, 80/10/10 masking), each window masked from its own seed."""

    def torch_call(self, examples: list[dict]) -> dict:
        if any(MASK_SEED not in example for example in examples):
            raise ValueError(
                f"masked-LM windows need a '{MASK_SEED}': wrap the dataset in masking.MaskSeeded"
            )
        self.batch_windows = [
            (example[MASK_SEED], len(example["input_ids"])) for example in examples
        ]
        stripped = [{k: v for k, v in example.items() if k != MASK_SEED} for example in examples]
        return super().torch_call(stripped)

    def torch_mask_tokens(self, inputs, special_tokens_mask=None, offset_mapping=None):
        if special_tokens_mask is None:
            special_tokens_mask = [
                self.tokenizer.get_special_tokens_mask(row, already_has_special_tokens=True)
                for row in inputs.tolist()
            ]
        special = torch.as_tensor(special_tokens_mask, dtype=torch.bool)
        labels = torch.full_like(inputs, -100)
        width = inputs.shape[1]
        left_padded = self.tokenizer.padding_side == "left"
        for row, (seed, length) in enumerate(self.batch_windows):
            # drawn over the window's own tokens, not the padded width: the same mask in any batch
            self.generator = torch.Generator().manual_seed(seed)
            start = width - length if left_padded else 0
            window = slice(row, row + 1), slice(start, start + length)
            inputs[window], labels[window] = self.mask_window(
                inputs[window].clone(), special[window]
            )
        return inputs, labels

    def mask_window(self, inputs, special):
        """The stock masking of one window (shape 1 x length), drawn from self.generator."""
        return super().torch_mask_tokens(inputs, special_tokens_mask=special)


class KmerSpanCollator(SeededMaskCollator):
    """MLM for overlapping k-mer tokens, masking spans of k consecutive tokens (as DNABERT).

    With overlapping k-mers a single masked token is spelt out by its
    neighbours, so the stock per-token masking teaches nothing; the replacement
    below re-implements the stock 80/10/10 rule on the widened mask for that reason.
    """

    def __init__(self, *args, span: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.span = span

    def mask_window(self, inputs, special):
        labels = inputs.clone()
        # span starts are drawn so that about mlm_probability of all tokens end up masked
        start_prob = 1 - (1 - self.mlm_probability) ** (1 / self.span)
        starts = torch.bernoulli(
            torch.full(labels.shape, start_prob), generator=self.generator
        ).bool()
        starts &= ~special
        masked = starts.clone()
        for shift in range(1, self.span):
            masked[:, shift:] |= starts[:, :-shift]
        masked &= ~special
        labels[~masked] = -100
        replace_prob = torch.full(labels.shape, self.mask_replace_prob)
        replaced = torch.bernoulli(replace_prob, generator=self.generator).bool() & masked
        inputs[replaced] = self.tokenizer.mask_token_id
        remaining = max(1e-9, 1 - self.mask_replace_prob)
        random_prob = torch.full(labels.shape, min(1.0, self.random_replace_prob / remaining))
        randomised = (
            torch.bernoulli(random_prob, generator=self.generator).bool() & masked & ~replaced
        )
        random_ids = torch.randint(
            len(self.tokenizer), labels.shape, dtype=torch.long, generator=self.generator
        )
        inputs[randomised] = random_ids[randomised]
        return inputs, labels


def language_modeling_collator(
    hf_tokenizer, objective: str, mlm_probability: float, kmer=None, maskable: bool = True
):
    """The stock transformers collator (dynamic padding), with k-mer spans for DNABERT-style MLM.

    For MLM the windows must come from `MaskSeeded`; CLM draws nothing at random.
    A model that cannot mask padding (`maskable` False) gets no padding up to a multiple of 8.
    """
    options = {
        "tokenizer": hf_tokenizer,
        "mlm": objective == "mlm",
        "pad_to_multiple_of": 8 if torch.cuda.is_available() and maskable else None,
    }
    if objective != "mlm":
        return DataCollatorForLanguageModeling(**options)
    options["mlm_probability"] = mlm_probability
    if kmer and kmer > 1:
        return KmerSpanCollator(**options, span=kmer)
    return SeededMaskCollator(**options)


class IgnoreWithPadLabel:
    """A collator whose unscored labels are the pad id instead of -100.

    CaduceusForMaskedLM computes its loss with ignore_index=pad_token_id: a -100 label
    there is out of range, not ignored. Masking itself is the wrapped collator's.
    """

    def __init__(self, collator, pad_id: int):
        self.collator, self.pad_id = collator, pad_id

    def __call__(self, examples):
        batch = self.collator(examples)
        batch["labels"][batch["labels"] == -100] = self.pad_id
        return batch
