"""The report's track figure: each validated cell's track under the annotation, one region."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from dnatune.plots import colour, percent, to_png, variant_label


def track_region(shown: list[tuple[dict, object, list[str]]], span: int) -> bytes:
    """Tracks of `shown` (entry, features, held-out chromosomes) over `span` bp of the first
    held-out chromosome, centred on its first feature; the features drawn below."""
    import pyBigWig

    fig, (track_ax, feature_ax) = plt.subplots(
        2, 1, figsize=(10, 4.2), sharex=True, height_ratios=[4, 1], layout="constrained"
    )
    entry, features, chroms = next(((e, f, c) for e, f, c in shown if c), shown[0])
    chrom = chroms[0] if chroms else str(features["seqid"].iloc[0])
    on_chrom = features[features["seqid"] == chrom].sort_values("start")
    middle = int(on_chrom["start"].iloc[0] + on_chrom["end"].iloc[0]) // 2 if len(on_chrom) else 0
    with pyBigWig.open(str(entry["track"])) as bw:
        length = bw.chroms(chrom)
    lo = max(0, min(middle - span // 2, length - span))
    hi = min(length, lo + span)
    for entry, _, _ in shown:
        with pyBigWig.open(str(entry["track"])) as bw:
            values = np.asarray(bw.values(chrom, lo, hi), dtype=float)
        track_ax.plot(
            np.arange(lo, hi),
            values,
            color=colour(entry["variant"]),
            linewidth=1,
            label=f"{entry['task']} · {variant_label(entry['variant'])}, "
            f"{percent(float(entry['label_fraction']))} labels, seed {entry['seed']}",
        )
    track_ax.set(
        ylabel="predicted P(feature)",
        ylim=(-0.02, 1.02),
        title=f"prediction tracks on held-out {chrom}:{lo:,}-{hi:,}",
    )
    track_ax.grid(alpha=0.3)
    track_ax.legend(fontsize=8, loc="upper right")
    near = on_chrom[(on_chrom["end"] > lo) & (on_chrom["start"] < hi)]
    for start, end in zip(near["start"], near["end"], strict=True):
        feature_ax.axvspan(max(start, lo), min(end, hi), color="black", alpha=0.7)
    feature_ax.set(
        xlabel=f"position on {chrom} (bp)", yticks=[], xlim=(lo, hi), ylabel=entry["feature"]
    )
    return to_png(fig)
