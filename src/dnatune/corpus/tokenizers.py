"""DNA tokenizers: built-in kinds saved as Hugging Face tokenizers, and one loader for all.

Kinds (see DESIGN.md, "Tokenizers, exactly compatible"):

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

Every directory written here holds a tokenizer that ``AutoTokenizer.from_pretrained`` loads
(on transformers 4.x too: the class is written as ``PreTrainedTokenizerFast``) and a sidecar
``dnatune_tokenizer.json`` that says the kind.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from dnatune.genome import kmer

logger = logging.getLogger(__name__)

SIDECAR = "dnatune_tokenizer.json"
KINDS = ("char", "kmer", "bpe", "hf")
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
NT_SPECIALS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
KMER_ALPHABET = "ATCG"  # DNABERT and Nucleotide Transformer enumerate k-mers in this order

# upper-case, and anything outside ACGTN becomes N (what every vectorised encoder assumes)
_NORMALISE = np.full(256, ord("N"), dtype=np.uint8)
for _b in b"ACGTN":
    _NORMALISE[_b] = _b
    _NORMALISE[ord(chr(_b).lower())] = _b


class TokenizerError(ValueError):
    """A tokenizer spec or directory problem, with the fix in the message."""


# ---------------------------------------------------------------- vocabularies


def dnabert_vocab(k: int) -> list[str]:
    return BERT_SPECIALS + ["".join(p) for p in itertools.product(KMER_ALPHABET, repeat=k)]


def nt_vocab(k: int) -> list[str]:
    kmers = ["".join(p) for p in itertools.product(KMER_ALPHABET, repeat=k)]
    return NT_SPECIALS + kmers + list(KMER_ALPHABET) + ["N"]


def char_vocab() -> list[str]:
    return BERT_SPECIALS + list(KMER_ALPHABET) + ["N"]


def normalise(seq: str) -> str:
    """Upper case, with every base outside ACGTN replaced by N."""
    return _NORMALISE[kmer.as_bytes(seq)].tobytes().decode("ascii")


def split_kmers(seq: str, k: int) -> str:
    """Space-joined overlapping k-mers: the input a DNABERT tokenizer expects."""
    return " ".join(seq[i : i + k] for i in range(len(seq) - k + 1))


# ---------------------------------------------------------------- vectorised encoders


class _CharEncoder:
    """One token per base. `ids_1d` over a whole genome chunk, then windows are slices."""

    def __init__(self, info: dict):
        self.prefix = np.array([2], dtype=np.int64)
        self.suffix = np.array([3], dtype=np.int64)

    def width(self, size: int) -> int:
        return size

    def ids_1d(self, digits: np.ndarray, is_n: np.ndarray | None) -> np.ndarray:
        return kmer.char_ids(digits, is_n, len(BERT_SPECIALS))

    def content(self, digits, is_n) -> tuple[np.ndarray, np.ndarray]:
        ids = self.ids_1d(digits, is_n)
        return ids.ravel(), np.full(ids.shape[0], ids.shape[1], dtype=np.int64)


class _OverlapKmerEncoder(_CharEncoder):
    """DNABERT: overlapping k-mers; a window of L bases has L - k + 1 of them."""

    def __init__(self, info: dict):
        super().__init__(info)
        self.k = int(info["k"])

    def width(self, size: int) -> int:
        return max(size - self.k + 1, 0)

    def ids_1d(self, digits: np.ndarray, is_n: np.ndarray | None) -> np.ndarray:
        return kmer.overlapping_kmer_ids(digits, is_n, self.k, len(BERT_SPECIALS), 1)


class _NonOverlapKmerEncoder:
    """Nucleotide Transformer: the k-mer frame depends on the window, so rows are encoded."""

    ids_1d = None

    def __init__(self, info: dict):
        self.k = int(info["k"])
        self.prefix = np.array([NT_SPECIALS.index("<cls>")], dtype=np.int64)
        self.suffix = np.zeros(0, dtype=np.int64)

    def content(self, digits, is_n) -> tuple[np.ndarray, np.ndarray]:
        offset = len(NT_SPECIALS)
        return kmer.nonoverlapping_kmer_ids(digits, is_n, self.k, offset, offset + 4**self.k)


def _vectorised_encoder(info: dict):
    if info["kind"] == "char":
        return _CharEncoder(info)
    if info["kind"] == "kmer":
        return _OverlapKmerEncoder(info) if info["overlap"] else _NonOverlapKmerEncoder(info)
    return None


def _with_specials(
    values: np.ndarray, lengths: np.ndarray, prefix: np.ndarray, suffix: np.ndarray, dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Insert prefix and suffix ids around each row of a ragged (values, lengths) array."""
    p, s = len(prefix), len(suffix)
    new_lengths = lengths + p + s
    out = np.empty(int(new_lengths.sum()), dtype=dtype)
    ends = np.cumsum(new_lengths)
    starts = ends - new_lengths
    content = np.ones(len(out), dtype=bool)
    for j in range(p):
        out[starts + j] = prefix[j]
        content[starts + j] = False
    for j in range(s):
        out[ends - s + j] = suffix[j]
        content[ends - s + j] = False
    out[content] = values
    return out, new_lengths


