"""The report's track figure: each validated cell's track under the annotation, one region."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from dnatune.figure_style import colour, percent, to_png, variant_label


def track_region(shown: list[tuple[dict, object, object]], span: int) -> bytes:
    """Tracks of `shown` (entry, features, held-out regions) over up to `span` bp of the first
    held-out region, centred on its first feature; the features drawn below."""
    import pyBigWig

    fig, (track_ax, feature_ax) = plt.subplots(
        2, 1, figsize=(10, 4.2), sharex=True, height_ratios=[4, 1], layout="constrained"
    )
    entry, features, regions = next(((e, f, r) for e, f, r in shown if len(r)), shown[0])
    if len(regions):
        chrom, region_lo, region_hi = regions.iloc[0]
    else:  # nothing held out: the first feature's chromosome, labelled as such below
        chrom, region_lo, region_hi = str(features["seqid"].iloc[0]), 0, None
    with pyBigWig.open(str(entry["track"])) as bw:
        region_hi = region_hi or bw.chroms(chrom)
    on_chrom = features[features["seqid"] == chrom].sort_values("start")
    near = on_chrom[(on_chrom["end"] > region_lo) & (on_chrom["start"] < region_hi)]
    middle = int(near["start"].iloc[0] + near["end"].iloc[0]) // 2 if len(near) else region_lo
    lo = max(region_lo, min(middle - span // 2, region_hi - span))
    hi = min(region_hi, lo + span)
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
        title=f"prediction tracks on {'held-out ' if len(regions) else ''}{chrom}:{lo:,}-{hi:,}",
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
