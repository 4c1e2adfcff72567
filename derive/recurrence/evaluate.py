"""The derived forward and backward run step by step, with any arithmetic.

One engine for three uses: float64 arrays (the derived route of `backprop check`), GF(p) dual
numbers (the randomized proof) and SymPy objects (the entrywise proof). Arrays are 2-D: in the
column convention a step's vector is width x batch, in the row convention batch x width, so the
same matrix forms take a batch, and a weight's gradient sum_s u_s v_s^T sums over the batch as it
sums over the steps (the shared-weight argument once more).

Truncated backprop through time with k steps (BPTT(k), Williams and Peng): each step's cost L_tau
is carried back k steps only, through tau, tau - 1, ..., tau - k + 1; k = T is full BPTT.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from derive.network.activations import ACTIVATION_TABLE
from derive.recurrence import matrix_form as mf
from derive.recurrence.derivation import RecurrenceDerivation


@lru_cache(maxsize=None)
def float_functions() -> dict:
    """f and f' of every activation as NumPy functions, lambdified from the activation table."""
    x = sp.Symbol("x")
    functions = {}
    for name, entry in ACTIVATION_TABLE.items():
        if entry.function is None or not entry.is_elementwise:
            continue
        functions[name] = _vectorised(sp.lambdify(x, entry.function(x), "numpy"))
        functions[f"{name}_prime"] = _vectorised(sp.lambdify(x, entry.derivative(x), "numpy"))
    return functions


def _vectorised(function):
    return lambda array: np.broadcast_to(function(array), np.shape(array)).astype(float)


@dataclass(frozen=True)
class Forward:
    """Every quantity at every step: values[name][s] for s = 0..T (step 0: the initial states)."""

    values: dict
    steps: int


def run_forward(derivation: RecurrenceDerivation, parameters: dict, xs: list, initial: dict, functions: dict) -> Forward:
    """The forward pass from the derived matrix forms of one step, for s = 1..T."""
    steps = len(xs)
    values = {name: [None] * (steps + 1) for name, _ in derivation.forward}
    values["x"] = [None] + list(xs)
    for name, value in initial.items():
        values[name][0] = value
    for s in range(1, steps + 1):
        def value(name, offset, s=s):
            return parameters[name] if offset is None else values[name][s + offset]
        for name, node in derivation.forward:
            values[name][s] = mf.evaluate(node, value, functions)
    return Forward(values, steps)


def _zeros_like(array):
    return array * 0


def window_deltas(derivation, parameters, forward, dys, top, bottom, functions):
    """Deltas of every state for steps bottom..top (zero outside), carrying dys back from top."""
    deltas = {g.delta: {} for g in derivation.states}
    deltas["dy"] = {s: dys[s - 1] for s in range(1, forward.steps + 1)}

    def value_at(s):
        def value(name, offset):
            if offset is None:
                return parameters[name]
            step = s + offset
            if name in deltas:
                if bottom <= step <= top and step in deltas[name]:
                    return deltas[name][step]
                return _zeros_like(forward.values[name[1:]][min(max(step, 1), forward.steps)])
            if step > forward.steps:  # beside delta_{T+1} = 0 only (f_{T+1} in dc_T): any value gives 0
                return _zeros_like(forward.values[name][forward.steps])
            return forward.values[name][step]
        return value

    for s in range(top, bottom - 1, -1):
        for gradient in derivation.states:
            deltas[gradient.delta][s] = mf.evaluate(gradient.matrix, value_at(s), functions)
    return deltas, value_at


def _reduce(gradient, shape):
    """A bias's gradient summed over the batch (the axis where the bias has width 1)."""
    array = gradient
    for axis, (got, want) in enumerate(zip(np.shape(array), shape)):
        if want == 1 and got != 1:
            array = array.sum(axis=axis, keepdims=True)
    return array


def run_backward(derivation: RecurrenceDerivation, parameters: dict, forward: Forward, dys: list, functions: dict,
                 truncate: int | None = None) -> dict:
    """Every output gradient (parameters, initial states as "h_0", "c_0", and "x" as a list over steps)."""
    steps = forward.steps
    windows = [(steps, 1, dys)] if truncate is None else [
        (tau, max(1, tau - truncate + 1), [dy if s == tau else _zeros_like(dy) for s, dy in enumerate(dys, 1)])
        for tau in range(1, steps + 1)]
    result = {}
    for top, bottom, masked in windows:
        deltas, value_at = window_deltas(derivation, parameters, forward, masked, top, bottom, functions)
        found = {}
        for gradient in derivation.parameters:
            total = None
            for s in ((top,) if gradient.matrix.last_only else range(bottom, top + 1)):
                term = mf.evaluate(gradient.matrix.argument, value_at(s), functions)
                total = term if total is None else total + term
            found[gradient.name] = _reduce(total, np.shape(parameters[gradient.name]))
        for gradient in derivation.initial:
            value = mf.evaluate(gradient.matrix, value_at(0), functions) if bottom == 1 else None
            found[f"{gradient.name}_0"] = value if value is not None else _zeros_like(forward.values[gradient.name][0])
        found["x"] = [deltas["dx"].get(s, _zeros_like(forward.values["x"][s])) for s in range(1, steps + 1)]
        for name, value in found.items():
            if name not in result:
                result[name] = value
            elif name == "x":
                result[name] = [a + b for a, b in zip(result[name], value)]
            else:
                result[name] = result[name] + value
    return result
