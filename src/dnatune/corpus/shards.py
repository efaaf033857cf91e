"""Pre-training corpus: the windows of a genome, tokenized into Parquet shards.

The windows table is streamed in batches and the genome fetched a few Mbp at a time,
so memory stays flat with genome and chromosome size. Sequences are upper-cased
(windows.parquet already dropped soft-masked windows when ``softmask: drop``), '-'
windows are reverse-complemented, and char and k-mer kinds are tokenized by numpy
(`DnaTokenizer.encode_rows`).

Layout of CORPUS_DIR: ``{train,val,test}/shard-00000.parquet`` ... with one column
``input_ids`` (list<uint16> when the vocabulary fits, else list<int32>), one row per
window, specials included; every split has at least one (possibly empty) shard; and
``stats.json`` ``{split: {"windows", "tokens", "bases"}}``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dnatune.atomic import atomic_path
from dnatune.corpus.tokenizers import DnaTokenizer, build_tokenizer
from dnatune.corpus.window_split import SPLITS
from dnatune.genome import kmer
from dnatune.genome.indexed_fasta import IndexedFasta
from dnatune.heap import reuse_freed_memory

logger = logging.getLogger(__name__)

SHARD_WINDOWS = 250_000
SHARD_FORMATS = ("arrow", "parquet")
CHUNK_BASES = 2_000_000


class CorpusError(ValueError):
    """Missing or inconsistent corpus input, with the fix in the message."""


def _open_fasta(path):
    try:
        return IndexedFasta(path)
    except (OSError, ValueError) as err:
        raise CorpusError(f"cannot open {path} as an indexed bgzip FASTA: {err}") from err


@dataclass
class WindowGroup:
    """Windows of one size over one fetched genome chunk (uint8 ASCII, case as in the FASTA)."""

    chunk: np.ndarray
    starts: np.ndarray  # relative to the chunk
    size: int
    minus: np.ndarray  # reverse-complement these
    splits: np.ndarray  # index into SPLITS

    def rows(self) -> np.ndarray:
        """The windows as an (n, size) array, '-' windows reverse-complemented."""
        rows = kmer.windows_view(self.chunk, self.starts, self.size)
        if self.minus.any():
            rows[self.minus] = kmer.reverse_complement(rows[self.minus])
        return rows


def iter_window_groups(
    genome_fa: str | os.PathLike,
    windows_path: str | os.PathLike,
    chunk_bases: int = CHUNK_BASES,
    batch_rows: int = 200_000,
) -> Iterator[WindowGroup]:
    """Yield the windows of windows.parquet with the genome chunk under them.

    Windows are read batch by batch and the genome region under each group of
    windows (at most `chunk_bases` wide) is fetched on its own.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    fasta = _open_fasta(genome_fa)
    known = set(fasta.references)
    try:
        table = pq.ParquetFile(str(windows_path))
        for batch in table.iter_batches(batch_size=batch_rows):
            chrom = pc.dictionary_encode(batch.column("chrom"))
            names, chrom_codes = chrom.dictionary.to_pylist(), chrom.indices.to_numpy()
            starts = batch.column("start").to_numpy()
            ends = batch.column("end").to_numpy()
            minus = pc.equal(batch.column("strand"), "-").to_numpy(zero_copy_only=False)
            splits = pc.index_in(batch.column("split"), value_set=pa.array(SPLITS))
            if splits.null_count:
                raise CorpusError(f"{windows_path}: split values must be one of {SPLITS}")
            splits = splits.to_numpy().astype(np.int8)
            # runs of one chromosome, then groups at most chunk_bases wide
            change = np.flatnonzero(chrom_codes[1:] != chrom_codes[:-1]) + 1
            for lo, hi in zip(np.r_[0, change], np.r_[change, len(starts)], strict=True):
                name = names[chrom_codes[lo]]
                if name not in known:
                    raise CorpusError(
                        f"{windows_path}: chromosome {name!r} is not in {genome_fa}; "
                        "the windows were made from another genome, rerun the windows rule"
                    )
                order = np.argsort(starts[lo:hi], kind="stable") + lo
                group = (starts[order] - starts[order[0]]) // chunk_bases
                for part in np.split(order, np.flatnonzero(np.diff(group)) + 1):
                    yield from _fetch_rows(
                        fasta, name, starts[part], ends[part], minus[part], splits[part]
                    )
    finally:
        fasta.close()


