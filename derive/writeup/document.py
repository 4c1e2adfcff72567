"""The document model of a write-up: sections of prose, equations and tables, and nothing else.

A leaf: it imports nothing of ours, so every renderer (derive.writeup.latex, .markdown, .html)
and every builder (derive.writeup.build, derive.normalization.writeup) can import it without a
circle. Prose carries inline math between $...$ and code between backticks; equations are LaTeX
lines, aligned at & when there are several.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Equation:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    columns: str  # LaTeX column spec, e.g. "llp{6cm}"; the Markdown renderer ignores it


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple


@dataclass(frozen=True)
class Document:
    title: str
    summary: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class NumericTable:
    """The numeric check: worst relative error per parameter for each pair of routes.

    errors[p][c] is the worst relative error of parameter rows[p] in comparison columns[c], or
    None when that route did not run; thresholds[c] is the bound below which it prints as
    "< bound" (the figures themselves vary across machines at the 1e-16 level).
    """

    point: str
    columns: tuple[str, ...]
    thresholds: tuple[float, ...]
    rows: tuple[str, ...]
    errors: tuple[tuple[float | None, ...], ...]
    agree: bool


@dataclass(frozen=True)
class Reference:
    """latexify-py's rendering of the hand-written NumPy layer functions, by function name."""

    functions: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def fraction(top: str, bottom: str) -> str:
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def format_error(error: float | None, threshold: float) -> str:
    """$< 10^{-10}$ below the threshold (machine-independent), else two significant figures."""
    if error is None:
        return "not run"
    if error < threshold:
        return f"$< 10^{{{round(math.log10(threshold))}}}$"
    mantissa, exponent = f"{error:.1e}".split("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$"
