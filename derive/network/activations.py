"""Activation functions as a table of small entries: name, f, f', LaTeX.

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


@dataclass(frozen=True)
class Activation:
    """One activation.

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
    """

    name: str
    function: Callable[[sp.Expr], sp.Expr] | None
    derivative: Callable[[sp.Expr], sp.Expr] | None
    derivative_from_output: Callable[[sp.Expr], sp.Expr] | None
    latex: str

    @property
    def opaque(self) -> type[sp.Function]:
        return opaque_pair(self.name)[0]

    @property
    def opaque_prime(self) -> type[sp.Function]:
        return opaque_pair(self.name)[1]

    @property
    def is_elementwise(self) -> bool:
        return self.name != "softmax"


def _sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


ACTIVATION_TABLE: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
                          lambda a: a * (1 - a), r"\sigma"),
    "tanh": Activation("tanh", sp.tanh, lambda x: 1 - sp.tanh(x) ** 2, lambda a: 1 - a ** 2,
                       r"\tanh"),
    "relu": Activation("relu", _relu, _relu_derivative, None, r"\operatorname{relu}"),
    "identity": Activation("identity", lambda x: x, lambda x: sp.Integer(1), lambda a: sp.Integer(1),
                           r"\operatorname{id}"),
    # softmax couples the outputs of one example; the derivation treats it on its own.
    "softmax": Activation("softmax", None, None, None, r"\operatorname{softmax}"),
    # the generic activation: nothing is assumed of f, so a result proved with it holds for all f.
    "f": Activation("f", None, None, None, "f"),
}


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