def _fetch_rows(fasta, chrom, starts, ends, minus, splits):
    region_start, region_end = int(starts.min()), int(ends.max())
    chunk = fasta.fetch(chrom, region_start, region_end)
    if len(chunk) != region_end - region_start:
        raise CorpusError(
            f"window {chrom}:{region_start}-{region_end} runs past the chromosome end "
            f"({region_start + len(chunk)}); the windows were made from another genome"
        )
    lengths = ends - starts
    sizes = np.unique(lengths)
    for size in sizes:
        pick = lengths == size if len(sizes) > 1 else slice(None)
        yield WindowGroup(chunk, starts[pick] - region_start, int(size), minus[pick], splits[pick])


class _ShardWriter:
    """Shards of one split: ``shard-00000.<format>``, a new file every `shard_windows` rows.

    ``arrow`` shards are Arrow IPC streams (the format of the `datasets` cache, memory-mapped
    by `load_corpus` without a copy); ``parquet`` shards are smaller but slower to write.
    """

    def __init__(self, directory: Path, dtype, shard_windows: int, shard_format: str):
        import pyarrow as pa

        if shard_format not in SHARD_FORMATS:
            raise CorpusError(f"shard format must be one of {SHARD_FORMATS}, got {shard_format!r}")
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.value_type = pa.uint16() if dtype == np.uint16 else pa.int32()
        self.schema = pa.schema([("input_ids", pa.list_(self.value_type))])
        self.shard_windows = shard_windows
        self.format = shard_format
        self.writer = None
        self.rows_in_shard = 0
        self.shards = 0
        self.stats = {"windows": 0, "tokens": 0, "bases": 0}

    def _open(self):
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = str(self.directory / f"shard-{self.shards:05d}.{self.format}")
        self.shards += 1
        self.rows_in_shard = 0
        if self.format == "arrow":
            return pa.ipc.new_stream(path, self.schema)
        return pq.ParquetWriter(path, self.schema, compression="zstd", write_statistics=False)

    def write(self, values: np.ndarray, lengths: np.ndarray, bases: int) -> None:
        import pyarrow as pa

        start = 0
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        while start < len(lengths):
            if self.writer is None or self.rows_in_shard >= self.shard_windows:
                self.close()
                self.writer = self._open()
            take = min(len(lengths) - start, self.shard_windows - self.rows_in_shard)
            lo, hi = offsets[start], offsets[start + take]
            column = pa.ListArray.from_arrays(
                pa.array((offsets[start : start + take + 1] - lo).astype(np.int32)),
                pa.array(values[lo:hi], type=self.value_type),
            )
            self.writer.write_table(pa.Table.from_arrays([column], schema=self.schema))
            self.rows_in_shard += take
            start += take
        self.stats["windows"] += int(len(lengths))
        self.stats["tokens"] += int(offsets[-1])
        self.stats["bases"] += int(bases)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def finish(self) -> None:
        """Close; a split without windows still gets an empty shard so that it loads."""
        self.close()
        if self.shards == 0:
            self.writer = self._open()
            self.writer.write_table(self.schema.empty_table())
            self.close()


def build_corpus(
    genome_fa: str | os.PathLike,
    windows_path: str | os.PathLike,
    tokenizer_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    shard_windows: int = SHARD_WINDOWS,
    shard_format: str = "arrow",
    chunk_bases: int = CHUNK_BASES,
) -> dict:
    """Tokenize every window of `windows_path` into CORPUS_DIR; returns the stats."""
    import pyarrow.parquet as pq
    from tqdm import tqdm

    reuse_freed_memory()
    tokenizer = DnaTokenizer.from_pretrained(tokenizer_dir)
    total = pq.ParquetFile(str(windows_path)).metadata.num_rows
    logger.info(
        "corpus of %s (%d windows) with %s tokenizer %s (%d tokens, %s ids)",
        windows_path,
        total,
        tokenizer.kind,
        tokenizer_dir,
        tokenizer.vocab_size,
        np.dtype(tokenizer.id_dtype).name,
    )
    with atomic_path(out_dir, directory=True) as tmp:
        writers = [
            _ShardWriter(tmp / split, tokenizer.id_dtype, shard_windows, shard_format)
            for split in SPLITS
        ]
        with tqdm(total=total, unit="win", mininterval=10, desc="corpus") as bar:
            for group in iter_window_groups(genome_fa, windows_path, chunk_bases):
                values, lengths = tokenizer.encode_windows(
                    group.chunk, group.starts, group.size, group.minus
                )
                present = np.unique(group.splits)
                for code in present:
                    if len(present) == 1:
                        writers[code].write(values, lengths, group.size * len(lengths))
                        continue
                    pick = group.splits == code
                    if (lengths == lengths[0]).all():
                        part = values.reshape(len(lengths), -1)[pick].ravel()
                    else:
                        part = values[np.repeat(pick, lengths)]
                    writers[code].write(part, lengths[pick], group.size * int(pick.sum()))
                bar.update(len(lengths))
        for writer in writers:
            writer.finish()
        stats = {split: w.stats for split, w in zip(SPLITS, writers, strict=True)}
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    logger.info("corpus stats: %s", json.dumps(stats))
    return stats


