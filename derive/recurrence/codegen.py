"""The derived forward and backward as generated NumPy source: one function each, no tree walking.

The source is printed from the derived matrix forms (matrix_form.numpy_text), one line per
quantity per step, with each shared parameter's gradient accumulated inside the backward loop
(the sum over steps, unrolled into +=) and a bias's summed over the batch. It is compiled from
our own derivation, never from a user's text; tests compare it with the step-by-step evaluator.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from derive.formulas.function_source import define_function

from derive.network.activations import ACTIVATION_TABLE
from derive.recurrence import matrix_form as mf
from derive.recurrence.derivation import RecurrenceDerivation


def numpy_source(derivation: RecurrenceDerivation) -> str:
    layer = derivation.layer
    computed = [name for name, _ in derivation.forward]
    deltas = [g.delta for g in derivation.states]
    parameters = [p.name for p in layer.parameters]
    batch_axis = 1 if layer.column else 0
    lines = ["def forward(P, xs, initial):",
             f"    {', '.join(parameters)}, = ({', '.join(f'P[{n!r}]' for n in parameters)},)",
             "    T = len(xs)",
             "    x = [None] + list(xs) + [None]"]
    for name in computed:
        start = f"initial[{name!r}]" if name in layer.initial else "None"
        lines.append(f"    {name} = [{start}] + [None] * (T + 1)")
    lines.append("    for s in range(1, T + 1):")
    for name, node in derivation.forward:
        lines.append(f"        {name}[s] = {mf.numpy_text(node, 's')}")
    for name in computed:  # step T + 1 is read beside delta_{T+1} = 0 only (f_{T+1} in dc_T)
        lines.append(f"    {name}[T + 1] = {name}[T] * 0")
    lines.append(f"    return {{{', '.join(f'{n!r}: {n}' for n in ['x'] + computed)}}}")
    lines += ["", "", "def backward(P, cache, dys):",
              f"    {', '.join(parameters)}, = ({', '.join(f'P[{n!r}]' for n in parameters)},)",
              f"    {', '.join(['x'] + computed)}, = ({', '.join(f'cache[{n!r}]' for n in ['x'] + computed)},)",
              "    T = len(dys)",
              "    dy = [None] + list(dys) + [dys[0] * 0]"]
    for delta in deltas:
        lines.append(f"    {delta} = [None] * (T + 1) + [{delta[1:]}[T] * 0]")
    for gradient in derivation.parameters:
        lines.append(f"    grad_{gradient.name} = 0")
    lines.append("    for t in range(T, 0, -1):")
    for gradient in derivation.states:
        lines.append(f"        {gradient.delta}[t] = {mf.numpy_text(gradient.matrix, 't')}")
    for gradient in derivation.parameters:
        lines.append(f"        grad_{gradient.name} = grad_{gradient.name} + {mf.numpy_text(gradient.matrix.argument, 't')}")
    for gradient in derivation.parameters:
        if len(next(p for p in layer.parameters if p.name == gradient.name).shape) == 1:
            lines.append(f"    grad_{gradient.name} = grad_{gradient.name}.sum(axis={batch_axis}, keepdims=True)")
    returns = [f"{g.name!r}: grad_{g.name}" for g in derivation.parameters]
    returns += [f"'{g.name}_0': {mf.numpy_text(g.matrix, '0')}" for g in derivation.initial]
    returns.append("'x': dx[1:T + 1]")
    lines.append(f"    return {{{', '.join(returns)}}}")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=None)
def _functions() -> dict:
    x = sp.Symbol("x")
    functions = {}
    for name, entry in ACTIVATION_TABLE.items():
        if entry.function is None or not entry.is_elementwise:
            continue
        functions[name] = sp.lambdify(x, entry.function(x), "numpy")
        derivative = entry.derivative(x)
        prime = sp.lambdify(x, derivative, "numpy")
        # a constant derivative (identity' = 1) must still be an array of the argument's shape
        functions[f"{name}_prime"] = (lambda z, c=float(derivative): np.full_like(z, c)) if derivative.is_number \
            else prime
    return functions


def compile_layer(derivation: RecurrenceDerivation):
    """(forward, backward) compiled from numpy_source(derivation)."""
    namespace = dict(_functions())
    source, filename = numpy_source(derivation), f"<derived {derivation.layer.kind}>"
    # compiled, never run (derive.formulas.function_source): the same as the derived network route
    forward = define_function(source, filename, "forward", namespace)
    backward = define_function(source, filename, "backward", namespace)
    namespace.update(forward=forward, backward=backward)  # either may call the other
    return forward, backward
