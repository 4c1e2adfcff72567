"""A small typed grammar of matrix expressions for normalisation gradients, and its printers.

Row convention: X is N x D, examples in rows. A leaf is an N x D matrix (G, X_hat), a row of
per-feature values 1 x D (gamma; mu and s in batch norm) or a column of per-example values N x 1
(mu and s in layer norm). Products are entrywise (Hadamard) with broadcasting, as in NumPy;
an axis sum over axis 0 is 1^T A (1 1^T A when broadcast back to N x D), over axis 1 it is A 1
(A 1 1^T). One tree; each target (float64, GF(p) and SymPy values, LaTeX, NumPy text) is a
singledispatch over its node classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import Union

import numpy as np
import sympy as sp

from derive.proofs.modular import PRIME, inverse

MATRIX, ROW_VECTOR, COLUMN_VECTOR = "matrix", "row", "column"

# how each leaf prints: LaTeX and NumPy text, in one place
LEAF_LATEX = {"G": "G", "Xhat": r"\hat X", "gamma": r"\gamma", "s": r"\sqrt{\sigma^2+\epsilon}"}
# leaves only the planted mistakes read (derive/normalization/mistakes.py): the raw input, and the
# statistics with epsilon left out
LEAF_LATEX.update({"X": "X", "s_without_epsilon": r"\sqrt{\sigma^2}", "Xhat_without_epsilon": r"\hat X_0"})
SIZE_LATEX = {"N": "N", "D": "D"}


@dataclass(frozen=True)
class Leaf:
    name: str  # "G", "Xhat", "gamma" or "s"
    shape: str  # MATRIX, ROW_VECTOR or COLUMN_VECTOR


@dataclass(frozen=True)
class Size:
    name: str  # "N" (examples) or "D" (features)


@dataclass(frozen=True)
class Number:
    numerator: int
    denominator: int = 1


@dataclass(frozen=True)
class Power:
    base: "Node"
    exponent: int


@dataclass(frozen=True)
class Product:
    factors: tuple["Node", ...]


@dataclass(frozen=True)
class Add:
    terms: tuple["Node", ...]


@dataclass(frozen=True)
class AxisSum:
    """sum over one axis; broadcast says whether it is shown spread back to N x D."""

    argument: "Node"
    axis: int
    broadcast: bool


Node = Union[Leaf, Size, Number, Power, Product, Add, AxisSum]


# ---------------------------------------------------------------- evaluation

class Arithmetic:
    """How numbers behave: float64 here; GF(p) and SymPy below."""

    dtype = float

    def number(self, value: Number):
        return value.numerator / value.denominator

    def size(self, value: int):
        return value

    def power(self, value, exponent: int):
        return value ** exponent

    def reduce(self, value):
        return value


class ModularArithmetic(Arithmetic):
    """Exact arithmetic modulo 2^61 - 1 on object arrays of Python ints."""

    dtype = object

    def number(self, value: Number):
        return value.numerator * inverse(value.denominator) % PRIME

    def power(self, value, exponent: int):
        if exponent >= 0:
            return _modular_power(value, exponent)
        return _modular_power(_modular_inverse(value), -exponent)

    def reduce(self, value):
        return value % PRIME


_modular_inverse = np.frompyfunc(inverse, 1, 1)
_modular_power = np.frompyfunc(lambda base, exponent: pow(int(base), exponent, PRIME), 2, 1)


class SymbolicArithmetic(Arithmetic):
    """SymPy expressions in NumPy object arrays: broadcasting for free."""

    dtype = object

    def number(self, value: Number):
        return sp.Rational(value.numerator, value.denominator)

    def size(self, value: int):
        return sp.Integer(value)  # a Python int would make 1 / N a float

    def power(self, value, exponent: int):
        return np.frompyfunc(lambda base: base ** exponent, 1, 1)(value)


def evaluate(node: Node, values: dict, arithmetic: Arithmetic = Arithmetic()):
    """The value of an expression, with NumPy broadcasting.

    Args:
        node: the expression.
        values: leaf name -> array shaped (N, D), (1, D) or (N, 1); "N", "D" -> sizes.
        arithmetic: Arithmetic() (float64), ModularArithmetic() or SymbolicArithmetic().
    """
    return _evaluate(node, values, arithmetic)


@singledispatch
def _evaluate(node, values, arithmetic):
    raise TypeError(f"not a node of the normalisation grammar: {node!r}")


@_evaluate.register
def _(node: Leaf, values, arithmetic):
    return values[node.name]


@_evaluate.register
def _(node: Size, values, arithmetic):
    return arithmetic.size(values[node.name])


@_evaluate.register
def _(node: Number, values, arithmetic):
    return arithmetic.number(node)


@_evaluate.register
def _(node: Power, values, arithmetic):
    return arithmetic.reduce(arithmetic.power(_evaluate(node.base, values, arithmetic), node.exponent))


@_evaluate.register
def _(node: Product, values, arithmetic):
    result = 1
    for factor in node.factors:
        result = arithmetic.reduce(result * _evaluate(factor, values, arithmetic))
    return result


@_evaluate.register
def _(node: Add, values, arithmetic):
    result = 0
    for term in node.terms:
        result = arithmetic.reduce(result + _evaluate(term, values, arithmetic))
    return result


@_evaluate.register
def _(node: AxisSum, values, arithmetic):
    value = np.asarray(_evaluate(node.argument, values, arithmetic), dtype=arithmetic.dtype)
    return arithmetic.reduce(value.sum(axis=node.axis, keepdims=True))


# ---------------------------------------------------------------- printing

def _split(node: Node):
    """A product as (scalar coefficient as a Fraction-like SymPy number times sizes, arrays up, arrays down)."""
    factors = node.factors if isinstance(node, Product) else (node,)
    scalar, numerator, denominator = sp.Integer(1), [], []
    for factor in factors:
        value = scalar_value(factor)
        if value is not None:
            scalar *= value
        elif isinstance(factor, Power) and factor.exponent < 0:
            denominator.append(factor.base if factor.exponent == -1 else Power(factor.base, -factor.exponent))
        else:
            numerator.append(factor)
    return scalar, numerator, denominator


def scalar_value(node: Node):
    """The SymPy value of a node built from numbers and sizes only; None if it holds an array."""
    if isinstance(node, Number):
        return sp.Rational(node.numerator, node.denominator)
    if isinstance(node, Size):
        return sp.Symbol(node.name)
    if isinstance(node, Power):
        base = scalar_value(node.base)
        return None if base is None else base ** node.exponent
    if isinstance(node, (Product, Add)):
        parts = [scalar_value(c) for c in (node.factors if isinstance(node, Product) else node.terms)]
        if any(part is None for part in parts):
            return None
        return sp.Mul(*parts) if isinstance(node, Product) else sp.Add(*parts)
    return None


def _negative_scalar(scalar: sp.Expr) -> bool:
    """Whether a coefficient reads best with a minus in front: its leading coefficient is negative."""
    numerator = sp.numer(sp.together(scalar))
    if numerator.is_Number:
        return bool(numerator < 0)
    return bool(sp.Poly(numerator, *sorted(numerator.free_symbols, key=str)).LC() < 0)


def _is_negative(node: Node) -> bool:
    scalar, _, _ = _split(node)
    return _negative_scalar(scalar)


def _negate(node: Node) -> Node:
    factors = node.factors if isinstance(node, Product) else (node,)
    return Product((Number(-1),) + factors)


@singledispatch
def latex(node) -> str:
    r"""One line of LaTeX, with \odot for the entrywise product and 1 1^T for broadcast sums."""
    raise TypeError(f"not a node of the normalisation grammar: {node!r}")


@latex.register
def _(node: Leaf) -> str:
    return LEAF_LATEX[node.name]


@latex.register
def _(node: Size) -> str:
    return SIZE_LATEX[node.name]


@latex.register
def _(node: Number) -> str:
    return sp.latex(sp.Rational(node.numerator, node.denominator))


@latex.register
def _(node: Add) -> str:
    text = latex(node.terms[0])
    for term in node.terms[1:]:
        text += f" - {latex(_negate(term))}" if _is_negative(term) else f" + {latex(term)}"
    return text


@latex.register
def _(node: AxisSum) -> str:
    inner = latex(node.argument) if isinstance(node.argument, Leaf) else f"({latex(node.argument)})"
    if node.axis == 0:
        return (r"\mathbf{1}\mathbf{1}^\top " if node.broadcast else r"\mathbf{1}^\top ") + inner
    return inner + (r"\,\mathbf{1}\mathbf{1}^\top" if node.broadcast else r"\,\mathbf{1}")


@latex.register
def _(node: Power) -> str:
    return f"{_latex_factor(node.base)}^{{{node.exponent}}}" if node.exponent > 0 else _latex_product(node)


@latex.register
def _(node: Product) -> str:
    return _latex_product(node)


def _latex_factor(node: Node) -> str:
    text = latex(node)
    return f"\\left({text}\\right)" if isinstance(node, Add) else text


def _latex_product(node: Node) -> str:
    scalar, numerator, denominator = _split(node)
    parts = []
    sign = ""
    if _negative_scalar(scalar):
        sign, scalar = "-", -scalar
    if scalar != 1:
        parts.append(f"\\left({sp.latex(scalar)}\\right)" if isinstance(scalar, sp.Add) else sp.latex(scalar))
    arrays = [_latex_factor(f) for f in numerator]
    if denominator:
        down = r" \odot ".join(_latex_factor(f) for f in denominator)
        # fold one vector factor (gamma) over the denominator: \frac{\gamma}{s}
        up = arrays.pop(0) if numerator and isinstance(numerator[0], Leaf) and numerator[0].shape != MATRIX else "1"
        arrays.insert(0, f"\\frac{{{up}}}{{{down}}}")
    text = r" \odot ".join(arrays)
    if parts:
        separator = r"\," if text.startswith("\\frac") or parts[0].startswith("\\frac") else " "
        text = f"{parts[0]}{separator}{text}" if text else parts[0]
    return sign + text


@singledispatch
def numpy_text(node) -> str:
    """NumPy-like source text: * is entrywise, sums keep their axis for broadcasting."""
    raise TypeError(f"not a node of the normalisation grammar: {node!r}")


@numpy_text.register(Leaf)
@numpy_text.register(Size)
def _(node) -> str:
    return node.name


@numpy_text.register
def _(node: Number) -> str:
    return str(node.numerator) if node.denominator == 1 else f"({node.numerator}/{node.denominator})"


@numpy_text.register
def _(node: Power) -> str:
    base = _numpy_factor(node.base)
    return f"(1 / {base})" if node.exponent == -1 else f"{base}**{node.exponent}"


@numpy_text.register
def _(node: Add) -> str:
    text = numpy_text(node.terms[0])
    for term in node.terms[1:]:
        text += f" - {numpy_text(_negate(term))}" if _is_negative(term) else f" + {numpy_text(term)}"
    return text


@numpy_text.register
def _(node: AxisSum) -> str:
    keep = ", keepdims=True" if node.broadcast else ""
    return f"{_numpy_factor(node.argument)}.sum(axis={node.axis}{keep})"


@numpy_text.register
def _(node: Product) -> str:
    scalar, numerator, denominator = _split(node)
    sign = ""
    if _negative_scalar(scalar):
        sign, scalar = "-", -scalar
    parts = [] if scalar == 1 else [f"({sp.pycode(scalar)})" if not scalar.is_Atom else sp.pycode(scalar)]
    parts += [_numpy_factor(f) for f in numerator] or ([] if parts else ["1"])
    text = " * ".join(parts)
    for factor in denominator:
        text += f" / {_numpy_factor(factor)}"
    return sign + text


def _numpy_factor(node: Node) -> str:
    text = numpy_text(node)
    return text if isinstance(node, (Leaf, Size, Number, AxisSum)) else f"({text})"


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Product):
        return node.factors
    if isinstance(node, Add):
        return node.terms
    if isinstance(node, Power):
        return (node.base,)
    if isinstance(node, AxisSum):
        return (node.argument,)
    return ()


def leaves(node: Node) -> set[str]:
    """The names of the leaves an expression reads."""
    if isinstance(node, Leaf):
        return {node.name}
    return set().union(*(leaves(child) for child in children(node)))
