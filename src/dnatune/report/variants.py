"""The report's variant-effect section: each score's AUROC on the planted ground truth.

Reads the auroc.tsv of the variant_auroc rule (dnatune.apply.variant_auroc) and gives the
template plain-text rows: scratch, pretrained and continued side by side, zero-shot first;
then, where the table has groups (the planted element types), each score's AUROC per group.
"""

from __future__ import annotations

import pandas as pd

from dnatune.apply.variant_auroc import ALL
from dnatune.report.formatting import fmt, fmt_int

HEADERS = ["score", "model", "variant", "task (cell)", "broken", "background", "AUROC", "CI"]
VARIANT_ORDER = {"scratch": 0, "pretrained": 1, "continued": 2}


def variant_section(paths: list[str]) -> dict | None:
    """What the variant-effect section shows, or None (no section) without an auroc.tsv."""
    table = read_auroc(paths)
    if table.empty:
        return None
    group_headers, group_rows = group_table(table)
    return {
        "headers": HEADERS,
        "rows": variant_rows(table),
        "group_headers": group_headers,
        "group_rows": group_rows,
    }


def read_auroc(paths: list[str]) -> pd.DataFrame:
    """Every auroc.tsv given, zero-shot first, then by task, model and variant."""
    frames = [pd.read_csv(p, sep="\t") for p in paths]
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    table["order"] = table["variant"].map(VARIANT_ORDER).fillna(len(VARIANT_ORDER))
    return table.sort_values(
        ["kind", "task", "model", "order"],
        ascending=[False, True, True, True],
        na_position="first",
        kind="stable",
    )


def variant_rows(table: pd.DataFrame) -> list[list[str]]:
    """Rows of the main table: each score over all variants."""
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
        for row in table[table["group"] == ALL].itertuples()
    ]


def group_table(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): each score's AUROC within each group (the planted element types)."""
    groups = sorted(set(table["group"]) - {ALL})
    if not groups:
        return [], []
    rows = []
    for _, score in table.groupby("score", sort=False):
        first = next(score.itertuples())
        by_group = dict(zip(score["group"], score["auroc"], strict=True))
        rows.append(
            [first.model, first.variant, _cell(first)] + [fmt(by_group.get(g)) for g in groups]
        )
    return ["model", "variant", "task (cell)", *groups], rows


def _cell(row) -> str:
    if row.kind == "zero_shot":
        return "–"
    return f"{row.task} (f{row.label_fraction:g}, s{int(row.seed)})"
