"""How a net's forward and backward compute: float64 arrays, or SymPy entries in object arrays.

The same forward pass (derive/program/norm_net.py) and the same chained backward
(derive/normalization/network.py) run on both: SymPy entries for the proof, float64 for the numbers.
The symbolic activations are the opaque functions of the activation table (relu(z) with
d/dz relu = relu_prime), so the proof holds for every activation; float64 uses the table's formulas.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from derive.network.activations import activation as activation_entry
from derive.normalization import matrix_expression as mx
from derive.normalization.forward import EPSILON


class FloatNumbers:
    dtype = float
    arithmetic = mx.Arithmetic()

    sqrt = staticmethod(np.sqrt)
    exp = staticmethod(np.exp)

    def eps(self, value: float):
        return value

    def scalar(self, value: sp.Expr):
        return float(value)

    def ones(self, shape):
        return np.ones(shape)

    def activation(self, name: str):
        return _concrete(activation_entry(name).function)

    def entrywise(self, function: sp.Lambda, array: np.ndarray) -> np.ndarray:
        """g(A) entry by entry, g's opaque functions replaced by the table's formulas."""
        concrete = function.expr
        for entry_name in _opaque_names(function.expr):
            entry = activation_entry(entry_name)
            concrete = concrete.replace(entry.opaque_prime, entry.derivative).replace(entry.opaque, entry.function)
        compiled = sp.lambdify(function.variables, concrete, [{"Max": np.maximum, "Heaviside": np.heaviside}, "numpy"])
        return np.asarray(compiled(array), dtype=float) * np.ones_like(array)


class SymbolicNumbers:
    dtype = object
    arithmetic = mx.SymbolicArithmetic()

    def sqrt(self, array):
        return np.frompyfunc(sp.sqrt, 1, 1)(array)

    def exp(self, array):
        return np.frompyfunc(sp.exp, 1, 1)(array)

    def eps(self, value: float):
        return EPSILON  # the proof holds for every epsilon > 0

    def scalar(self, value: sp.Expr):
        return value

    def ones(self, shape):
        return np.full(shape, sp.Integer(1), dtype=object)

    def activation(self, name: str):
        return np.frompyfunc(activation_entry(name).opaque, 1, 1)

    def entrywise(self, function: sp.Lambda, array: np.ndarray) -> np.ndarray:
        return np.frompyfunc(lambda value: function(value), 1, 1)(array)


def _opaque_names(expression: sp.Expr) -> list[str]:
    names = []
    for call in expression.atoms(sp.Function):
        name = type(call).__name__.removesuffix("_prime")
        if name not in names:
            names.append(name)
    return names


def _concrete(function):
    t = sp.Symbol("t", real=True)
    # relu is Max(0, t): NumPy's maximum takes it entry by entry
    compiled = sp.lambdify(t, function(t), [{"Max": np.maximum, "Heaviside": np.heaviside}, "numpy"])
    return lambda array: np.asarray(compiled(array), dtype=float) * np.ones_like(array)
