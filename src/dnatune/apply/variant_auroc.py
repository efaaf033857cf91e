"""How well each variant score separates variants that break a planted element from background.

Scores are oriented so that a damaging variant ranks high: the AUROC is that of minus the score
(a zero-shot log-likelihood ratio falls when ALT breaks what the model learnt; a fine-tuned
promoter or coding model's score falls when its element is broken). 0.5 is chance. The
confidence interval is the percentile bootstrap over variants (dnatune.metrics).
"""

from __future__ import annotations

import logging

import pandas as pd

from dnatune import metrics
from dnatune.atomic import atomic_path

logger = logging.getLogger(__name__)

COLUMNS = [
    "score", "group", "kind", "model", "variant", "task", "label_fraction", "seed",
    "n_broken", "n_background", "auroc", "ci_low", "ci_high", "confidence",
]  # fmt: skip
SCORER_KEYS = ("kind", "model", "variant", "task", "label_fraction", "seed")
ALL = "all"


def variant_auroc(
    scores_tsv, scorers: list[dict], out, bootstrap: int, confidence: float, seed: int = 0
) -> pd.DataFrame:
    """auroc.tsv: per scorer (its name, kind, model, variant ...), over all scored variants
    and, where scores.tsv has a `group` column, within each group."""
    table = pd.read_csv(scores_tsv, sep="\t")
    if table["truth"].isna().all():
        raise ValueError(
            f"{scores_tsv} has no truth labels: set apply.variants.truth to the INFO flag "
            "that marks the variants expected to matter (the planted VCF's BROKEN)"
        )
    groups = [(ALL, table)]
    if "group" in table and table["group"].notna().any():
        groups += list(table.groupby("group", sort=True))
    rows = []
    for scorer in scorers:
        for group, subset in groups:
            auroc = _auroc(subset, scorer["name"], bootstrap, confidence, seed)
            rows.append({**{k: scorer.get(k) for k in SCORER_KEYS}, **auroc, "group": group})
        logger.info(
            "%s: AUROC %s [%s, %s]",
            scorer["name"],
            *(rows[-len(groups)][k] for k in COLUMNS[10:13]),
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.4g")
    return frame


def _auroc(table: pd.DataFrame, name: str, bootstrap: int, confidence: float, seed: int) -> dict:
    scored = table[table[name].notna() & table["truth"].notna()]
    labels = scored["truth"].astype(bool).astype(int).to_numpy()
    values = metrics.metrics_with_ci(
        "binary",
        labels,
        -scored[name].to_numpy(),
        n_resamples=bootstrap,
        confidence=confidence,
        seed=seed,
    )["auroc"]
    return {
        "score": name,
        "n_broken": int(labels.sum()),
        "n_background": int(len(labels) - labels.sum()),
        "auroc": values["value"],
        "ci_low": values["ci_low"],
        "ci_high": values["ci_high"],
        "confidence": confidence,
    }
