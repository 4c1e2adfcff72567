"""Kronecker deltas collapsed in indexed sums, and the step a consumer reads solved for.

SymPy differentiates an indexed sum (d h[s-1, k] / d h[t, p] = [t = s - 1][k = p]) but does not sum
the deltas out. Here an expression is held as monomial terms, each with its own summation limits:

1. expand, and give every summation index a fresh name (no two sums share one);
2. a delta [k = p] with k summed sets k = p and drops the sum over k (p is an entry, so in range);
3. a sum whose index no longer appears is a factor (its length);
4. for comparison, each surviving summation index is renamed canonically, so equal sums cancel.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from derive.backward.kronecker import sum_out_deltas

_fresh = itertools.count()


@dataclass(frozen=True)
class Term:
    """coefficient (a product, no Sum inside) summed over limits ((index, low, high), ...)."""

    coefficient: sp.Expr
    limits: tuple = ()

    def as_expr(self) -> sp.Expr:
        return sp.Sum(self.coefficient, *self.limits) if self.limits else self.coefficient


def fresh(stem: str = "k") -> sp.Symbol:
    return sp.Symbol(f"{stem}{next(_fresh)}", integer=True)


def to_terms(expression: sp.Expr) -> list[Term]:
    """Rule 1: nested sums of sums of products as flat monomial Terms with fresh indices."""
    expression = sp.expand(expression)
    if isinstance(expression, sp.Add):
        return [term for argument in expression.args for term in to_terms(argument)]
    if isinstance(expression, sp.Mul):
        product = [Term(sp.Integer(1))]
        for factor in expression.args:
            product = [Term(a.coefficient * b.coefficient, a.limits + b.limits)
                       for a in product for b in to_terms(factor)]
        return product
    if isinstance(expression, sp.Sum):
        function, limits = expression.function, []
        for index, low, high in expression.limits:
            new = fresh(index.name.split("_")[0][:1] or "k")
            function = function.xreplace({index: new})
            limits.append((new, low, high))
        return [Term(t.coefficient, t.limits + tuple(limits)) for t in to_terms(function)]
    return [Term(expression)]


def collapse_term(term: Term) -> Term:
    """Rules 2 and 3."""
    coefficient, limits = term.coefficient, {index: (low, high) for index, low, high in term.limits}
    coefficient = sum_out_deltas(coefficient, limits)
    for index, (low, high) in list(limits.items()):
        if not coefficient.has(index):
            coefficient *= high - low + 1
            del limits[index]
    return Term(coefficient, tuple((index, low, high) for index, (low, high) in limits.items()))


def collapse(expression: sp.Expr) -> list[Term]:
    """The expression's monomials with every Kronecker delta on a summed index summed out."""
    return [t for t in (collapse_term(term) for term in to_terms(expression)) if t.coefficient != 0]


def canonical(terms: list[Term]) -> sp.Expr:
    """Rule 4: the terms as one expression, summation indices renamed k_0, k_1, ... in each term and the
    number pulled out of each sum, so that two routes to the same sums cancel under subtraction."""
    total = sp.Integer(0)
    for term in terms:
        names = {index: sp.Symbol(f"k_{n}", integer=True) for n, (index, _, _) in enumerate(term.limits)}
        number, rest = term.coefficient.xreplace(names).as_coeff_Mul()
        limits = tuple((names[index], low, high) for index, low, high in term.limits)
        total += number * (sp.Sum(rest, *limits) if limits else rest)
    return total


def solve_step(read_at: sp.Expr, step: sp.Symbol, target: sp.Expr) -> sp.Expr:
    """The step `step` of a consumer that reads its input at `read_at`, solved so that it reads `target`:
    z at step s reads h at s - 1, so the z that reads h at t is z at s = t + 1."""
    solutions = sp.solve(sp.Eq(read_at, target), step)
    if len(solutions) != 1:
        raise ValueError(f"cannot solve {read_at} = {target} for {step}")
    return solutions[0]
