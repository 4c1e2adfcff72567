"""Names of every quantity: plain ASCII for SymPy, and the one place that maps them to LaTeX.

A SymPy symbol is named `W1_0_2` (matrix W(1), row 0, column 2); a LaTeX-shaped name breaks
lambdify (see KNOWN.md), so how a name prints is decided here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp


@lru_cache(maxsize=None)
def entry_symbol(matrix: str, row: int, column: int) -> sp.Symbol:
    """The scalar symbol for one entry, e.g. entry_symbol("W1", 0, 2) is W1_0_2."""
    return sp.Symbol(f"{matrix}_{row}_{column}", real=True)


def weight_name(layer: int) -> str:
    return f"W{layer}"


def bias_name(layer: int) -> str:
    return f"b{layer}"


def pre_activation_name(layer: int) -> str:
    return f"z{layer}"


def activation_name(layer: int) -> str:
    """a(1) is the input X; the others are a2, a3, ..."""
    return "X" if layer == 1 else f"a{layer}"


def delta_name(layer: int) -> str:
    return f"delta{layer}"


TARGET_NAME = "y"


@dataclass(frozen=True)
class LatexNotation:
    """How the write-ups print names and operators.

    Args:
        layer_index: "superscript" prints W^{(1)}, "subscript" prints W_{1}.
        hadamard: "odot" or "circ".
        transpose: "top" prints ^{\\top}, "T" prints ^{T}.
    """

    layer_index: str = "superscript"
    hadamard: str = "odot"
    transpose: str = "top"

    @property
    def hadamard_symbol(self) -> str:
        return r"\odot" if self.hadamard == "odot" else r"\circ"

    @property
    def transpose_symbol(self) -> str:
        return r"\top" if self.transpose == "top" else "T"


_BASES = {"W": "W", "b": "b", "z": "z", "a": "a", "delta": r"\delta", "X": "X", "y": "y",
          "yhat": r"\hat{y}", "Theta": r"\Theta"}
_MATRIX_NAME = re.compile(r"^(delta|W|b|z|a)(\d+)(bar)?$")


def matrix_latex(name: str, notation: LatexNotation = LatexNotation()) -> str:
    """LaTeX for a matrix name: "W1" -> "W^{(1)}", "delta3" -> "\\delta^{(3)}", "X" -> "X"."""
    if name == "yhat":
        return r"\hat{Y}"
    if name == "y":
        return "Y"
    if name == "X":
        return "X"
    if name.startswith("ones"):
        return r"\mathbf{1}"
    match = _MATRIX_NAME.match(name)
    if not match:
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    base, layer, bar = match.groups()
    base_latex = _BASES[base]
    if bar:
        base_latex = r"\bar{" + base_latex + "}"
    if notation.layer_index == "superscript":
        return f"{base_latex}^{{({layer})}}"
    return f"{base_latex}_{{{layer}}}"


def entry_latex(name: str, notation: LatexNotation = LatexNotation()) -> str | None:
    """LaTeX for an entry symbol name: "W1_0_2" -> "W^{(1)}_{02}"; None if not an entry name."""
    parts = name.rsplit("_", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    matrix, row, column = parts
    if matrix in ("X", "y"):
        base = matrix.lower() if matrix == "y" else "x"
        return f"{base}_{{{row}{column}}}" if int(row) < 10 and int(column) < 10 \
            else f"{base}_{{{row},{column}}}"
    if matrix == "yhat":
        return rf"\hat{{y}}_{{{row}{column}}}"
    latex = matrix_latex(matrix, notation)
    if latex.startswith(r"\mathrm"):
        return None
    subscript = f"{row}{column}" if int(row) < 10 and int(column) < 10 else f"{row},{column}"
    if notation.layer_index == "subscript":
        # W_{1} with entry 02 reads W_{1,02}: keep the layer first, then the entry.
        return latex[:-1] + "," + subscript + "}"
    return latex + f"_{{{subscript}}}"