def _split(values: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(lengths)[:-1]) if len(lengths) else []


def _rows_by_length(seqs: Sequence[str | bytes]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, seq in enumerate(seqs):
        groups.setdefault(len(seq), []).append(i)
    return groups


# ---------------------------------------------------------------- the tokenizer


class DnaTokenizer:
    """One interface over every tokenizer kind; `.hf` is the transformers tokenizer.

    `encode_ids` and `encode_rows` are vectorised for char and k-mer kinds and give the
    same ids as `.hf` would (with k-mer splitting for DNABERT-style vocabularies).
    """

    def __init__(self, hf, info: dict, source: str | os.PathLike | None = None):
        """`hf` may be None for a built-in kind saved in `source`: the transformers
        tokenizer is then loaded on first use of `.hf`, so the vectorised corpus path
        never pays for importing transformers."""
        if info.get("kind") not in KINDS:
            raise TokenizerError(f"unknown tokenizer kind {info.get('kind')!r}; use one of {KINDS}")
        if hf is None and (source is None or info["kind"] == "hf"):
            raise TokenizerError("a tokenizer of kind hf needs its transformers tokenizer")
        self._hf = hf
        self._source = source
        self.info = dict(info)
        self._encoder = _vectorised_encoder(self.info)
        self.vocab_size = len(hf) if hf is not None else _saved_vocab_size(Path(source))
        self.id_dtype = np.uint16 if self.vocab_size <= 65536 else np.int32

    @property
    def hf(self):
        """The transformers tokenizer (loaded from the saved directory on first use)."""
        if self._hf is None:
            from transformers import AutoTokenizer

            self._hf = AutoTokenizer.from_pretrained(str(self._source))
            if self.info.get("max_length"):
                self._hf.model_max_length = int(self.info["max_length"])
        return self._hf

    @property
    def kind(self) -> str:
        return self.info["kind"]

    @property
    def kmer(self) -> int | None:
        """k for tokenizers that want space-joined overlapping k-mers (DNABERT style)."""
        if self.info.get("overlap") and self.info.get("k"):
            return int(self.info["k"])
        return None

    @property
    def max_length(self) -> int | None:
        if self.info.get("max_length"):
            return int(self.info["max_length"])
        if self._hf is None:  # a built-in saved without a length has none
            return None
        limit = getattr(self.hf, "model_max_length", None)
        return int(limit) if limit and limit < 10**8 else None

    @max_length.setter
    def max_length(self, value: int | None) -> None:
        self.info["max_length"] = value
        if value:
            self.hf.model_max_length = int(value)

    # -------------------------------------------------------- loading and saving
    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        trust_remote_code: bool = False,
        revision: str | None = None,
        kmer: int | None = None,
    ) -> DnaTokenizer:
        """Load a tokenizer dir written here, a model dir that carries one, or any HF tokenizer.

        Without a sidecar the tokenizer is kind ``hf``; `kmer` (the config's ``kmer: k``)
        turns on DNABERT k-mer splitting, and a DNABERT-style vocabulary is detected when
        `kmer` is not given, so a raw sequence never silently becomes one ``[UNK]``.
        """
        sidecar = Path(path) / SIDECAR
        if sidecar.is_file():
            info = json.loads(sidecar.read_text())
            if info.get("kind") in ("char", "kmer", "bpe"):
                return cls(None, info, source=path)
        else:
            info = {"kind": "hf", "name": str(path)}
        trust_remote_code = trust_remote_code or bool(info.get("trust_remote_code"))
        from transformers import AutoTokenizer

        kwargs = {"trust_remote_code": trust_remote_code}
        if revision:
            kwargs["revision"] = revision
        try:
            hf = AutoTokenizer.from_pretrained(str(path), **kwargs)
        except (OSError, ValueError) as err:
            raise TokenizerError(
                f"cannot load a tokenizer from '{path}': {err}. Give a directory with "
                "tokenizer files or a hub id (the hub needs internet or a filled HF cache)."
            ) from err
        k = kmer or info.get("k") or _detect_dnabert_kmer(hf)
        if k and not kmer and not info.get("k"):
            logger.warning(
                "tokenizer %s has a DNABERT-style %d-mer vocabulary: splitting input into "
                "overlapping %d-mers (set `kmer: %d` on the model to say so)",
                path,
                k,
                k,
                k,
            )
        if k:
            info.update(k=int(k), overlap=True)
        return cls(hf, info)

    def save_pretrained(self, out_dir: str | os.PathLike) -> None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.info.get("max_length"):
            self.hf.model_max_length = int(self.info["max_length"])
        self.hf.save_pretrained(str(out_dir))
        if self.kind != "hf":
            # transformers 5 writes "TokenizersBackend", which transformers 4.x cannot load
            config_path = out_dir / "tokenizer_config.json"
            config = json.loads(config_path.read_text())
            config["tokenizer_class"] = "PreTrainedTokenizerFast"
            config_path.write_text(json.dumps(config, indent=2) + "\n")
        (out_dir / SIDECAR).write_text(json.dumps(self.info, indent=2) + "\n")

    # -------------------------------------------------------- encoding
    def encode_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Encode a (n, L) uint8 array of ASCII sequences; returns (ids, lengths), specials included.

        The ids of all rows are concatenated; lengths[i] is row i's token count.
        """
        rows = np.atleast_2d(rows)
        if self._encoder is not None:
            values, lengths = self._encoder.content(*kmer.base_digits(rows))
            prefix, suffix = self._encoder.prefix, self._encoder.suffix
            return _with_specials(values, lengths, prefix, suffix, self.id_dtype)
        seqs = [row.tobytes().decode("ascii") for row in _NORMALISE[rows]]
        encoded = self._hf_encode(seqs, add_special_tokens=True)
        lengths = np.array([len(ids) for ids in encoded], dtype=np.int64)
        values = np.fromiter(itertools.chain.from_iterable(encoded), dtype=self.id_dtype)
        return values, lengths

    def encode_windows(
        self, chunk: np.ndarray, starts: np.ndarray, size: int, minus: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encode the windows chunk[s:s+size] (reverse-complemented where `minus`) of one
        genome chunk (uint8 ASCII); returns (ids, lengths) like `encode_rows`.

        Char and overlapping k-mer ids are computed once along the chunk and sliced per
        window, so overlapping windows cost no extra arithmetic.
        """
        n = len(starts)
        minus = np.zeros(n, dtype=bool) if minus is None else np.asarray(minus, dtype=bool)
        encoder = self._encoder
        if encoder is None or encoder.ids_1d is None:
            rows = kmer.windows_view(chunk, starts, size)
            if minus.any():
                rows[minus] = kmer.reverse_complement(rows[minus])
            return self.encode_rows(rows)
        prefix, suffix = encoder.prefix, encoder.suffix
        p, width = len(prefix), encoder.width(size)
        out = np.empty((n, p + width + len(suffix)), dtype=self.id_dtype)
        out[:, :p] = prefix
        out[:, p + width :] = suffix
        digits, is_n = kmer.base_digits(chunk)
        plus = ~minus
        if plus.all():
            out[:, p : p + width] = kmer.windows_view(encoder.ids_1d(digits, is_n), starts, width)
        elif plus.any():
            ids = kmer.windows_view(encoder.ids_1d(digits, is_n), starts[plus], width)
            out[plus, p : p + width] = ids
        if minus.any():
            reverse = encoder.ids_1d(*kmer.reverse_complement_digits(digits, is_n))
            rc_starts = len(chunk) - starts[minus] - size
            out[minus, p : p + width] = kmer.windows_view(reverse, rc_starts, width)
        return out.ravel(), np.full(n, out.shape[1], dtype=np.int64)

    def encode_ids(self, seqs: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each sequence, with the tokenizer's special tokens, no truncation."""
        if self._encoder is None:
            seqs = [normalise(s) for s in seqs]
            return [np.asarray(ids, dtype=self.id_dtype) for ids in self._hf_encode(seqs, True)]
        out: list[np.ndarray] = [np.zeros(0, dtype=self.id_dtype)] * len(seqs)
        for length, indices in _rows_by_length(seqs).items():
            data = b"".join(kmer.as_bytes(seqs[i]).tobytes() for i in indices)
            rows = np.frombuffer(data, dtype=np.uint8).reshape(len(indices), length)
            for i, ids in zip(indices, _split(*self.encode_rows(rows)), strict=True):
                out[i] = ids
        return out

    def __call__(
        self, seqs: str | Sequence[str], max_length: int | None = None, truncation: bool = True
    ) -> dict[str, list[list[int]]]:
        """Tokenize raw DNA sequences: {"input_ids", "attention_mask"}, unpadded lists.

        Truncation keeps the special tokens and cuts the sequence's own tokens.
        """
        if isinstance(seqs, str):
            seqs = [seqs]
        limit = (max_length or self.max_length) if truncation else None
        if self._encoder is None:
            seqs = [normalise(s) for s in seqs]
            if self.kmer:
                seqs = [split_kmers(s, self.kmer) for s in seqs]
            kwargs = {"truncation": True, "max_length": limit} if limit else {}
            ids = self.hf(list(seqs), add_special_tokens=True, **kwargs)["input_ids"]
            self._check_not_unknown(seqs, ids)
        else:
            ids = [row.tolist() for row in self.encode_ids(seqs)]
            if limit:
                prefix, suffix = self._encoder.prefix.tolist(), self._encoder.suffix.tolist()
                keep = limit - len(prefix) - len(suffix)
                if keep < 0:
                    raise TokenizerError(f"max_length {limit} leaves no room for special tokens")
                ids = [r if len(r) <= limit else r[: len(prefix) + keep] + suffix for r in ids]
        return {"input_ids": ids, "attention_mask": [[1] * len(r) for r in ids]}

    def _hf_encode(self, seqs: list[str], add_special_tokens: bool) -> list[list[int]]:
        if self.kmer:
            seqs = [split_kmers(s, self.kmer) for s in seqs]
        if self.kind == "bpe" and self._hf is None:  # the tokenizers library alone is enough
            backend = self._backend()
        else:
            backend = getattr(self.hf, "_tokenizer", None)
        if backend is not None and hasattr(backend, "encode_batch_fast"):
            encoded = backend.encode_batch_fast(seqs, add_special_tokens=add_special_tokens)
            ids = [e.ids for e in encoded]
        else:
            ids = self.hf(seqs, add_special_tokens=add_special_tokens)["input_ids"]
        if self.kind == "hf":
            self._check_not_unknown(seqs, ids)
        return ids

    def _backend(self):
        if not hasattr(self, "_backend_tokenizer"):
            from tokenizers import Tokenizer

            self._backend_tokenizer = Tokenizer.from_file(
                str(Path(self._source) / "tokenizer.json")
            )
        return self._backend_tokenizer

    def _check_not_unknown(self, seqs: Sequence[str], ids: Sequence[Sequence[int]]) -> None:
        """Refuse a sequence that became a single unknown token (an unsplit k-mer input)."""
        unk = self.hf.unk_token_id
        if unk is None:
            return
        specials = set(self.hf.all_special_ids) - {unk}
        for seq, row in zip(seqs, ids, strict=True):
            content = [i for i in row if i not in specials]
            if len(seq) > 8 and content == [unk]:
                raise TokenizerError(
                    f"tokenizer {self.info.get('name', self.kind)} turned a {len(seq)}-base "
                    "sequence into one unknown token: it probably wants space-joined k-mers; "
                    "set `kmer: k` on the model in the config"
                )


def _saved_vocab_size(path: Path) -> int:
    """Vocabulary size of a saved tokenizer.json, without importing transformers."""
    try:
        data = json.loads((path / "tokenizer.json").read_text())
    except (OSError, ValueError) as err:
        raise TokenizerError(
            f"{path}: no readable tokenizer.json ({err}); rebuild it with the build_tokenizer rule"
        ) from err
    ids = set(data["model"]["vocab"].values())
    ids.update(t["id"] for t in data.get("added_tokens", []))
    return max(ids) + 1


def _detect_dnabert_kmer(hf) -> int | None:
    """k if the vocabulary holds all 4^k k-mers and no single bases (DNABERT), else None.

    Only a tokenizer that turns raw DNA into [UNK] needs the k-mers spelt out for it:
    GENERator's vocabulary is also 6-mers without single bases, but its tokenizer
    reads raw sequence in non-overlapping 6-mers itself.
    """
    vocab = hf.get_vocab()
    if any(base in vocab for base in "ACGT"):
        return None
    for k in range(3, 9):
        if all("".join(p) in vocab for p in itertools.product("ACGT", repeat=k)):
            raw = hf("A" * k + "C" * k, add_special_tokens=False)["input_ids"]
            return k if hf.unk_token_id in raw else None
    return None


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


def _build_char():
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


def _build_dnabert(k: int):
    from transformers import BertTokenizer

    # vocab= (not vocab_file=, which transformers 5 silently ignores); DNABERT is case-sensitive
    bert = BertTokenizer(vocab={t: i for i, t in enumerate(dnabert_vocab(k))}, do_lower_case=False)
    return _wrap(bert.backend_tokenizer, _BERT_SPECIAL_NAMES)


def _build_nt(k: int):
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


def _build_bpe(vocab_size: int, train_sequences: Iterable[str]):
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


def build_tokenizer(
    spec: dict,
    out_dir: str | os.PathLike | None = None,
    train_sequences: Iterable[str] | None = None,
) -> DnaTokenizer:
    """Build a tokenizer from a config spec ({"kind", "k", "overlap", "vocab_size", "name"}).

    `train_sequences` (raw DNA strings) is needed for ``bpe``. Saved to `out_dir` when given.
    """
    kind = spec.get("kind")
    info: dict = {"kind": kind}
    if kind == "char":
        hf = _build_char()
    elif kind == "kmer":
        k = int(spec.get("k", 6))
        overlap = bool(spec.get("overlap", True))
        if not 1 <= k <= 8:
            raise TokenizerError(f"tokenizer key 'k': expected 1..8, got {k}")
        hf = _build_dnabert(k) if overlap else _build_nt(k)
        info.update(k=k, overlap=overlap)
    elif kind == "bpe":
        if train_sequences is None:
            raise TokenizerError("tokenizer kind 'bpe' needs train_sequences to train on")
        vocab_size = int(spec.get("vocab_size", 4096))
        hf = _build_bpe(vocab_size, (normalise(s) for s in train_sequences))
        info.update(vocab_size=vocab_size)
        if len(hf) < vocab_size:
            logger.warning("bpe reached %d tokens of the %d asked for", len(hf), vocab_size)
    elif kind == "hf":
        if not spec.get("name"):
            raise TokenizerError("tokenizer kind 'hf' needs key 'name': a hub id or directory")
        tok = DnaTokenizer.from_pretrained(
            spec["name"],
            trust_remote_code=bool(spec.get("trust_remote_code", False)),
            revision=spec.get("revision"),
            kmer=spec.get("kmer"),
        )
        hf, info = tok.hf, tok.info
    else:
        raise TokenizerError(f"tokenizer key 'kind': expected one of {KINDS}, got {kind!r}")
    if spec.get("max_length"):
        info["max_length"] = int(spec["max_length"])
    tokenizer = DnaTokenizer(hf, info)
    if out_dir is not None:
        tokenizer.save_pretrained(out_dir)
    logger.info("tokenizer %s: %d tokens", json.dumps(info, sort_keys=True), tokenizer.vocab_size)
    return tokenizer
