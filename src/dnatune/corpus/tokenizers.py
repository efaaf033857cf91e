"""DNA tokenizers: built-in kinds saved as Hugging Face tokenizers, and one loader for all.

The kinds and their vocabularies are described in `dnatune.corpus.tokenizer_kinds`; the
vectorised char and k-mer encoding is in `dnatune.corpus.tokenizer_encoders`.

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

from dnatune.corpus.tokenizer_encoders import (
    rows_by_length,
    split_ragged,
    truncate,
    vectorised_encoder,
    with_specials,
)
from dnatune.corpus.tokenizer_kinds import (
    KINDS,
    TokenizerError,
    build_bpe,
    build_char,
    build_dnabert,
    build_nt,
)
from dnatune.genome import kmer

logger = logging.getLogger(__name__)

SIDECAR = "dnatune_tokenizer.json"

# upper-case, and anything outside ACGTN becomes N (what every vectorised encoder assumes)
_NORMALISE = np.full(256, ord("N"), dtype=np.uint8)
for _b in b"ACGTN":
    _NORMALISE[_b] = _b
    _NORMALISE[ord(chr(_b).lower())] = _b


# ---------------------------------------------------------------- sequence text


def normalise(seq: str) -> str:
    """Upper case, with every base outside ACGTN replaced by N."""
    return _NORMALISE[kmer.as_bytes(seq)].tobytes().decode("ascii")


def split_kmers(seq: str, k: int) -> str:
    """Space-joined overlapping k-mers: the input a DNABERT tokenizer expects."""
    return " ".join(seq[i : i + k] for i in range(len(seq) - k + 1))


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
        self._encoder = vectorised_encoder(self.info)
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
        hf = _load_hf(path, trust_remote_code, revision)
        k = kmer or info.get("k") or _dnabert_kmer(hf, path)
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
            return with_specials(values, lengths, prefix, suffix, self.id_dtype)
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
        out = encoder.windows(chunk, starts, size, minus, self.id_dtype)
        return out.ravel(), np.full(n, out.shape[1], dtype=np.int64)

    def encode_ids(self, seqs: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each sequence, with the tokenizer's special tokens, no truncation."""
        if self._encoder is None:
            seqs = [normalise(s) for s in seqs]
            return [np.asarray(ids, dtype=self.id_dtype) for ids in self._hf_encode(seqs, True)]
        out: list[np.ndarray] = [np.zeros(0, dtype=self.id_dtype)] * len(seqs)
        for length, indices in rows_by_length(seqs).items():
            data = b"".join(kmer.as_bytes(seqs[i]).tobytes() for i in indices)
            rows = np.frombuffer(data, dtype=np.uint8).reshape(len(indices), length)
            for i, ids in zip(indices, split_ragged(*self.encode_rows(rows)), strict=True):
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
            _check_not_unknown(self.hf, self.info.get("name", self.kind), seqs, ids)
        else:
            ids = [row.tolist() for row in self.encode_ids(seqs)]
            if limit:
                ids = truncate(ids, limit, self._encoder.prefix, self._encoder.suffix)
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
            _check_not_unknown(self.hf, self.info.get("name", self.kind), seqs, ids)
        return ids

    def _backend(self):
        if not hasattr(self, "_backend_tokenizer"):
            from tokenizers import Tokenizer

            self._backend_tokenizer = Tokenizer.from_file(
                str(Path(self._source) / "tokenizer.json")
            )
        return self._backend_tokenizer


def _load_hf(path: str | os.PathLike, trust_remote_code: bool, revision: str | None):
    from transformers import AutoTokenizer

    kwargs = {"trust_remote_code": trust_remote_code}
    if revision:
        kwargs["revision"] = revision
    try:
        return AutoTokenizer.from_pretrained(str(path), **kwargs)
    except (OSError, ValueError) as err:
        raise TokenizerError(
            f"cannot load a tokenizer from '{path}': {err}. Give a directory with "
            "tokenizer files or a hub id (the hub needs internet or a filled HF cache)."
        ) from err


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


def _check_not_unknown(hf, name: str, seqs: Sequence[str], ids: Sequence[Sequence[int]]) -> None:
    """Refuse a sequence that became a single unknown token (an unsplit k-mer input)."""
    unk = hf.unk_token_id
    if unk is None:
        return
    specials = set(hf.all_special_ids) - {unk}
    for seq, row in zip(seqs, ids, strict=True):
        content = [i for i in row if i not in specials]
        if len(seq) > 8 and content == [unk]:
            raise TokenizerError(
                f"tokenizer {name} turned a {len(seq)}-base "
                "sequence into one unknown token: it probably wants space-joined k-mers; "
                "set `kmer: k` on the model in the config"
            )


def _dnabert_kmer(hf, path) -> int | None:
    """k of a DNABERT-style vocabulary the config did not declare, said in the log."""
    k = _detect_dnabert_kmer(hf)
    if k:
        logger.warning(
            "tokenizer %s has a DNABERT-style %d-mer vocabulary: splitting input into "
            "overlapping %d-mers (set `kmer: %d` on the model to say so)",
            path,
            k,
            k,
            k,
        )
    return k


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
        hf = build_char()
    elif kind == "kmer":
        k = int(spec.get("k", 6))
        overlap = bool(spec.get("overlap", True))
        if not 1 <= k <= 8:
            raise TokenizerError(f"tokenizer key 'k': expected 1..8, got {k}")
        hf = build_dnabert(k) if overlap else build_nt(k)
        info.update(k=k, overlap=overlap)
    elif kind == "bpe":
        if train_sequences is None:
            raise TokenizerError("tokenizer kind 'bpe' needs train_sequences to train on")
        vocab_size = int(spec.get("vocab_size", 4096))
        hf = build_bpe(vocab_size, (normalise(s) for s in train_sequences))
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
