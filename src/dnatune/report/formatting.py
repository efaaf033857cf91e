"""What the report's templates receive: numbers as plain text, styled cells, embedded figures.

Text is escaped by the templates (Jinja2 autoescaping), never here. A cell that needs
markup (code, bold, an evidence colour) is a `Styled` value, rendered by the `cell`
macro of templates/macros.html.j2; a figure is a `Figure`, rendered by `figure`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from dnatune.report.plots import to_data_uri

DASH = "–"


class Styled(NamedTuple):
    """A table cell or header shown with a style: code, bold or evidence (its text is the class)."""

    text: str
    style: str


def is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def fmt(value, digits: int = 3) -> str:
    if is_missing(value):
        return DASH
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_int(value) -> str:
    return DASH if is_missing(value) else f"{int(value):,}"


def fmt_p(value) -> str:
    if is_missing(value):
        return DASH
    return "<0.001" if value < 0.001 else f"{value:.2g}"


def fmt_params(n: int | None) -> str:
    if not n:
        return DASH
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n:,}"


def fmt_bases(n: int) -> str:
    for unit, size in (("Gb", 1e9), ("Mb", 1e6), ("kb", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} bp"


def fmt_percent(value, digits: int = 1) -> str:
    """A fraction (0-1) in percent, or a dash when absent."""
    return DASH if is_missing(value) else f"{float(value) * 100:.{digits}f}"


def fmt_rate(value) -> str:
    """A rate or size: whole numbers from 100 up (12,346), three significant figures below (45.6)."""
    if is_missing(value):
        return DASH
    value = float(value)
    digits = max(0, 2 - math.floor(math.log10(abs(value)))) if value else 0
    return f"{round(value, digits):,.{digits}f}"


class Figure(NamedTuple):
    """An embedded PNG (`uri` None: nothing to plot) and its alternative text."""

    alt: str
    uri: str | None


class Figures:
    """The report's figures by name, kept for figures/*.png as they are embedded."""

    def __init__(self):
        self.pngs: dict[str, bytes] = {}

    def add(self, name: str, png: bytes | None, alt: str) -> Figure:
        if png is None:
            return Figure(alt, None)
        self.pngs[name] = png
        return Figure(alt, to_data_uri(png))
