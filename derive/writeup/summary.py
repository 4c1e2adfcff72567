"""A few lines of a derivation for a notebook: what Jupyter shows for a Derivation."""

from __future__ import annotations

import sympy as sp

from derive.network.naming import LatexNotation
from derive.writeup.description import describe
from derive.writeup.document import fraction
from derive.writeup.latex_printer import latex


def derivation_summary_markdown(derivation, notation: LatexNotation = LatexNotation()) -> str:
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
