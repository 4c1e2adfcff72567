"""The write-up as Markdown with math GitHub renders ($...$ inline, ```math blocks), and a short
summary for Jupyter (Derivation._repr_markdown_), whose MathJax reads $...$ and $$...$$."""

from __future__ import annotations

import sympy as sp

from derive.backward.derivation import Derivation
from derive.writeup.latex_printer import latex
from derive.network.naming import LatexNotation
from derive.writeup.document import (Document, Equation, Items, NumericTable, Reference, Section, Table, Text,
                            build_document, describe, fraction)


def _math_block(lines: tuple[str, ...]) -> str:
    if len(lines) == 1 and "&" not in lines[0]:
        body = lines[0]
    else:
        body = "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    return "```math\n" + body + "\n```\n"


def _cell(text: str) -> str:
    return text.replace("|", r"\|")


def _block(block) -> str:
    if isinstance(block, Text):
        return block.text + "\n"
    if isinstance(block, Equation):
        return _math_block(block.lines)
    if isinstance(block, Items):
        return "".join(f"- {item}\n" for item in block.items)
    if isinstance(block, Table):
        lines = ["| " + " | ".join(_cell(c) for c in block.header) + " |",
                 "|" + "|".join("---" for _ in block.header) + "|"]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
        return "\n".join(lines) + "\n"
    raise TypeError(f"unknown block {type(block).__name__}")


def _section(number: int, section: Section) -> str:
    return f"## {number}. {section.title}\n\n" + "\n".join(_block(block) for block in section.blocks)


def document_markdown(document: Document) -> str:
    """The document as GitHub Markdown: same input, same bytes."""
    body = "\n".join(_section(number, section) for number, section in enumerate(document.sections, start=1))
    return f"# {document.title}\n\n{document.summary}\n\n{body}"


def derivation_markdown(derivation: Derivation, numeric: NumericTable | None = None,
                        reference: Reference | None = None, notation: LatexNotation = LatexNotation()) -> str:
    """The full Markdown write-up of a derivation (see derive.writeup.document.build_document)."""
    return document_markdown(build_document(derivation, numeric, reference, notation))


def derivation_summary_markdown(derivation: Derivation, notation: LatexNotation = LatexNotation()) -> str:
    """A few lines for a notebook: the network, every delta and gradient, and which proofs held.

    >>> from derive import derive, XOR_SPEC
    >>> "X^{\\\\top} \\\\delta^{(2)}" in derivation_summary_markdown(derive(XOR_SPEC, proofs="none"))
    True
    """
    lines = [f"{latex(sp.MatrixSymbol(name, 1, 1), notation)} &= {latex(formula, notation)}"
             for name, formula in derivation.deltas()]
    lines += [f"{fraction('J', latex(sp.MatrixSymbol(name, 1, 1), notation))} &= "
              f"{latex(formula, notation)}" for name, formula in derivation.gradients]
    math = "$$\n\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n$$"
    if derivation.proofs:
        proofs = "; ".join(f"{proof.strategy}: {'holds' if proof.holds else 'FAILS'} "
                           f"({len(proof.checks)} checks)" for proof in derivation.proofs)
    else:
        proofs = "no proofs run"
    return f"**{describe(derivation.spec)}**\n\n{math}\n\nProofs: {proofs}.\n"
