"""Cost functions as a table: the loss of one example, written over its output entries.

J = sum_n loss_n (reduction "sum") or (1/m) sum_n loss_n ("mean"), plus the L2 term
lambda/2 sum theta^2 over non-bias weights, divided by m for "mean" (Ng's lambda/(2m)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp

L2_STRENGTH = sp.Symbol("lambda", positive=True)


@dataclass(frozen=True)
class Cost:
    """One cost.

    Args:
        name: the table key.
        example_loss: (targets, outputs) of one example -> its loss.
        latex: the loss of one example in LaTeX, with y_k and \\hat{y}_k.
        title: a readable name.
    """

    name: str
    example_loss: Callable[[Sequence[sp.Expr], Sequence[sp.Expr]], sp.Expr]
    latex: str
    title: str


def _half_sse(targets, outputs):
    return sp.Add(*[sp.Rational(1, 2) * (y - yhat) ** 2 for y, yhat in zip(targets, outputs)])


def _mse(targets, outputs):
    return sp.Add(*[(y - yhat) ** 2 for y, yhat in zip(targets, outputs)]) / len(outputs)


def _binary_cross_entropy(targets, outputs):
    return -sp.Add(*[y * sp.log(yhat) + (1 - y) * sp.log(1 - yhat) for y, yhat in zip(targets, outputs)])


def _categorical_cross_entropy(targets, outputs):
    return -sp.Add(*[y * sp.log(yhat) for y, yhat in zip(targets, outputs)])


COST_TABLE: dict[str, Cost] = {
    "half_sse": Cost("half_sse", _half_sse, r"\sum_k \tfrac{1}{2}\,(y_k - \hat{y}_k)^2",
                     "half sum of squared errors"),
    "mse": Cost("mse", _mse, r"\frac{1}{K}\sum_k (y_k - \hat{y}_k)^2", "mean squared error"),
    "binary_cross_entropy": Cost(
        "binary_cross_entropy", _binary_cross_entropy,
        r"-\sum_k \bigl[y_k \log \hat{y}_k + (1 - y_k)\log(1 - \hat{y}_k)\bigr]",
        "binary cross-entropy"),
    "categorical_cross_entropy": Cost(
        "categorical_cross_entropy", _categorical_cross_entropy, r"-\sum_k y_k \log \hat{y}_k",
        "categorical cross-entropy"),
}


def cost(name: str) -> Cost:
    return COST_TABLE[name]


def reduction_factor(reduction: str, m: int) -> sp.Expr:
    """The factor in front of the sum over examples: 1 for "sum", 1/m for "mean"."""
    return sp.Integer(1) if reduction == "sum" else sp.Rational(1, m)
