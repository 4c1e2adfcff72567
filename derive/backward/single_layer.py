"""The classic single-layer delta rule, read off a derivation with no hidden layer.

For one layer, half-SSE and one example, the derived gradient gives the update
Delta w_ji = -eta dJ/dw_ji = eta (t_j - y_j) g'(h_j) x_i (Wikipedia's delta rule), with
t the target, y = g(h) the output, h = sum_i w_ji x_i.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.backward.derivation import Derivation
from derive.backward.matrix_ops import entry_of

LEARNING_RATE = sp.Symbol("eta", positive=True)


@dataclass(frozen=True)
class DeltaRule:
    """The update of one weight, and of the whole matrix."""

    weight: sp.Symbol  # the entry the rule is written for
    update: sp.Expr  # Delta w = -eta dJ/dw, with delta substituted: eta (t - y) g'(h) x
    matrix_update: sp.MatrixExpr  # -eta dJ/dW


def single_layer_rule(derivation: Derivation, row: int = 0, column: int = 0) -> DeltaRule:
    """Delta w for entry (row, column) of W1 of a net without hidden layers.

    Raises:
        ValueError: the net has a hidden layer.
    """
    network = derivation.network
    if network.output_layer != 2:
        raise ValueError("the single-layer delta rule needs a net without hidden layers")
    gradient = derivation.gradient("W1")
    deltas = {}
    for name, formula in derivation.deltas():
        delta = network.delta(int(name.removeprefix("delta")))
        deltas.update({delta.entry(*p): entry_of(formula, *p) for p in delta.positions()})
    update = sp.factor(-LEARNING_RATE * entry_of(gradient, row, column).xreplace(deltas))
    return DeltaRule(network.weights(1).entry(row, column), update, -LEARNING_RATE * gradient)
