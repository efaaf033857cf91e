"""A prediction track scored against the genome's annotation on held-out chromosomes.

Held out: chromosomes with test examples of the cell's task and no train or val example,
so no window scored there was seen in training. Each stitched interval of the track is one
item (per-window evaluation): positive when its middle base lies in a feature of the
task's type (either strand). AUROC and AUPRC come with percentile bootstrap CIs over the
intervals (dnatune.metrics); the figure shows the tracks under the annotation for one region.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from dnatune import metrics
from dnatune.apply.cells import ApplyError, apply_block, selected_cells
from dnatune.atomic import atomic_path

logger = logging.getLogger(__name__)

CELL_COLUMNS = ["task", "model", "variant", "label_fraction", "seed", "genome", "feature"]
FIGURE_SPAN = 20_000  # bp of the figure's region, centred on a feature


def validated_cells(config: dict) -> list[dict]:
    """Applied cells whose track can be checked: binary tasks cut from an annotation, with
    tracks on that annotation's genome."""
    genomes = apply_block(config).get("tracks", {}).get("genomes", [])
    found = []
    for cell in selected_cells(config):
        spec = config["tasks"][cell.task]
        source = spec["source"].get("annotation")
        if spec["type"] == "binary" and source and source["genome"] in genomes:
            found.append({"cell": cell, "genome": source["genome"], "feature": source["feature"]})
    return found


def held_out_chromosomes(task_dir: str | Path) -> list[str]:
    seen = set()
    for split in ("train", "val"):
        seen |= set(
            pd.read_parquet(Path(task_dir) / f"{split}.parquet", columns=["chrom"])["chrom"]
        )
    test = pd.read_parquet(Path(task_dir) / "test.parquet", columns=["chrom"])["chrom"]
    return sorted(set(test) - seen)


def interval_labels(intervals: pd.DataFrame, features: pd.DataFrame) -> np.ndarray:
    """1 where an interval's middle base lies in one of the features (same chromosome)."""
    labels = np.zeros(len(intervals), dtype=np.int64)
    for chrom, rows in intervals.groupby("chrom", sort=False):
        feats = features[features["seqid"] == chrom].sort_values("start")
        if feats.empty:
            continue
        middle = ((rows["start"] + rows["end"] - 1) // 2).to_numpy()
        starts, ends = feats["start"].to_numpy(), np.maximum.accumulate(feats["end"].to_numpy())
        last = np.searchsorted(starts, middle, side="right") - 1  # last feature starting <= it
        inside = (last >= 0) & (middle < ends[np.maximum(last, 0)])
        labels[rows.index.to_numpy()] = inside
    return labels


def read_track(track_bw: str | Path, chroms: list[str]) -> pd.DataFrame:
    """The bigWig's intervals on `chroms`: chrom, start, end, value."""
    import pyBigWig

    rows = []
    with pyBigWig.open(str(track_bw)) as bw:
        for chrom in chroms:
            for start, end, value in bw.intervals(chrom) or ():
                rows.append((chrom, start, end, value))
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "value"])


def score_track(
    track_bw, features: pd.DataFrame, chroms, n_boot=1000, confidence=0.95, seed=0
) -> dict:
    """AUROC and AUPRC (with bootstrap CIs) of the track's intervals on `chroms`."""
    intervals = read_track(track_bw, chroms)
    labels = interval_labels(intervals, features)
    result = {
        "chromosomes": ",".join(chroms),
        "n_windows": len(labels),
        "n_positive": int(labels.sum()),
    }
    if len(np.unique(labels)) < 2:
        logger.warning(
            "%s: fewer than two classes in %d intervals; no AUROC", track_bw, len(labels)
        )
        values = {
            name: {"value": None, "ci_low": None, "ci_high": None} for name in ("auroc", "auprc")
        }
    else:
        values = metrics.metrics_with_ci(
            "binary", labels, intervals["value"].to_numpy(), n_boot, confidence, seed
        )
    for name in ("auroc", "auprc"):
        result.update(
            {
                name: values[name]["value"],
                f"{name}_low": values[name]["ci_low"],
                f"{name}_high": values[name]["ci_high"],
            }
        )
    return result


def validate_tracks(entries: list[dict], out_tsv, out_png, n_boot=1000, confidence=0.95, seed=0):
    """entries: cell fields, genome, feature, track_dir (of a binary task: one bigWig),
    task_dir and annotation (parquet)."""
    rows, shown = [], []
    for entry in entries:
        bigwigs = sorted(Path(entry["track_dir"]).glob("*.bw"))
        if len(bigwigs) != 1:
            raise ApplyError(f"{entry['track_dir']}: expected one bigWig, found {len(bigwigs)}")
        entry = {**entry, "track": bigwigs[0]}
        annotation = pd.read_parquet(entry["annotation"])
        features = annotation[annotation["type"] == entry["feature"]]
        if features.empty:
            raise ApplyError(f"{entry['annotation']}: no feature of type '{entry['feature']}'")
        chroms = held_out_chromosomes(entry["task_dir"])
        if not chroms:
            logger.warning(
                "%s: no held-out chromosome (the task's split is not by chromosome)",
                entry["task_dir"],
            )
        scored = score_track(entry["track"], features, chroms, n_boot, confidence, seed)
        rows.append({**{k: entry[k] for k in CELL_COLUMNS}, **scored})
        shown.append((entry, features, chroms))
    table = pd.DataFrame(rows)
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    from dnatune.apply.figures import track_region

    png = track_region(shown, FIGURE_SPAN)
    with atomic_path(out_png) as tmp:
        tmp.write_bytes(png)
    return table
