"""Tiny local copies of native-family hub repositories: a config class from transformers,
random weights, and the family's real vocabulary layout, saved as `save_pretrained` would.

- DNABERT (zhihan1996/DNA_bert_k): BertForMaskedLM, BertTokenizer over
  [PAD] [UNK] [CLS] [SEP] [MASK] and the 4^k overlapping k-mers.
- ModernBERT-style DNA encoder (ModernGENA layout): ModernBertForMaskedLM, a BPE
  tokenizer learnt on DNA with [UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4, as GENA-LM's.
- GENERator: LlamaForCausalLM, 32 special tokens then the 4,096 non-overlapping 6-mers
  (ids 32..4127); a tail shorter than 6 bases becomes <oov> (id 0).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from model_fixtures import markov_sequences
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    ModernBertConfig,
    ModernBertForMaskedLM,
    PreTrainedTokenizerFast,
)

from dnatune.corpus.tokenizer_kinds import dnabert_vocab

SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}


def save_dnabert(directory: Path, k: int = 3) -> Path:
    vocab = {t: i for i, t in enumerate(dnabert_vocab(k))}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=False)
    config = BertConfig(
        vocab_size=len(tokenizer),
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        **SIZE,
    )
    torch.manual_seed(k)
    BertForMaskedLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def save_modernbert(directory: Path) -> Path:
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.train_from_iterator(
        markov_sequences(200, 200, seed=3),
        trainers.BpeTrainer(vocab_size=120, special_tokens=specials, show_progress=False),
    )
    bpe.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    config = ModernBertConfig(
        vocab_size=len(tokenizer),
        intermediate_size=48,
        max_position_embeddings=128,
        global_attn_every_n_layers=2,
        local_attention=16,
        pad_token_id=3,
        cls_token_id=1,
        sep_token_id=2,
        bos_token_id=1,
        eos_token_id=2,
        **SIZE,
    )
    torch.manual_seed(1)
    ModernBertForMaskedLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


GENERATOR_SPECIALS = ["<oov>", "<s>", "</s>", "<pad>"] + [f"<reserved_{i}>" for i in range(28)]


def save_generator(directory: Path) -> Path:
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=6)]
    vocab = {t: i for i, t in enumerate(GENERATOR_SPECIALS + kmers)}
    words = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<oov>"))
    # 6-mers left to right; a shorter tail is one word of its own, out of the vocabulary
    words.pre_tokenizer = pre_tokenizers.Split(Regex(".{1,6}"), behavior="isolated")
    words.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", 1)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words,
        unk_token="<oov>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=64,
    )
    config = LlamaConfig(
        vocab_size=len(vocab),
        intermediate_size=64,
        num_key_value_heads=2,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        **SIZE,
    )
    torch.manual_seed(2)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
