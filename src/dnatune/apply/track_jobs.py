"""The workflow's track jobs: one plan chunk scored by a fine-tuned cell, and the merge."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dnatune.apply.cells import ApplyError, load_cell_model
from dnatune.apply.regions import read_plan
from dnatune.apply.scoring import ModelScorer, strand_averaged, track_names
from dnatune.apply.tracks import merge_tracks, score_chunk
from dnatune.train.models import max_model_tokens

COORDINATES = ("chrom", "start", "end")


def task_window(meta_path: str | Path) -> int:
    """The longest sequence of the task the cell was trained on (meta.json)."""
    return int(json.loads(Path(meta_path).read_text())["sequence_length"]["max"])


def plan_chunk(plan_path: str | Path, chunk: int) -> dict:
    plan = read_plan(plan_path)
    row = plan[plan["chunk"] == int(chunk)]
    if row.empty:
        raise ApplyError(f"{plan_path}: no chunk {chunk}; rerun the track_plan job")
    return row.iloc[0].to_dict()


def cell_track_chunk(
    model_dir: str | Path,
    genome: str | Path,
    plan_path: str | Path,
    chunk: int,
    meta_path: str | Path,
    out_path: str | Path,
    *,
    window: int | None,
    stride: int | None,
    both_strands: bool,
    batch_size: int,
    trust_remote_code: bool = False,
    device: str | None = None,
) -> pd.DataFrame:
    """Score one chunk of the plan with a fine-tuned cell's model -> Parquet of kept parts.

    window null: the task's sequence length; stride null: half the window.
    """
    model, tokenizer, record = load_cell_model(model_dir, trust_remote_code)
    window = window or task_window(meta_path)
    stride = stride or max(1, window // 2)
    if stride > window:
        raise ApplyError(f"key 'apply.tracks.stride': {stride} is over the window ({window} bp)")
    limit = max_model_tokens(model.config, tokenizer.max_length)
    tokens = len(tokenizer(["A" * window], truncation=False)["input_ids"][0])
    if tokens > limit:
        raise ApplyError(
            f"key 'apply.tracks.window': {window} bp is {tokens} tokens, over the "
            f"{limit} that {model_dir} takes; use a smaller window"
        )
    scorer = ModelScorer(model, tokenizer, record["type"], batch_size=batch_size, device=device)
    return score_chunk(
        genome,
        plan_chunk(plan_path, chunk),
        window,
        stride,
        strand_averaged(scorer) if both_strands else scorer,
        track_names(record),
        out_path,
        batch_windows=batch_size,
    )


def merge_cell_tracks(chunk_files, fai, out_dir, genome_fasta, title: str) -> list[str]:
    """The chunks' score columns, each merged into its own bigWig and bedGraph."""
    if not chunk_files:
        raise ApplyError(f"{out_dir}: the plan has no chunks; check apply.tracks.regions")
    first = pd.read_parquet(chunk_files[0])
    names = [c for c in first.columns if c not in COORDINATES]
    return merge_tracks(chunk_files, fai, names, out_dir, genome_fasta, title)
