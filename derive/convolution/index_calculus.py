"""Collapsing Kronecker deltas whose index is a strided position: the rule convolution needs.

SymPy differentiates an indexed forward pass into Kronecker deltas: d X[n0, c0, i0 s + u0 - p]
/ d X[n, c, i] = [n0 = n] [c0 = c] [i0 s + u0 - p = i]. A sum over a bare index against a delta
collapses by substitution (the normalisation family's rule 2). The strided delta needs one more
rule: it is solved for the summed index whose coefficient is the stride,

    i0 = (i + p - u0) / s,

which is a term only where that quotient is whole and in the range of i0. The condition is kept
with the term (a `Condition`), so the collapsed sum says exactly where it has terms. Solving for
i0 rather than u0 is a choice: it keeps the sum over the kernel, which is how the backward pass is
written (and where the kernel's index u0 comes out with a minus sign: the flip).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

_fresh_numbers = itertools.count()


@dataclass(frozen=True)
class Index:
    """A summation index: its symbol, its role (the letter it is shown as) and its last value."""

    symbol: sp.Symbol
    role: str
    upper: sp.Expr  # inclusive: the index runs over 0..upper


def fresh(role: str, upper: sp.Expr) -> Index:
    return Index(sp.Symbol(f"{role}_{next(_fresh_numbers)}", integer=True), role, upper)


@dataclass(frozen=True)
class Condition:
    """[numerator / stride is whole and 0 <= numerator / stride <= upper]."""

    numerator: sp.Expr
    stride: sp.Expr
    upper: sp.Expr

    def holds(self, values: dict) -> bool:
        top = int(self.numerator.xreplace(values))
        stride = int(self.stride.xreplace(values))
        return top % stride == 0 and 0 <= top // stride <= int(self.upper.xreplace(values))

    def canonical(self) -> tuple:
        return (sp.expand(self.numerator), sp.expand(self.stride), sp.expand(self.upper))


@dataclass(frozen=True)
class Term:
    """coefficient summed over indices, counted only where every condition holds."""

    coefficient: sp.Expr
    indices: tuple[Index, ...] = ()
    conditions: tuple[Condition, ...] = ()


def expand_terms(expression: sp.Expr, indices: tuple[Index, ...]) -> list[Term]:
    """A sum of products (no Sum objects: the indices are given) as monomial Terms."""
    return [Term(monomial, indices) for monomial in sp.Add.make_args(sp.expand(expression)) if monomial != 0]


def _substitute(term: Term, index: Index, value: sp.Expr, condition: Condition | None) -> Term:
    coefficient = term.coefficient.xreplace({index.symbol: value})  # rebuilds: [i = i] becomes 1
    conditions = tuple(Condition(c.numerator.xreplace({index.symbol: value}), c.stride, c.upper)
                       for c in term.conditions)
    kept = tuple(i for i in term.indices if i != index)
    return Term(coefficient, kept, conditions + ((condition,) if condition is not None else ()))


def _bare_rule(term: Term, delta: sp.KroneckerDelta, entry_ranges: dict) -> Term | None:
    """[k = e] with k summed: k becomes e; the range of k is a condition unless e has the same range."""
    by_symbol = {i.symbol: i for i in term.indices}
    for bound, other in (delta.args, delta.args[::-1]):
        if bound in by_symbol:
            index = by_symbol[bound]
            same_range = other in entry_ranges and sp.expand(entry_ranges[other] - index.upper) == 0
            return _substitute(term, index, other, None if same_range else Condition(other, sp.Integer(1), index.upper))
    return None


def _strided_rule(term: Term, delta: sp.KroneckerDelta, prefer: tuple[str, ...]) -> Term | None:
    """[e = k s + rest] with k summed (k an output position, by preference): k = (e - rest) / s."""
    candidates = []
    for side, other in (delta.args, delta.args[::-1]):
        for index in term.indices:
            if not side.has(index.symbol) or other.has(index.symbol):
                continue
            stride = sp.expand(side).coeff(index.symbol)
            rest = sp.expand(side - stride * index.symbol)
            if stride == 0 or rest.has(index.symbol):
                continue
            rank = prefer.index(index.role) if index.role in prefer else len(prefer)
            candidates.append((rank, index.symbol.name, index, other - rest, stride))
    if not candidates:
        return None
    _, _, index, numerator, stride = min(candidates, key=lambda c: (c[0], c[1]))
    condition = Condition(sp.expand(numerator), stride, index.upper)
    return _substitute(term, index, numerator / stride, condition)


def collapse(term: Term, entry_ranges: dict, prefer: tuple[str, ...] = ("i", "j")) -> Term:
    """Sum out every Kronecker delta: bare indices first, then strided ones solved for `prefer`."""
    while True:
        deltas = [f for f in sp.Mul.make_args(term.coefficient) if isinstance(f, sp.KroneckerDelta)]
        if not deltas:
            return term
        progressed = next((t for t in (_bare_rule(term, d, entry_ranges) for d in deltas) if t is not None), None)
        if progressed is None:
            progressed = next((t for t in (_strided_rule(term, d, prefer) for d in deltas) if t is not None), None)
        if progressed is None:
            raise ValueError(f"a Kronecker delta with no summed index to solve for: {deltas[0]}")
        term = progressed


def canonical(term: Term, letters: dict[str, sp.Symbol]) -> Term:
    """Each remaining summation index renamed to its role's letter, indices in role order."""
    rename = {i.symbol: letters[i.role] for i in term.indices}
    if len(set(rename.values())) != len(rename):
        raise ValueError("two summation indices of one role are left: no canonical names")
    indices = tuple(sorted((Index(rename[i.symbol], i.role, i.upper) for i in term.indices),
                           key=lambda i: list(letters).index(i.role)))
    conditions = tuple(sorted((Condition(sp.expand(c.numerator.xreplace(rename)), c.stride, c.upper)
                               for c in term.conditions), key=lambda c: sp.srepr(c.numerator)))
    return Term(term.coefficient.xreplace(rename), indices, conditions)


def same_terms(first: list[Term], second: list[Term]) -> bool:
    """Equal as sums: the same canonical terms, as a multiset (coefficients compared by expand)."""
    def key(term: Term):
        return (tuple((i.role, sp.srepr(i.upper)) for i in term.indices),
                tuple(tuple(sp.srepr(x) for x in c.canonical()) for c in term.conditions))
    remaining = list(second)
    for term in first:
        match = next((other for other in remaining if key(other) == key(term)
                      and sp.expand(other.coefficient - term.coefficient) == 0), None)
        if match is None:
            return False
        remaining.remove(match)
    return not remaining
