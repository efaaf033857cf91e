"""The report's "Prediction tracks" section: tracks.tsv and the region figure of the
track_validation rule, rendered (the numbers are computed there, not here)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dnatune.report.formatting import Figures, fmt, fmt_int
from dnatune.report.plots import percent, variant_label

HEADERS = [
    "task",
    "model",
    "variant",
    "labels",
    "seed",
    "held out",
    "windows",
    "positive",
    "AUROC [CI]",
    "AUPRC [CI]",
]


def track_section(paths: list[str], figures: Figures) -> dict | None:
    """Table rows and figure of the track validation; None when no track was validated."""
    if not paths:
        return None
    tsv = next(p for p in paths if p.endswith(".tsv"))
    png = next(p for p in paths if p.endswith(".png"))
    table = pd.read_csv(tsv, sep="\t", dtype={"held_out": str})
    rows = [
        [
            r.task,
            r.model,
            variant_label(r.variant),
            percent(float(r.label_fraction)),
            str(r.seed),
            r.held_out,
            fmt_int(r.n_windows),
            fmt_int(r.n_positive),
            f"{fmt(r.auroc)} [{fmt(r.auroc_low)}, {fmt(r.auroc_high)}]",
            f"{fmt(r.auprc)} [{fmt(r.auprc_low)}, {fmt(r.auprc_high)}]",
        ]
        for r in table.itertuples()
    ]
    figure = figures.add(
        "track_region",
        Path(png).read_bytes(),
        "prediction tracks under the annotation, one held-out region",
    )
    features = ", ".join(sorted(table["feature"].unique()))
    return {"headers": HEADERS, "rows": rows, "figure": figure, "features": features}
