"""Activation functions as a table: each activation is one entry, and every other module reads it.

An entry holds f and f', the identity through the output, the derived route's NumPy code, the
LaTeX, the kink convention, the names a formula may use, its folder name, and so on (Activation).
Adding an activation is adding an entry here and its independent twin in checks/handwritten/network.py.

In a derivation an activation appears as an opaque SymPy function (`sigmoid(z2_0_1)`) whose
derivative is another opaque function (`sigmoid_prime(z2_0_1)`): the chain rule then holds for
any f, and the concrete formulas (`1/(1 + exp(-x))`) enter only where a proof asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import sympy as sp


@lru_cache(maxsize=None)
def opaque_pair(name: str) -> tuple[type[sp.Function], type[sp.Function]]:
    """The opaque function `name` and its derivative `name_prime`, with d/dx name = name_prime."""
    prime = type(f"{name}_prime", (sp.Function,), {"is_real": True})

    def fdiff(self, argindex=1):
        return prime(self.args[0])

    function = type(name, (sp.Function,), {"fdiff": fdiff, "is_real": True})
    return function, prime


def _relu(x: sp.Expr) -> sp.Expr:
    return sp.Max(0, x)


def _relu_derivative(x: sp.Expr) -> sp.Expr:
    # ReLU has no derivative at 0. SymPy's Heaviside(0) is 1/2; we take 0, as NumPy code
    # written with `z > 0` does (and as PyTorch and JAX do).
    return sp.Heaviside(x, 0)


LEAKY_SLOPE = sp.Rational(1, 100)


def _leaky_relu(x: sp.Expr) -> sp.Expr:
    # slope x + (1 - slope) max(0, x): SymPy differentiates it into slope + (1 - slope) Heaviside(x),
    # the same atom Heaviside(x) as relu's, so the proofs compare it the way they compare relu
    return LEAKY_SLOPE * x + (1 - LEAKY_SLOPE) * sp.Max(0, x)


def _leaky_relu_derivative(x: sp.Expr) -> sp.Expr:
    # No derivative at 0; we take the negative side's slope 0.01 there, as PyTorch does: its
    # backward is `z > 0 ? grad : grad * negative_slope` (THNN LeakyReLU_updateGradInput), so a
    # user's code written like PyTorch agrees with ours at z = 0 too.
    return LEAKY_SLOPE + (1 - LEAKY_SLOPE) * sp.Heaviside(x, 0)


@dataclass(frozen=True)
class Activation:
    """One activation: everything the tool knows of it, in one entry.

    Args:
        name: the table key and the opaque function's name.
        function: x -> f(x) as a concrete SymPy expression.
        derivative: x -> f'(x), the form the derivation uses; the local proof checks it
            against SymPy's diff of `function`.
        derivative_from_output: a -> f'(x) written with a = f(x) where that is shorter
            (sigma' = a (1 - a)); None where no such form exists. The generated NumPy code
            computes f' this way from the forward pass's a, once derive.proofs.local has proved
            the identity.
        latex: the LaTeX command for f.
        numpy_function, numpy_derivative: the derived route's stable NumPy code for f(x) and
            f'(x), with {x} for the argument and numpy.NAME for NumPy's functions.
        kink: where f has no derivative, the value we take and why ("" for a smooth f); the
            proofs then compare f' with SymPy's diff on each side of the kink, and state this.
        derivative_latex: f'(t) in LaTeX where no output identity writes it (a kinked f).
        slopes: for a piecewise-linear f (f(z) = f'(z) z), the values f' takes; the randomized
            proofs tie a person's a and f' by drawing one of them per entry.
        formula_names: the names a user's LaTeX formula may call it by (NumPy formulas use `name`).
        short: its name in folder names.
        stable_logs: z -> (log f(z), log(1 - f(z))) written so that neither takes the log of 0
            (sigmoid: -softplus(-z), -softplus(z)); the derived route scores a log loss from z with it.
        mistaken_for: an activation whose f' is easily written in its place (relu' for
            leaky_relu': the slope below 0 dropped); verify's mistakes catalogue tries it.
        elementwise: False for softmax, which couples an example's outputs.
    """

    name: str
    function: Callable[[sp.Expr], sp.Expr] | None
    derivative: Callable[[sp.Expr], sp.Expr] | None
    derivative_from_output: Callable[[sp.Expr], sp.Expr] | None
    latex: str
    numpy_function: str = ""
    numpy_derivative: str = ""
    kink: str = ""
    derivative_latex: str = ""
    slopes: tuple[sp.Rational, ...] | None = None
    formula_names: tuple[str, ...] = ()
    short: str = ""
    stable_logs: Callable[[sp.Expr], tuple[sp.Expr, sp.Expr]] | None = None
    mistaken_for: str = ""
    elementwise: bool = True

    @property
    def opaque(self) -> type[sp.Function]:
        return opaque_pair(self.name)[0]

    @property
    def opaque_prime(self) -> type[sp.Function]:
        return opaque_pair(self.name)[1]

    @property
    def is_elementwise(self) -> bool:
        return self.elementwise

    @property
    def is_generic(self) -> bool:
        """The generic f: no formula, so nothing numeric."""
        return self.function is None and self.elementwise

    @property
    def folder_name(self) -> str:
        return self.short or self.name


class softplus(sp.Function):  # noqa: N801 -- lowercase: SymPy printers dispatch on the class name
    """softplus(x) = log(1 + exp(x)); -log sigma(z) = softplus(-z) and -log(1 - sigma(z)) = softplus(z)."""


def _sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


ACTIVATION_TABLE: dict[str, Activation] = {
    "sigmoid": Activation(
        "sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)), lambda a: a * (1 - a), r"\sigma",
        # sigma(z) = (1 + tanh(z/2)) / 2: tanh never overflows, so no warning and no inf for any z,
        # in four array passes like 1/(1 + exp(-z)) (which overflows below z = -709); exact to an
        # absolute 1e-16, so a tail such as sigma(-700) = e^-700 comes out as 0
        numpy_function="(0.5 + 0.5*numpy.tanh(0.5*{x}))",
        # sigma(z) sigma(-z) = e^-|z| / (1 + e^-|z|)^2: even in z, finite and accurate for every z
        numpy_derivative="(numpy.exp(-numpy.abs({x})) / (1 + numpy.exp(-numpy.abs({x})))**2)",
        stable_logs=lambda z: (-softplus(-z), -softplus(z)),
        formula_names=(r"\sigma", "sigmoid")),
    "tanh": Activation(
        "tanh", sp.tanh, lambda x: 1 - sp.tanh(x) ** 2, lambda a: 1 - a ** 2, r"\tanh",
        numpy_function="numpy.tanh({x})", numpy_derivative="(1 - numpy.tanh({x})**2)",
        formula_names=(r"\tanh", "tanh")),
    "relu": Activation(
        "relu", _relu, _relu_derivative, None, r"\operatorname{relu}",
        numpy_function="numpy.maximum({x}, 0.0)", numpy_derivative="numpy.heaviside({x}, 0.0)",
        kink="relu'(0) is taken as 0, as NumPy code testing z for positive, PyTorch and JAX do; "
             "SymPy's Heaviside(0) is 1/2",
        derivative_latex="[t > 0]", slopes=(sp.Integer(0), sp.Integer(1)),
        formula_names=("relu", "ReLU")),
    # slope 0.01 below 0, PyTorch's default negative_slope. At the kink we take leaky_relu'(0) = 0.01,
    # not 1: PyTorch's backward is `z > 0 ? grad : grad * negative_slope` (THNN's
    # LeakyReLU_updateGradInput), so a person's code written like PyTorch's agrees with ours at 0 too.
    "leaky_relu": Activation(
        "leaky_relu", _leaky_relu, _leaky_relu_derivative, None, r"\operatorname{lrelu}",
        numpy_function="numpy.where({x} > 0, {x}, 0.01*{x})",
        numpy_derivative="numpy.where({x} > 0, 1.0, 0.01)",
        kink="leaky_relu'(0) is taken as 0.01, the slope below 0, as PyTorch's backward does; "
             "SymPy's Heaviside(0) is 1/2",
        derivative_latex=r"0.01 + 0.99\,[t > 0]",
        slopes=(LEAKY_SLOPE, sp.Integer(1)), formula_names=("lrelu", "LeakyReLU", "leaky_relu"),
        short="lrelu", mistaken_for="relu"),
    "identity": Activation(
        "identity", lambda x: x, lambda x: sp.Integer(1), lambda a: sp.Integer(1), r"\operatorname{id}",
        numpy_function="{x}", numpy_derivative="numpy.ones_like({x})", slopes=(sp.Integer(1),),
        formula_names=("id",)),
    # softmax couples the outputs of one example; the derivation treats it on its own.
    "softmax": Activation("softmax", None, None, None, r"\operatorname{softmax}", elementwise=False),
    # the generic activation: nothing is assumed of f, so a result proved with it holds for all f.
    "f": Activation("f", None, None, None, "f", formula_names=("f", "g")),
}
ACTIVATIONS = tuple(ACTIVATION_TABLE)


def activation(name: str) -> Activation:
    return ACTIVATION_TABLE[name]


def concrete_replacements(names: set[str]) -> dict[type[sp.Function], Callable]:
    """For `expr.replace`: each opaque function and its derivative -> the concrete formulas."""
    replacements: dict[type[sp.Function], Callable] = {}
    for name in sorted(names):
        entry = ACTIVATION_TABLE[name]
        if entry.function is None:
            continue
        replacements[entry.opaque] = entry.function
        replacements[entry.opaque_prime] = entry.derivative
    return replacements
