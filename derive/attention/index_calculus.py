"""Index calculus for the attention block: chain-rule sums of products, Kronecker deltas summed out.

A chain-rule sum such as sum_{i,j} dP[i,j] dP[i,j]/dA[p,q] is held as a list of monomial `Term`s,
each with its own summation indices and their sizes (T tokens, d key width, ...), and collapsed by
three rules:

1. expand; every summation index gets a fresh name, so two sums never share one;
2. a delta [k = x] with k summed sets k = x and drops the sum over k (x is the index of an entry,
   so it is in range);
3. a sum whose index no longer appears multiplies the term by its size.

Unlike the normalisation layers' index calculus, sizes are not fixed to two axes: a sum's size is
read from its upper limit, so the same rules serve T x T scores and T x d values.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from derive.backward.kronecker import sum_out_deltas

_fresh_numbers = itertools.count()


def fresh_index(stem: str = "k") -> sp.Symbol:
    return sp.Symbol(f"{stem}_{next(_fresh_numbers)}", integer=True)


@dataclass(frozen=True)
class Term:
    """coefficient (a product with no Sum inside) summed over indices, each (index, size)."""

    coefficient: sp.Expr
    indices: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()


def to_terms(expression: sp.Expr) -> list[Term]:
    """An expression with nested Sums as a flat list of monomial Terms (rule 1)."""
    return _terms(sp.expand(expression))


def _terms(expression: sp.Expr) -> list[Term]:
    if isinstance(expression, sp.Add):
        return [term for argument in expression.args for term in _terms(argument)]
    if isinstance(expression, sp.Mul):
        product = [Term(sp.Integer(1))]
        for factor in expression.args:
            product = [Term(a.coefficient * b.coefficient, a.indices + b.indices)
                       for a in product for b in _terms(factor)]
        return product
    if isinstance(expression, sp.Sum):
        function, indices = expression.function, []
        for index, low, high in expression.limits:
            if low != 0:
                raise ValueError(f"a sum must start at 0, not at {low}")
            new = fresh_index(index.name[0])
            function = function.xreplace({index: new})
            indices.append((new, high + 1))
        return [Term(t.coefficient, t.indices + tuple(indices)) for t in to_terms(function)]
    if isinstance(expression, sp.Pow) and expression.has(sp.Sum):
        raise ValueError(f"a sum inside a power must be named before collapsing: {expression}")
    return [Term(expression)]


def collapse(term: Term) -> Term:
    """Rules 2 and 3: sum out every Kronecker delta on a summation index, then count empty sums."""
    coefficient, indices = term.coefficient, dict(term.indices)
    coefficient = sum_out_deltas(coefficient, indices)
    for index, size in list(indices.items()):
        if not coefficient.has(index):
            coefficient *= size
            del indices[index]
    if any(isinstance(f, sp.KroneckerDelta) for f in sp.Mul.make_args(coefficient)):
        raise ValueError(f"a delta between two free indices is left: {coefficient}")
    return Term(coefficient, tuple(indices.items()))


def collapse_all(expression: sp.Expr) -> list[Term]:
    """to_terms then collapse, dropping terms that are zero."""
    return [t for t in (collapse(term) for term in to_terms(expression)) if t.coefficient != 0]


def substitute(terms: list[Term], replace) -> list[Term]:
    """replace(coefficient) on each term, re-expanded into monomials, keeping the sums."""
    result = []
    for term in terms:
        for monomial in sp.Add.make_args(sp.expand(replace(term.coefficient))):
            if monomial != 0:
                result.append(Term(monomial, term.indices))
    return result


def as_sum(term: Term) -> sp.Expr:
    """A term as a readable SymPy expression (its sums as Sum), for write-ups."""
    expression = term.coefficient
    for index, size in term.indices:
        expression = sp.Sum(expression, (index, 0, size - 1))
    return expression


DISPLAY_INDICES = ("k", "l", "r", "s")


def renamed(term: Term) -> Term:
    """The term with its summation indices named k, l, ... in order: fresh names carry a process-wide
    counter, and a write-up (and the order SymPy sorts factors in) must not depend on it."""
    names = {index: sp.Symbol(DISPLAY_INDICES[n], integer=True) for n, (index, _) in enumerate(term.indices)}
    return Term(term.coefficient.xreplace(names), tuple((names[i], size) for i, size in term.indices))
