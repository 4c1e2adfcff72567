"""Each step's cost gradient dL_t/dy_t, found by SymPy's diff of the cost at the output width.

J = sum_t L_t: half-SSE (1/2) sum_m (y_m - r_m)^2, or softmax cross-entropy -sum_m r_m log softmax(y)_m
with r one-hot. The backward through time starts from these dy_t; the rest of the layer never
sees the cost.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

STEP_COSTS = ("half_sse", "cross_entropy")


def step_cost(cost: str, width: int):
    y = sp.symbols(f"y_0:{width}")
    r = sp.symbols(f"r_0:{width}")
    if cost == "half_sse":
        return y, r, sp.Rational(1, 2) * sum((a - b) ** 2 for a, b in zip(y, r))
    if cost == "cross_entropy":
        log_total = sp.log(sum(sp.exp(a) for a in y))
        return y, r, -sum(b * (a - log_total) for a, b in zip(y, r))
    raise ValueError(f"unknown cost {cost!r}: use one of {', '.join(STEP_COSTS)}")


@lru_cache(maxsize=None)
def cost_gradient(cost: str, width: int):
    """(y, r) -> dL/dy, both arrays with the width on the last axis (one-hot r for cross-entropy)."""
    y, r, loss = step_cost(cost, width)
    entries = [sp.diff(loss, a) for a in y]
    function = sp.lambdify([y, r], entries, "numpy")
    shift = cost == "cross_entropy"  # softmax is unchanged by a shift of y: keeps exp finite

    def gradient(y_values, r_values):
        y_values = np.asarray(y_values, dtype=float)
        if shift:
            y_values = y_values - y_values.max(axis=-1, keepdims=True)
        columns = function(np.moveaxis(y_values, -1, 0), np.moveaxis(np.asarray(r_values, dtype=float), -1, 0))
        return np.stack([np.broadcast_to(c, y_values.shape[:-1]) for c in columns], axis=-1)

    return gradient
