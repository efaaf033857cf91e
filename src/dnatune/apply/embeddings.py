"""Embeddings: one layer's hidden states of a base model, mean-pooled per sequence (or kept per
token for short inputs), written to Parquet beside the sequence ids.

Sequences are batched by token count, so no batch is padded and the mean is over exactly
the sequence's own tokens (special tokens included, as the classifier heads pool them).
The Parquet file is streamed batch by batch: memory stays flat in the number of sequences.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from dnatune.apply.cells import ApplyError
from dnatune.apply.scoring import same_length_batches
from dnatune.atomic import atomic_path
from dnatune.genome.indexed_fasta import IndexedFasta
from dnatune.genome.kmer import reverse_complement_text

logger = logging.getLogger(__name__)

POOLINGS = ("mean", "token")
TASK_SPLITS = ("train", "val", "test")


def load_encoder(model_dir: str | Path, trust_remote_code: bool = False):
    """(model, DnaTokenizer) of a base model through the finetune stage's loader.

    Only its hidden states are read: the (fresh) head's output is never used. `first`
    pooling leaves the backbone's outputs as they are (mean pooling hooks the encoder).
    """
    from dnatune.train.models import load_sequence_classifier

    model, tokenizer = load_sequence_classifier(
        model_dir, 2, "single_label_classification", False, 0, trust_remote_code, "first"
    )
    return model.eval(), tokenizer


class Embedder:
    """vectors = embedder(sequences): hidden states of `layer` (python index: -1 is the last)."""

    def __init__(self, model, tokenizer, layer: int, pooling: str, batch_size: int):
        if pooling not in POOLINGS:
            raise ApplyError(
                f"key 'apply.embeddings.pooling': '{pooling}' is not one of {POOLINGS}"
            )
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model, self.tokenizer = model.to(self.device), tokenizer
        self.layer, self.pooling, self.batch_size = layer, pooling, batch_size
        n_layers = getattr(model.config, "num_hidden_layers", None)
        if n_layers is not None and not -(n_layers + 1) <= layer <= n_layers:
            raise ApplyError(
                f"key 'apply.embeddings.layer': {layer} is not a layer of a {n_layers}-layer "
                f"model (0 is the embeddings, -1 the last layer)"
            )

    def __call__(self, sequences: list[str]) -> list[np.ndarray]:
        ids = self.tokenizer(sequences, truncation=True)["input_ids"]
        out: list[np.ndarray] = [np.empty(0)] * len(ids)
        for part in same_length_batches(ids, self.batch_size):
            for i, vector in zip(part, self._forward([ids[i] for i in part]), strict=True):
                out[i] = vector
        return out

    @torch.inference_mode()
    def _forward(self, rows: list[list[int]]) -> np.ndarray:
        input_ids = torch.tensor(rows, device=self.device)
        output = self.model(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            output_hidden_states=True,
        )
        hidden = output.hidden_states[self.layer].float()
        if self.pooling == "mean":
            hidden = hidden.mean(dim=1)
        return hidden.cpu().numpy()


def write_embeddings(
    batches: Iterable[pd.DataFrame], embedder: Embedder, out_path: str | Path, allow_empty=False
) -> int:
    """Each batch's `sequence` column embedded; its other columns (id first) kept beside.

    No batch at all is an error, or with allow_empty (a chunk without windows) an empty table.
    """
    n = 0
    with atomic_path(out_path) as tmp:
        writer = None
        try:
            for batch in batches:
                vectors = embedder(batch["sequence"].tolist())
                table = pa.Table.from_pandas(batch.drop(columns="sequence"), preserve_index=False)
                column = _vector_column(vectors, embedder.pooling)
                table = table.append_column("embedding", column)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                n += len(batch)
        finally:
            if writer is not None:
                writer.close()
        if writer is None and not allow_empty:
            raise ApplyError(f"{out_path}: no sequences to embed")
        if writer is None:
            pd.DataFrame({"id": pd.Series(dtype=str)}).to_parquet(tmp, index=False)
    logger.info("embedded %d sequences (%s pooling) -> %s", n, embedder.pooling, out_path)
    return n


def _vector_column(vectors: list[np.ndarray], pooling: str) -> pa.Array:
    if pooling == "mean":
        flat = np.stack(vectors).astype(np.float32)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), flat.shape[1])
    return pa.array(
        [v.astype(np.float32).tolist() for v in vectors], pa.list_(pa.list_(pa.float32()))
    )


def task_batches(task_dir: str | Path, batch_rows: int = 1024) -> Iterator[pd.DataFrame]:
    """id, split and sequence of every example of a task, in batches."""
    for split in TASK_SPLITS:
        frame = pd.read_parquet(Path(task_dir) / f"{split}.parquet")
        if "id" not in frame.columns:
            raise ApplyError(f"{task_dir}/{split}.parquet has no id column; rebuild the task")
        frame = frame[["id", "sequence"]].assign(split=split)[["id", "split", "sequence"]]
        for lo in range(0, len(frame), batch_rows):
            yield frame.iloc[lo : lo + batch_rows]


def window_batches(
    windows_path: str | Path, genome, chunk: dict, batch_rows: int = 1024
) -> Iterator[pd.DataFrame]:
    """The windows stage's windows starting in a plan chunk: id chrom:start-end, coordinates,
    sequence (read from the indexed genome `genome`)."""
    windows = pd.read_parquet(windows_path, columns=["chrom", "start", "end", "strand", "split"])
    windows = windows[
        (windows["chrom"] == chunk["chrom"])
        & (windows["start"] >= chunk["start"])
        & (windows["start"] < chunk["end"])
    ]
    for lo in range(0, len(windows), batch_rows):
        part = windows.iloc[lo : lo + batch_rows].reset_index(drop=True)
        sequences = [
            genome.fetch(c, int(s), int(e)).tobytes().decode("ascii").upper()
            for c, s, e in zip(part["chrom"], part["start"], part["end"], strict=True)
        ]
        sequences = [
            reverse_complement_text(s) if strand == "-" else s
            for s, strand in zip(sequences, part["strand"], strict=True)
        ]
        ids = [
            f"{c}:{s}-{e}({t})" for c, s, e, t in part[["chrom", "start", "end", "strand"]].values
        ]
        yield part.assign(sequence=sequences).assign(id=ids)[
            ["id", "chrom", "start", "end", "strand", "split", "sequence"]
        ]


def embed_task(
    model_dir,
    task_dir,
    out_path,
    *,
    layer: int,
    pooling: str,
    batch_size: int,
    trust_remote_code: bool = False,
) -> int:
    """Every example of a task (train, val, test) embedded by a base model."""
    embedder = Embedder(*load_encoder(model_dir, trust_remote_code), layer, pooling, batch_size)
    return write_embeddings(task_batches(task_dir), embedder, out_path)


def embed_genome_chunk(
    model_dir,
    genome,
    windows_path,
    chunk: dict,
    out_path,
    *,
    layer: int,
    pooling: str,
    batch_size: int,
    trust_remote_code: bool = False,
) -> int:
    """The genome windows starting in one plan chunk, embedded (an empty chunk: no rows)."""
    embedder = Embedder(*load_encoder(model_dir, trust_remote_code), layer, pooling, batch_size)
    with IndexedFasta(genome) as fasta:
        batches = window_batches(windows_path, fasta, chunk)
        return write_embeddings(batches, embedder, out_path, allow_empty=True)


def concatenate_parquet(paths, out_path) -> int:
    """Chunk tables (empty ones skipped) into one Parquet file, row group by row group."""
    n, writer = 0, None
    with atomic_path(out_path) as tmp:
        try:
            for path in paths:
                handle = pq.ParquetFile(path)
                if handle.metadata.num_rows == 0:
                    continue
                for group in range(handle.num_row_groups):
                    table = handle.read_row_group(group)
                    writer = writer or pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                    n += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise ApplyError(f"{out_path}: no genome window lies in the regions asked for")
    logger.info("%d embeddings -> %s", n, out_path)
    return n
