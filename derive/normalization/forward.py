"""The forward pass of batch norm and layer norm in index notation, at symbolic sizes N x D.

Row convention: x[n, j] is feature j of example n. Batch norm takes its statistics per feature j
over the N examples, layer norm per example n over its D features:

    mu[t]    = (1/M) sum_k x[k, t]                (batch; layer: x[t, k])
    v[t]     = (1/M') sum_k (x[k, t] - mu[t])^2   (M' = M, or M - 1 for the unbiased variance)
    xhat     = (x - mu) / sqrt(v + epsilon)
    y[n, j]  = gamma[j] * xhat[n, j] + beta[j]

with M = N for batch norm and M = D for layer norm. This is the only place the layer is written
down; every gradient is found from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from derive.normalization.index_calculus import CANONICAL, COL, ROW, SIZE, WILD, SumRule

X, G = sp.IndexedBase("x"), sp.IndexedBase("G")
GAMMA, BETA = sp.IndexedBase("gamma"), sp.IndexedBase("beta")
MU, VAR, S, XHAT = sp.IndexedBase("mu"), sp.IndexedBase("v"), sp.IndexedBase("s"), sp.IndexedBase("xhat")
EPSILON = sp.Symbol("epsilon", positive=True)
_k = sp.Symbol("k_mean", integer=True)  # the forward pass's own summation index
_t = sp.Symbol("t_stat", integer=True)
_row, _col = sp.symbols("n_entry j_entry", integer=True)
HALF = sp.Rational(1, 2)
KINDS = ("batch", "layer")


@dataclass(frozen=True)
class NormalizationLayer:
    """Batch norm (kind="batch") or layer norm (kind="layer"), biased variance unless unbiased."""

    kind: str = "batch"
    unbiased: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown normalisation {self.kind!r}: use one of {', '.join(KINDS)}")

    @property
    def name(self) -> str:
        return "batch norm" if self.kind == "batch" else "layer norm"

    @property
    def reduced_axis(self) -> str:
        """the axis the statistics sum over: examples (rows) for batch norm, features for layer norm."""
        return ROW if self.kind == "batch" else COL

    @property
    def statistic_axis(self) -> str:
        return COL if self.kind == "batch" else ROW

    @property
    def count(self) -> sp.Symbol:
        return SIZE[self.reduced_axis]

    def statistic_index(self, row, col):
        return col if self.kind == "batch" else row

    def along(self, reduced, statistic) -> tuple:
        """the (row, col) of the reduced-th entry that statistic number `statistic` averages."""
        return (reduced, statistic) if self.kind == "batch" else (statistic, reduced)

    def mean(self, t) -> sp.Expr:
        return sp.Sum(X[self.along(_k, t)], (_k, 0, self.count - 1)) / self.count

    def variance(self, t) -> sp.Expr:
        divisor = self.count - 1 if self.unbiased else self.count
        return sp.Sum((X[self.along(_k, t)] - MU[t]) ** 2, (_k, 0, self.count - 1)) / divisor

    def normalised(self, n, j) -> sp.Expr:
        t = self.statistic_index(n, j)
        return (X[n, j] - MU[t]) * (VAR[t] + EPSILON) ** -HALF

    def output(self, n, j) -> sp.Expr:
        return GAMMA[j] * self.normalised(n, j) + BETA[j]

    # -- facts that follow from the definitions, used to collapse sums --

    def mean_rule(self) -> SumRule:
        """sum_k x[k, t] = M mu[t], read off the definition of mu."""
        definition = self.mean(_t)
        total = next(a for a in sp.Mul.make_args(definition) if isinstance(a, sp.Sum))
        value = MU[_t] * total / definition  # mu = c * Sum  =>  Sum = mu / c
        body = total.function.subs({_k: CANONICAL[self.reduced_axis], _t: WILD})
        return SumRule(f"sum_k x = {sp.sstr(value)} (definition of mu)", body, self.reduced_axis,
                       value.subs(_t, WILD))

    @lru_cache(maxsize=None)
    def centred_rule(self) -> SumRule:
        """sum_k xhat[k, t] = 0: the mean rule with x = mu + s xhat, solved for the sum of xhat."""
        rule = self.mean_rule()
        unknown = sp.Symbol("sum_xhat")
        substituted = self.to_statistics(rule.body.subs(WILD, _t))  # mu[t] + s[t] xhat[.., t]
        summed = sp.expand(substituted).subs(XHAT[self.along(CANONICAL[self.reduced_axis], _t)], unknown)
        # every other factor is constant in k, so the sum multiplies it by M, except xhat itself
        total = sum(arg * (1 if arg.has(unknown) else self.count) for arg in sp.Add.make_args(summed))
        equation = sp.expand(total - rule.value.subs(WILD, _t))  # linear in the unknown sum
        value = sp.expand(-equation.xreplace({unknown: 0}) / equation.coeff(unknown))
        body = XHAT[self.along(CANONICAL[self.reduced_axis], WILD)]
        return SumRule(f"sum_k xhat = {value} (x = mu + s xhat and the mean rule)", body,
                       self.reduced_axis, (sp.Integer(0) + value).subs(_t, WILD))

    def name_root(self, expression: sp.Expr) -> sp.Expr:
        """(v + epsilon)^e -> s^(2e), with s = sqrt(v + epsilon) > 0 (before expanding: SymPy
        would otherwise split (v + eps)^(3/2) into (v + eps) sqrt(v + eps) and distribute it)."""
        def root(power):
            base = power.base
            for variance in base.atoms(sp.Indexed):
                if variance.base == VAR:
                    t = variance.indices[0]
                    if sp.expand(base.subs(variance, S[t] ** 2 - EPSILON) - S[t] ** 2) == 0:
                        return S[t] ** (2 * power.exp)
            return power

        return expression.replace(lambda e: isinstance(e, sp.Pow) and e.base.has(VAR), root)

    def name_xhat(self, expression: sp.Expr) -> sp.Expr:
        """x -> mu + s xhat, solved from xhat = (x - mu) / s."""
        n, j = _row, _col
        solved = self._x_in_statistics()

        def entry(indexed):
            return solved.xreplace(dict(zip((n, j), indexed.indices)))

        return expression.replace(lambda e: isinstance(e, sp.Indexed) and e.base == X, entry)

    @lru_cache(maxsize=None)
    def _x_in_statistics(self) -> sp.Expr:
        """x[n, j] solved from xhat[n, j] = (x[n, j] - mu) / s (linear in x), once, at generic indices."""
        t = self.statistic_index(_row, _col)
        x = X[_row, _col]
        equation = sp.expand(XHAT[_row, _col] - (x - MU[t]) / S[t])  # = a x + b, linear in x
        a, b = equation.coeff(x), equation.xreplace({x: 0})
        return sp.expand(-b / a)

    def to_statistics(self, expression: sp.Expr) -> sp.Expr:
        """Rewrite in xhat and s = sqrt(v + epsilon)."""
        return self.name_xhat(self.name_root(expression))