def load_corpus(dirs: str | os.PathLike | Sequence[str | os.PathLike], split: str):
    """The `split` shards of one or more CORPUS_DIRs as one `datasets.Dataset` (column input_ids).

    Arrow shards are memory-mapped in place (no copy into the datasets cache).
    """
    import datasets

    if split not in SPLITS:
        raise CorpusError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(dirs, (str, os.PathLike)):
        dirs = [dirs]
    arrow, parquet = [], []
    for directory in dirs:
        found = sorted((Path(directory) / split).glob("shard-*.*"))
        if not found:
            raise CorpusError(
                f"{directory}/{split}/ has no corpus shards; build it with the corpus rule"
            )
        arrow += [str(f) for f in found if f.suffix == ".arrow"]
        parquet += [str(f) for f in found if f.suffix == ".parquet"]
    parts = [datasets.Dataset.from_file(f) for f in arrow]
    if parquet:
        parts.append(datasets.load_dataset("parquet", data_files=parquet, split="train"))
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def train_sequences(
    genome_fas: Sequence[str | os.PathLike],
    windows_paths: Sequence[str | os.PathLike],
    max_windows: int,
) -> Iterator[str]:
    """Upper-case sequences of train-split windows, evenly thinned to about `max_windows`."""
    import pyarrow.parquet as pq

    n_train = 0
    for path in windows_paths:
        column = pq.read_table(str(path), columns=["split"]).column("split")
        n_train += int(np.count_nonzero(column.to_numpy(zero_copy_only=False) == "train"))
    step = max(1, math.ceil(n_train / max_windows))
    train = SPLITS.index("train")
    seen = 0
    for fa, windows in zip(genome_fas, windows_paths, strict=True):
        for group in iter_window_groups(fa, windows):
            rows = group.rows()[group.splits == train]
            index = np.arange(seen, seen + len(rows))
            seen += len(rows)
            for row in rows[index % step == 0]:
                yield row.tobytes().decode("ascii").upper()


def build_workflow_tokenizer(
    spec: dict,
    out_dir: str | os.PathLike,
    genome_fas: Sequence[str] = (),
    windows_paths: Sequence[str] = (),
    model_dir: str | None = None,
) -> DnaTokenizer:
    """The build_tokenizer rule: a built-in kind, bpe trained on the pre-training genomes'
    train windows, or (with `model_dir`) a copy of a fetched model's own tokenizer."""
    with atomic_path(out_dir, directory=True) as tmp:
        if model_dir is not None:
            tokenizer = DnaTokenizer.from_pretrained(
                model_dir,
                trust_remote_code=bool(spec.get("trust_remote_code", False)),
                kmer=spec.get("kmer"),
            )
            tokenizer.info.setdefault("source", spec.get("name"))
            tokenizer.info["trust_remote_code"] = bool(spec.get("trust_remote_code", False))
            if tokenizer.info.get("name") == str(model_dir):
                tokenizer.info["name"] = spec.get("name")
            tokenizer.save_pretrained(tmp)
            logger.info("tokenizer copied from %s: %s", model_dir, json.dumps(tokenizer.info))
            return tokenizer
        sequences = None
        if spec.get("kind") == "bpe":
            if not genome_fas:
                raise CorpusError("a bpe tokenizer needs the windows of the pre-training genomes")
            sequences = train_sequences(genome_fas, windows_paths, int(spec["train_windows"]))
        return build_tokenizer(spec, tmp, train_sequences=sequences)
