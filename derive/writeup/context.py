"""What the sections of a network's write-up share: the derivation, the notation and a few names."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from derive.backward.derivation import Derivation, Step
from derive.network.activations import activation as activation_entry
from derive.network.naming import LatexNotation
from derive.network.spec import NetworkSpec
from derive.writeup.latex_printer import latex


@dataclass(frozen=True)
class Context:
    """What every section needs: the derivation, the notation and a few names."""

    derivation: Derivation
    notation: LatexNotation

    @property
    def spec(self) -> NetworkSpec:
        return self.derivation.spec

    @property
    def row(self) -> bool:
        return self.spec.convention == "row"

    @property
    def L(self) -> int:
        return self.spec.layer_count

    def tex(self, expr, relabel=None) -> str:
        return latex(expr, self.notation, relabel)

    def math(self, expr) -> str:
        return f"${self.tex(expr)}$"

    def matrix(self, name: str) -> str:
        """LaTeX of the matrix named `name` (its shape does not matter for printing)."""
        return self.tex(sp.MatrixSymbol(name, 1, 1))

    def shaped(self, name: str) -> sp.MatrixSymbol:
        network = self.derivation.network
        for quantity in [network.inputs, network.targets] + [
                q for layer in range(1, self.L + 1) for q in _layer_quantities(network, layer)]:
            if quantity.name == name:
                return quantity.symbol
        raise KeyError(name)

    def step(self, name: str) -> Step:
        return self.derivation.step(name)

    def has_step(self, name: str) -> bool:
        return any(step.name == name for step in self.derivation.steps)

    def sym(self, name: str) -> str:
        return activation_entry(name).latex

    def f_of(self, layer: int) -> str:
        return self.sym(self.spec.activation(layer))


def _layer_quantities(network, layer: int) -> list:
    found = []
    if layer < network.output_layer:
        found.append(network.weights(layer))
        if network.biases(layer) is not None:
            found.append(network.biases(layer))
    if layer > 1:
        found += [network.pre_activation(layer), network.activation(layer), network.delta(layer)]
    return found


def entry_name(ctx: Context, name: str, position: tuple[int, int]) -> str:
    return ctx.tex(sp.Symbol(f"{name}_{position[0]}_{position[1]}"))


def rejected_items(ctx: Context, step: Step) -> tuple[str, ...]:
    """One line per candidate the search rejected, with the reason (shape, or the unequal entry)."""
    items = []
    for candidate in step.rejected:
        shown = ctx.math(candidate.expression) if candidate.expression is not None \
            else "$" + _label_latex(ctx, candidate.label) + "$"
        if candidate.entry is None:
            items.append(f"{shown}: {shape_reason(candidate.reason)}.")
            continue
        row, column = candidate.entry
        items.append(f"{shown}: unequal at entry ({row}, {column}); the candidate gives "
                     f"${ctx.tex(candidate.candidate_value)}$, the chain rule "
                     f"${ctx.tex(candidate.chain_rule_value)}$.")
    return tuple(items)


def shape_reason(reason: str) -> str:
    """The core's "shapes 4x1 and 3x1 ..." with the shapes as math: 4 x 1 -> $4 \\times 1$."""
    return re.sub(r"\b(\d+|[A-Za-z]) ?x ?(\d+|[A-Za-z])\b", r"$\1 \\times \2$", reason)


def _label_latex(ctx: Context, label: str) -> str:
    """A rejected candidate with no expression (its shapes do not combine), from its label.

    The label is `str(A) str(B)` of two factors; each factor is a product of MatrixSymbols and
    transposes of the step's quantities, which sympify cannot be trusted with, so each token is
    matched against the derivation's own matrix names.
    """
    parts = []
    for token in label.split(" "):
        factors = []
        for piece in token.split("*"):
            name, transposed = (piece[:-2], True) if piece.endswith(".T") else (piece, False)
            try:
                symbol = ctx.shaped(name)
            except KeyError:
                return r"\text{" + label.replace("_", r"\_") + "}"
            factors.append(ctx.tex(symbol.T if transposed else symbol))
        parts.append(" ".join(factors))
    return " ".join(parts)
