"""The house style of every figure dnatune draws (matplotlib, Agg backend): one fixed
Okabe-Ito colour and label per variant, shared by the report's figures and the apply
stage's track figure, and figures to PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

VARIANT_COLOURS = {
    "scratch": "#E69F00",
    "pretrained": "#0072B2",
    "continued": "#009E73",
    "cnn": "#D55E00",
    "kmer_lr": "#56B4E9",
}
VARIANT_LABELS = {
    "scratch": "scratch (random weights)",
    "pretrained": "pretrained",
    "continued": "continued pretraining",
    "cnn": "one-hot CNN (baseline)",
    "kmer_lr": "k-mer logistic regression (baseline)",
}
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": 100})


def colour(variant: str) -> str:
    return VARIANT_COLOURS.get(variant, "#CC79A7")


def variant_label(variant: str) -> str:
    return VARIANT_LABELS.get(variant, variant)


def percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)  # constrained layout: one draw, no tight bbox pass
    plt.close(fig)
    return buffer.getvalue()
