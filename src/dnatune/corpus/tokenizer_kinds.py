"""How the built-in tokenizer kinds are made: their vocabularies and their `tokenizers`
pipelines (normaliser, pre-tokenizer, post-processor), wrapped as transformers tokenizers.

The kinds (see DESIGN.md, "Tokenizers, exactly compatible"):

- ``char``: one token per base; vocab ``[PAD] [UNK] [CLS] [SEP] [MASK] A T C G N``.
- ``kmer`` with ``overlap: true``: DNABERT. Vocab ``[PAD] [UNK] [CLS] [SEP] [MASK]`` then
  ``itertools.product("ATCG", repeat=k)``; the saved tokenizer is a BERT WordPiece tokenizer
  that takes space-joined overlapping k-mers, exactly like DNABERT's. A k-mer with an N is
  ``[UNK]``. `DnaTokenizer` does the k-mer splitting, so callers pass raw sequences.
- ``kmer`` with ``overlap: false``: Nucleotide Transformer. Vocab ``<unk> <pad> <mask> <cls>
  <eos> <bos>``, the k-mers in ``product("ATCG")`` order, then ``A T C G N`` (the layout of
  the InstaDeepAI tokenizers: ``<cls>``=3, ``AAAAAA``=6, ``A``=4102 .. ``N``=4106 for k=6).
  Runs between N bases are cut into k-mers from the left; a tail shorter than k falls back
  to single bases. Only ``<cls>`` is added, as NT does.
- ``bpe``: DNABERT-2 / GENA-LM style BPE trained with the `tokenizers` library.
- ``hf``: any model's own tokenizer via AutoTokenizer; DNABERT-style models (``kmer: k``)
  get their input split into space-joined overlapping k-mers.

`dnatune.corpus.tokenizers.build_tokenizer` builds one from a config spec.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

KINDS = ("char", "kmer", "bpe", "hf")
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
NT_SPECIALS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
KMER_ALPHABET = "ATCG"  # DNABERT and Nucleotide Transformer enumerate k-mers in this order


class TokenizerError(ValueError):
    """A tokenizer spec or directory problem, with the fix in the message."""


def dnabert_vocab(k: int) -> list[str]:
    return BERT_SPECIALS + ["".join(p) for p in itertools.product(KMER_ALPHABET, repeat=k)]


def nt_vocab(k: int) -> list[str]:
    kmers = ["".join(p) for p in itertools.product(KMER_ALPHABET, repeat=k)]
    return NT_SPECIALS + kmers + list(KMER_ALPHABET) + ["N"]


def char_vocab() -> list[str]:
    return BERT_SPECIALS + list(KMER_ALPHABET) + ["N"]


# ---------------------------------------------------------------- building


def _wrap(tokenizer, specials: dict[str, str]):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **specials)


_BERT_SPECIAL_NAMES = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "mask_token": "[MASK]",
}


def _base_normaliser():
    from tokenizers import Regex, normalizers

    steps = [normalizers.Replace(b.lower(), b) for b in "ACGTN"]
    steps.append(normalizers.Replace(Regex(r"[^ACGTN\s]"), "N"))
    return normalizers.Sequence(steps)


def _bert_post_processor():
    from tokenizers import processors

    return processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )


def build_char():
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = {t: i for i, t in enumerate(char_vocab())}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = _base_normaliser()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    tok.post_processor = _bert_post_processor()
    tok.decoder = decoders.Fuse()
    return _wrap(tok, _BERT_SPECIAL_NAMES)


def build_dnabert(k: int):
    from transformers import BertTokenizer

    # vocab= (not vocab_file=, which transformers 5 silently ignores); DNABERT is case-sensitive
    bert = BertTokenizer(vocab={t: i for i, t in enumerate(dnabert_vocab(k))}, do_lower_case=False)
    return _wrap(bert.backend_tokenizer, _BERT_SPECIAL_NAMES)


def build_nt(k: int):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

    vocab = {t: i for i, t in enumerate(nt_vocab(k))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = _base_normaliser()
    # leftmost match: a full k-mer of ACGT where one fits before the next N or the end, else one base
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Split(Regex(f"[ACGT]{{{k}}}|."), behavior="isolated"),
        ]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<cls> $A", pair="<cls> $A $B:1", special_tokens=[("<cls>", vocab["<cls>"])]
    )
    specials = {
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "cls_token": "<cls>",
        "eos_token": "<eos>",
        "bos_token": "<bos>",
    }
    return _wrap(tok, specials)


def build_bpe(vocab_size: int, train_sequences: Iterable[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.normalizer = _base_normaliser()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = _bert_post_processor()
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=BERT_SPECIALS,
        initial_alphabet=list("ACGTN"),
        show_progress=False,
    )
    tok.train_from_iterator(train_sequences, trainer=trainer)
    return _wrap(tok, _BERT_SPECIAL_NAMES)
