"""A prediction track scored against the genome's annotation on held-out chromosomes.

Held out: the test regions of the cell's task, as its split recorded them in meta.json
(whole chromosomes, or blocks of a split by region), so no window scored there was seen
in training. Each stitched interval of the track is one
item (per-window evaluation): positive when its middle base lies in a feature of the
task's type (either strand). AUROC and AUPRC come with percentile bootstrap CIs over the
intervals (dnatune.metrics); the figure shows the tracks under the annotation for one region.
"""

from __future__ import annotations

import json
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


def held_out_regions(meta_path: str | Path, lengths: dict[str, int]) -> pd.DataFrame:
    """The task's test regions (chrom, start, end), as its split recorded them in meta.json:
    whole test chromosomes, or the test blocks of a split by region; none for other splits."""
    meta = json.loads(Path(meta_path).read_text())
    detail = meta.get("split_detail") or {}
    if meta.get("split_method") == "chromosome":
        rows = [(c, 0, lengths[c]) for c in detail.get("test", []) if c in lengths]
    elif meta.get("split_method") == "region":
        rows = [
            (c, int(lo), min(int(hi), lengths[c]))
            for c, lo, hi in detail["regions"]["test"]
            if c in lengths
        ]
    else:
        rows = []
        logger.warning(
            "%s: split %r holds out no genome region; the track is not validated",
            meta_path,
            meta.get("split_method"),
        )
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def describe_regions(regions: pd.DataFrame) -> str:
    """'chromosomes chr3' or '12 regions, 72.0 kb' (what the report's table says)."""
    whole = regions["start"].eq(0).all() and regions["chrom"].is_unique
    if regions.empty:
        return "none"
    if whole and len(regions) <= 3:
        return "chromosome " + ", ".join(regions["chrom"])
    return f"{len(regions)} regions, {(regions['end'] - regions['start']).sum() / 1000:.1f} kb"


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


def read_track(track_bw: str | Path, regions: pd.DataFrame) -> pd.DataFrame:
    """The bigWig's intervals whose middle base lies in `regions`: chrom, start, end, value."""
    import pyBigWig

    rows = []
    with pyBigWig.open(str(track_bw)) as bw:
        for chrom in regions["chrom"].unique():
            rows += [(chrom, s, e, v) for s, e, v in bw.intervals(chrom) or ()]
    intervals = pd.DataFrame(rows, columns=["chrom", "start", "end", "value"])
    inside = interval_labels(intervals, regions.rename(columns={"chrom": "seqid"}))
    return intervals[inside.astype(bool)].reset_index(drop=True)


def score_track(
    track_bw, features: pd.DataFrame, regions: pd.DataFrame, n_boot=1000, confidence=0.95, seed=0
) -> dict:
    """AUROC and AUPRC (with bootstrap CIs) of the track's intervals in `regions`."""
    intervals = read_track(track_bw, regions)
    labels = interval_labels(intervals, features)
    result = {
        "held_out": describe_regions(regions),
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
    import pyBigWig

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
        with pyBigWig.open(str(entry["track"])) as bw:
            lengths = bw.chroms()
        regions = held_out_regions(Path(entry["task_dir"]) / "meta.json", lengths)
        scored = score_track(entry["track"], features, regions, n_boot, confidence, seed)
        rows.append({**{k: entry[k] for k in CELL_COLUMNS}, **scored})
        shown.append((entry, features, regions))
    table = pd.DataFrame(rows)
    with atomic_path(out_tsv) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    from dnatune.apply.figures import track_region

    png = track_region(shown, FIGURE_SPAN)
    with atomic_path(out_png) as tmp:
        tmp.write_bytes(png)
    return table
