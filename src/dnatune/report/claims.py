"""The report's "three claims" of one task: table rows and one glance line per pre-trained
variant, from the stats stage's claims table (dnatune.stats.claims). Nothing is computed here."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dnatune.report.formatting import DASH, Styled, fmt_p, is_missing
from dnatune.report.plots import percent, variant_label
from dnatune.stats.claims import CLAIMS
from dnatune.stats.convergence_ratio import ratio_text
from dnatune.stats.label_efficiency import fraction_text
from dnatune.stats.verdicts import display_name

CLAIM_NAMES = {
    "better_scores": "better scores",
    "less_data": "less data",
    "faster_convergence": "faster convergence",
}


@dataclass
class ClaimLine:
    """'tiny, pre-trained: better than scratch: helps at 5%, none at 100%; ...' in parts."""

    model: str
    variant: str
    parts: list[tuple[str, str]]  # (claim in words, its evidence in short)


def claim_rows(claims: pd.DataFrame, largest: float) -> list[list]:
    """The task's claims table: one row per claim, label fraction and reference.

    `largest`: the task's largest label fraction, what 'more than' refers to."""
    return [
        [
            r.model,
            variant_label(r.variant),
            CLAIM_NAMES[r.claim],
            percent(r.label_fraction),
            _reference(r),
            estimate_text(r, r.estimate, largest),
            _ci(r, largest),
            fmt_p(r.q_value),
            Styled(r.evidence, "evidence"),
            r.verdict,
        ]
        for r in claims.itertuples()
    ]


def claim_lines(claims: pd.DataFrame, largest: float) -> list[ClaimLine]:
    """One glance line per model x variant, its claims in CLAIMS order."""
    lines = []
    for (model, variant), rows in claims.groupby(["model", "variant"], sort=True):
        parts = []
        for claim in CLAIMS:
            of_claim = rows[rows["claim"] == claim]
            if claim == "better_scores":
                scratch = of_claim["reference"] == "scratch"
                parts.append(("better than scratch", _per_fraction(of_claim[scratch])))
                parts.append(("better than the best baseline", _per_fraction(of_claim[~scratch])))
            elif claim == "less_data":
                parts += [
                    (CLAIM_NAMES[claim], _less_data(r, largest)) for r in of_claim.itertuples()
                ]
            else:
                parts.append((CLAIM_NAMES[claim], _per_fraction(of_claim)))
        lines.append(ClaimLine(model, variant_label(variant), parts))
    return lines


def estimate_text(r, value, largest: float = 1.0, unit: bool = True) -> str:
    if is_missing(value):
        return DASH
    if r.claim == "better_scores":
        return f"{value:+.3f}" + (f" {display_name(r.metric)}" if unit else "")
    if r.claim == "less_data":
        return fraction_text(value, largest)
    return ratio_text(value)


def _ci(r, largest: float) -> str:
    if is_missing(r.ci_low):
        return DASH
    low, high = (estimate_text(r, v, largest, unit=False) for v in (r.ci_low, r.ci_high))
    return f"{low} to {high}"


def _reference(r) -> str:
    if r.claim == "better_scores" and r.reference != "scratch":
        return f"best baseline ({r.reference})" if r.evidence != "absent" else "best baseline"
    return r.reference


def _per_fraction(rows: pd.DataFrame) -> str:
    """'helps at 5%, +0.21 MCC over cnn; none at 100%, -0.01 MCC over kmer_lr'."""
    if rows.empty:
        return DASH
    words = []
    for r in rows.itertuples():
        extra = f", {estimate_text(r, r.estimate)}" if r.evidence != "absent" else ""
        if r.claim == "better_scores" and r.reference != "scratch" and r.evidence != "absent":
            extra += f" over {r.reference}"
        words.append(f"{r.evidence} at {percent(r.label_fraction)}{extra}")
    return "; ".join(words)


def _less_data(r, largest: float) -> str:
    if r.evidence == "absent":
        return "absent"
    return (
        f"{r.evidence}: scratch needs {estimate_text(r, r.estimate, largest)} of the labels to match "
        f"{r.label_fraction:g}"
    )
