"""Cost functions as a table: each cost is one entry (Cost), and every other module reads it.

The loss of one example is written over its output entries; adding a cost is adding an entry here
and its independent twin in checks/handwritten/network.py.

J = sum_n loss_n (reduction "sum") or (1/m) sum_n loss_n ("mean"), plus the L2 term
lambda/2 sum theta^2 over non-bias weights, divided by m for "mean" (Ng's lambda/(2m)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp

from derive.network.activations import ACTIVATION_TABLE, opaque_pair

L2_STRENGTH = sp.Symbol("lambda", positive=True)


@dataclass(frozen=True)
class Cost:
    """One cost: everything the tool knows of it, in one entry.

    Args:
        name: the table key.
        example_loss: (targets, outputs) of one example -> its loss.
        latex: the loss of one example in LaTeX, with y_k and \\hat{y}_k.
        title: a readable name.
        short: its name in folder names.
        outputs: the output activations it accepts (a log needs the output inside (0, 1); the
            generic f is accepted everywhere: a derivation for an unspecified f claims nothing
            about its range).
        gradient_text, total_text: dJ/dyhat of one example and the cost, as (plain text, LaTeX),
            for the network graph.
        canonical_output: the output activation whose f' cancels in delta(L), leaving yhat - y.
        seed000: seed 000's own cost (half SSE): the write-up compares with seed 000's formulas
            and, with one layer and one example, with the classic delta rule.
        remark: a sentence the write-up adds after J (a definition the loss relies on).
        quadratic_delta_mistake: the mistakes catalogue's key for keeping the quadratic cost's
            output delta (yhat - y) * f'(z) under this cost, where that is a mistake ("" where not).
        scalar: for a loss written through a scalar function of the residual r = yhat - y (Huber),
            that function's SymPy form, derivative, NumPy code ({x} the argument) and LaTeX; the loss uses it as the opaque function `name` (derive.network.activations.opaque_pair),
            as an activation is used, and the proofs substitute the concrete formulas.
    """

    name: str
    example_loss: Callable[[Sequence[sp.Expr], Sequence[sp.Expr]], sp.Expr]
    latex: str
    title: str
    short: str = ""
    outputs: tuple[str, ...] = ()
    gradient_text: tuple[str, str] = ("", "")
    total_text: tuple[str, str] = ("", "")
    canonical_output: str | None = None
    seed000: bool = False
    remark: str = ""
    quadratic_delta_mistake: str = ""
    scalar: "ScalarLoss | None" = None


@dataclass(frozen=True)
class ScalarLoss:
    """rho(r) of one residual r = yhat - y, for a loss sum_k rho(yhat_k - y_k) (see Cost.scalar)."""

    function: Callable[[sp.Expr], sp.Expr]
    derivative: Callable[[sp.Expr], sp.Expr]
    numpy_function: str
    numpy_derivative: str
    latex: str
    # points that cover each piece of a piecewise rho for the local proof: r -> expression in a
    # positive symbol s (1 + s covers r > 1, s/(1 + s) covers 0 < r < 1, ...)
    pieces: tuple[Callable[[sp.Expr], sp.Expr], ...] = ()


def _half_sse(targets, outputs):
    return sp.Add(*[sp.Rational(1, 2) * (y - yhat) ** 2 for y, yhat in zip(targets, outputs)])


def _mse(targets, outputs):
    return sp.Add(*[(y - yhat) ** 2 for y, yhat in zip(targets, outputs)]) / len(outputs)


def _binary_cross_entropy(targets, outputs):
    return -sp.Add(*[y * sp.log(yhat) + (1 - y) * sp.log(1 - yhat) for y, yhat in zip(targets, outputs)])


def _categorical_cross_entropy(targets, outputs):
    return -sp.Add(*[y * sp.log(yhat) for y, yhat in zip(targets, outputs)])


HUBER_DELTA = 1  # the Huber loss's threshold: quadratic for |r| <= 1, linear beyond


def _huber_function(r: sp.Expr) -> sp.Expr:
    return sp.Piecewise((r ** 2 / 2, sp.Abs(r) <= HUBER_DELTA), (sp.Abs(r) - sp.Rational(HUBER_DELTA, 2), True))


def _huber_derivative(r: sp.Expr) -> sp.Expr:
    # r clipped to [-1, 1]: continuous, so no kink convention is needed (rho'' jumps, rho' does not)
    return sp.Max(-HUBER_DELTA, sp.Min(HUBER_DELTA, r))


def _huber(targets, outputs):
    rho = opaque_pair("huber")[0]  # opaque, as an activation's f: the proofs substitute the formula
    return sp.Add(*[rho(yhat - y) for y, yhat in zip(targets, outputs)])


# A regression cost takes any output an activation of the table gives entry by entry (softmax couples
# an example's outputs and is for categorical cross-entropy only).
_REAL_OUTPUTS = tuple(name for name, entry in ACTIVATION_TABLE.items() if entry.is_elementwise)

COST_TABLE: dict[str, Cost] = {
    "half_sse": Cost("half_sse", _half_sse, r"\sum_k \tfrac{1}{2}\,(y_k - \hat{y}_k)^2",
                     "half sum of squared errors", short="sse", outputs=_REAL_OUTPUTS,
                     gradient_text=("−(y − ŷ)", r"-(y - \hat{y})"),
                     total_text=("Σ ½ (y − ŷ)²", r"\sum \tfrac{1}{2} (y - \hat{y})^2"), seed000=True,
                     remark=r"This is seed 000's $J = \sum \frac{1}{2} (y - \hat{y})^2$."),
    "mse": Cost("mse", _mse, r"\frac{1}{K}\sum_k (y_k - \hat{y}_k)^2", "mean squared error", short="mse",
                outputs=_REAL_OUTPUTS,
                gradient_text=("(2/K)(ŷ − y)", r"\tfrac{2}{K}(\hat{y} - y)"),
                total_text=("Σₙ (1/K) Σₖ (y − ŷ)²", r"\sum_n \tfrac{1}{K} \sum_k (y - \hat{y})^2")),
    "binary_cross_entropy": Cost(
        "binary_cross_entropy", _binary_cross_entropy,
        r"-\sum_k \bigl[y_k \log \hat{y}_k + (1 - y_k)\log(1 - \hat{y}_k)\bigr]",
        "binary cross-entropy", short="bce", outputs=("sigmoid", "f"),
        gradient_text=("−y/ŷ + (1 − y)/(1 − ŷ)", r"-y \oslash \hat{y} + (1 - y) \oslash (1 - \hat{y})"),
        total_text=("−Σ [y log ŷ + (1 − y) log(1 − ŷ)]", r"-\sum [y \log \hat{y} + (1 - y) \log(1 - \hat{y})]"),
        canonical_output="sigmoid", quadratic_delta_mistake="quadratic_delta_with_cross_entropy"),
    "categorical_cross_entropy": Cost(
        "categorical_cross_entropy", _categorical_cross_entropy, r"-\sum_k y_k \log \hat{y}_k",
        "categorical cross-entropy", short="cce", outputs=("softmax", "sigmoid", "f"),
        gradient_text=("−y/ŷ", r"-y \oslash \hat{y}"), total_text=("−Σ y log ŷ", r"-\sum y \log \hat{y}"),
        canonical_output="softmax", quadratic_delta_mistake="quadratic_delta_with_cross_entropy"),
    # Huber with delta = 1, summed over the outputs like half_sse: rho(r) = r^2/2 for |r| <= 1,
    # |r| - 1/2 beyond, r = yhat - y; dJ/dyhat = clip(r, -1, 1)
    "huber": Cost(
        "huber", _huber, r"\sum_k \operatorname{huber}(\hat{y}_k - y_k)", "Huber loss (delta 1)", short="huber",
        outputs=_REAL_OUTPUTS, quadratic_delta_mistake="residual_not_clipped",
        gradient_text=("clip(ŷ − y, −1, 1)", r"\operatorname{clip}(\hat{y} - y, -1, 1)"),
        total_text=("Σ huber(ŷ − y)", r"\sum \operatorname{huber}(\hat{y} - y)"),
        remark=r"Here $\operatorname{huber}(r) = \tfrac{1}{2} r^2$ for $|r| \le 1$ and $|r| - \tfrac{1}{2}$ "
               r"beyond, so $\operatorname{huber}'(r) = \operatorname{clip}(r, -1, 1)$, continuous: no "
               "convention is needed at the joins.",
        scalar=ScalarLoss(_huber_function, _huber_derivative,
                          numpy_function="numpy.where(numpy.abs({x}) <= 1, 0.5*{x}**2, numpy.abs({x}) - 0.5)",
                          numpy_derivative="numpy.clip({x}, -1.0, 1.0)", latex=r"\operatorname{huber}",
                          pieces=(lambda s: 1 + s, lambda s: -1 - s, lambda s: s / (1 + s), lambda s: -s / (1 + s),
                                  lambda s: sp.Integer(0), lambda s: sp.Integer(1), lambda s: sp.Integer(-1)))),
}
COSTS = tuple(COST_TABLE)
COST_ALIASES = {"sse": "half_sse", "bce": "binary_cross_entropy", "cce": "categorical_cross_entropy",
                "cross_entropy": "categorical_cross_entropy"}


def scalar_losses() -> dict[str, ScalarLoss]:
    """name -> the scalar function of each cost written through one (huber)."""
    return {name: entry.scalar for name, entry in COST_TABLE.items() if entry.scalar is not None}


def cost(name: str) -> Cost:
    return COST_TABLE[name]


def reduction_factor(reduction: str, m: int) -> sp.Expr:
    """The factor in front of the sum over examples: 1 for "sum", 1/m for "mean"."""
    return sp.Integer(1) if reduction == "sum" else sp.Rational(1, m)
