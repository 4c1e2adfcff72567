"""The write-up of a derivation as a document model: sections of prose, equations and tables.

Pure functions: a Derivation (and, optionally, the numeric table and the latexified NumPy
reference that the CLI computes) in, a frozen Document out. derive.writeup.latex and
derive.writeup.markdown print the same Document. Prose carries inline math between $...$ and
code between backticks; equations are LaTeX lines, aligned at & when there are several.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import sympy as sp

from derive.network.activations import activation as activation_entry
from derive.network.costs import cost as cost_entry
from derive.backward.derivation import Derivation, Step
from derive.writeup.latex_printer import latex
from derive.network.naming import LatexNotation
from derive.network.spec import XOR_SPEC, NetworkSpec


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


def fraction(top: str, bottom: str) -> str:
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def entry_name(ctx: Context, name: str, position: tuple[int, int]) -> str:
    return ctx.tex(sp.Symbol(f"{name}_{position[0]}_{position[1]}"))


def describe(spec: NetworkSpec) -> str:
    """One sentence saying which network this is, for the title block and the CLI summary."""
    hidden = sorted(set(spec.activations[:-1]))
    units = f"{' and '.join(hidden)} hidden units, {spec.output_activation} output" if hidden \
        else f"{spec.output_activation} output, no hidden layer"
    bias = {"none": "no biases", "vector": "bias vectors", "unit": "Ng's bias unit"}[spec.bias]
    reduction = "summed" if spec.reduction == "sum" else "averaged"
    l2 = ", L2 regularization" if spec.l2 else ""
    seed = " (seed 000's XOR net)" if spec == XOR_SPEC else ""
    return (f"The {spec.slug} network{seed}: {units}, {cost_entry(spec.cost).title} {reduction} over "
            f"m = {spec.m} examples, {spec.convention} form, {bias}{l2}.")


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


def format_error(error: float | None, threshold: float) -> str:
    """$< 10^{-10}$ below the threshold (machine-independent), else two significant figures."""
    if error is None:
        return "not run"
    if error < threshold:
        return f"$< 10^{{{round(math.log10(threshold))}}}$"
    mantissa, exponent = f"{error:.1e}".split("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$"


def build_document(derivation: Derivation, numeric: NumericTable | None = None,
                   reference: Reference | None = None,
                   notation: LatexNotation = LatexNotation()) -> Document:
    """The whole write-up of `derivation`, in the order of issue 4.

    Args:
        derivation: what derive(spec) returned, proofs attached.
        numeric: the numeric agreement of the three routes, or None to leave the table out.
        reference: the latexified hand-written NumPy, or None to leave that section out.
        notation: Hadamard and transpose symbols, layer index style.
    """
    from derive.writeup import layers, sections

    ctx = Context(derivation, notation)
    parts = [sections.notation_section(ctx), sections.forward_section(ctx), layers.output_section(ctx)]
    if ctx.L > 2:
        parts.append(layers.hidden_section(ctx))
    parts.append(layers.convention_section(ctx))
    extra = sections.bias_regularization_section(ctx)
    if extra is not None:
        parts.append(extra)
    parts.append(sections.update_section(ctx))
    parts.append(sections.verification_section(ctx, numeric))
    if reference is not None and reference.functions:
        parts.append(sections.reference_section(ctx, reference))
    title = f"Backpropagation for the {derivation.spec.slug} network, derived and proved"
    return Document(title, describe(derivation.spec), tuple(parts))
