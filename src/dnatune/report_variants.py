"""The report's variant-effect section: each score's AUROC on the planted ground truth.

Reads the auroc.tsv of the variant_auroc rule (dnatune.apply.variant_auroc) and gives the
template plain-text rows: scratch, pretrained and continued side by side, zero-shot first.
"""

from __future__ import annotations

import pandas as pd

from dnatune.report_format import fmt, fmt_int

HEADERS = ["score", "model", "variant", "task (cell)", "broken", "background", "AUROC", "CI"]
VARIANT_ORDER = {"scratch": 0, "pretrained": 1, "continued": 2}


def variant_rows(paths: list[str]) -> list[list[str]]:
    """Table rows of every auroc.tsv given (none when the run scores no VCF with truth)."""
    frames = [pd.read_csv(p, sep="\t") for p in paths]
    if not frames:
        return []
    table = pd.concat(frames, ignore_index=True)
    table["order"] = table["variant"].map(VARIANT_ORDER).fillna(len(VARIANT_ORDER))
    table = table.sort_values(
        ["kind", "task", "model", "order"], ascending=[False, True, True, True], na_position="first"
    )
    return [
        [
            "zero-shot LLR" if row.kind == "zero_shot" else "supervised Δ",
            row.model,
            row.variant,
            _cell(row),
            fmt_int(row.n_broken),
            fmt_int(row.n_background),
            fmt(row.auroc),
            f"{fmt(row.ci_low)} – {fmt(row.ci_high)}",
        ]
        for row in table.itertuples()
    ]


def _cell(row) -> str:
    if row.kind == "zero_shot":
        return "–"
    return f"{row.task} (f{row.label_fraction:g}, s{int(row.seed)})"
