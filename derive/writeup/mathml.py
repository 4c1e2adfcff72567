"""LaTeX math as MathML Core, converted once at build time with latex2mathml.

Chromium, Firefox and Safari render MathML natively, so a page built from this needs no script,
no font download and no network. latex2mathml reads the LaTeX that derive.writeup.latex_printer writes
with two exceptions handled here: it does not lay out `&`-aligned lines (they become a grid of
<math> elements, one per side of the `&`), and SymPy's spacing hints \\mathopen{} / \\mathclose{} and the
negative thin space \\! come out as markup that MathML Core does not define, so they are dropped
before conversion (they only nudge spacing).
"""

from __future__ import annotations

import re

from latex2mathml.converter import convert

# SymPy's printer brackets \left( ... \right) with these to fix the spacing around them;
# latex2mathml turns the empty group into an <mo> holding an <mrow>, which is not MathML Core.
_SPACING_HINTS = re.compile(r"\\mathopen\{\}|\\mathclose\{\}|\\!")
_MATH_ELEMENT = re.compile(r"\A<math[^>]*>(.*)</math>\Z", re.DOTALL)
# A control word left in the text of the output means latex2mathml did not know it.
_RAW_COMMAND = re.compile(r">[^<]*\\[A-Za-z]+[^<]*<")


class MathConversionError(ValueError):
    """LaTeX that latex2mathml cannot turn into MathML without leaving raw LaTeX on the page."""


def _inner(latex: str) -> str:
    """The MathML of `latex` without its <math> wrapper, so pieces can be combined."""
    mathml = convert(_SPACING_HINTS.sub("", latex))
    match = _MATH_ELEMENT.match(mathml)
    if match is None:  # latex2mathml always wraps its output in one <math> element
        raise MathConversionError(f"unexpected latex2mathml output for {latex!r}")
    body = match.group(1)
    if _RAW_COMMAND.search(body) or "<mi>&</mi>" in body:
        raise MathConversionError(f"latex2mathml left LaTeX unconverted in {latex!r}")
    return body


def inline_math(latex: str) -> str:
    """`latex` (the inside of $...$) as an inline <math> element.

    >>> inline_math(r"\\eta")
    '<math><mrow><mi>&#x003B7;</mi></mrow></math>'
    """
    return f"<math>{_inner(latex)}</math>"


def display_math(lines: tuple[str, ...]) -> str:
    """An equation of one or more lines as a display <math> element, or a grid of them.

    A single line without `&` is one block <math>. Several lines, or a line aligned at `&`, have
    the layout of LaTeX's align*: what stands before the `&` right-aligned, the rest left-aligned.
    MathML Core has no column alignment for <mtable> (Chromium ignores columnalign), so each
    side is its own <math> in a two-column CSS grid (class "aligned", styled by the page).
    """
    if len(lines) == 1 and "&" not in lines[0]:
        return f'<math display="block">{_inner(lines[0])}</math>'
    cells = []
    for line in lines:
        left, _, right = line.partition("&")
        for side, latex in (("left-side", left), ("right-side", right)):
            math = f'<math displaystyle="true">{_inner(latex)}</math>' if latex.strip() else ""
            cells.append(f'<span class="{side}">{math}</span>')
    return f'<div class="aligned">{"".join(cells)}</div>'
