"""Collapsing Kronecker deltas in indexed sums: the rules that make SymPy's index calculus usable.

SymPy differentiates an indexed sum happily (d x[k, j] / d x[p, q] = [k = p][j = q]) but its own
`doit` crashes at symbolic sizes and `simplify` collapses nothing (measured, see the project notes). So a sum of products
is held here as a list of `Term`s, each a monomial with its own summation indices, and the rules
are applied by hand:

1. expand, and give every summation index a fresh name (sums never share an index);
2. a delta [k = p] with k summed sets k = p and drops the sum over k; the range condition on p
   is dropped because p is the index of an entry and so in range;
3. a sum whose index no longer appears is a factor N (or D);
4. what is left of each term is a product of factors depending on one summation index each:
   each such sum gets one canonical index name and becomes a placeholder symbol, so equal sums
   cancel when the placeholders are collected (`Sum(x[k]) - Sum(x[m])` does not cancel in SymPy);
5. a sum that a forward-pass definition names (sum_k x[k, j] = N mu[j]) is replaced by it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import sympy as sp

from derive.backward.kronecker import sum_out_deltas

ROW, COL = "row", "col"
N, D = sp.symbols("N D", integer=True, positive=True)
SIZE = {ROW: N, COL: D}
CANONICAL = {ROW: sp.Symbol("k", integer=True), COL: sp.Symbol("l", integer=True)}

_fresh_numbers = itertools.count()


def fresh_index(axis: str) -> sp.Symbol:
    return sp.Symbol(f"{CANONICAL[axis].name}_{next(_fresh_numbers)}", integer=True)


def axis_of_limit(upper: sp.Expr) -> str:
    for axis, size in SIZE.items():
        if sp.expand(upper - (size - 1)) == 0:
            return axis
    raise ValueError(f"a sum must run over 0..N-1 or 0..D-1, not up to {upper}")


@dataclass(frozen=True)
class Term:
    """coefficient summed over indices; coefficient is a product of factors, no Sum inside."""

    coefficient: sp.Expr
    indices: tuple[tuple[sp.Symbol, str], ...] = ()


def to_terms(expression: sp.Expr) -> list[Term]:
    """An expression with nested Sums as a flat list of monomial Terms (rule 1)."""
    return _terms(sp.expand(expression))  # expand is deep: it reaches inside every Sum too


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
            axis = axis_of_limit(high)
            new = fresh_index(axis)
            function = function.xreplace({index: new})
            indices.append((new, axis))
        return [Term(t.coefficient, t.indices + tuple(indices)) for t in to_terms(function)]
    if isinstance(expression, sp.Pow) and expression.has(sp.Sum):
        if not (expression.exp.is_Integer and expression.exp > 0):
            raise ValueError(f"cannot expand a sum raised to {expression.exp}: name it first")
        return _terms(sp.Mul(*([expression.base] * int(expression.exp)), evaluate=False))
    return [Term(expression)]


def collapse(term: Term) -> Term:
    """Rules 2 and 3: sum out every Kronecker delta on a summation index, then count empty sums."""
    coefficient, indices = term.coefficient, dict(term.indices)
    coefficient = sum_out_deltas(coefficient, indices)
    for index, axis in list(indices.items()):
        if not coefficient.has(index):
            coefficient *= SIZE[axis]
            del indices[index]
    return Term(coefficient, tuple(indices.items()))


@dataclass(frozen=True)
class SumRule:
    """sum over axis of body(canonical index, w) equals value(w): a definition of the forward pass."""

    says: str
    body: sp.Expr  # in CANONICAL[axis] and the Wild WILD
    axis: str
    value: sp.Expr  # in WILD


WILD = sp.Wild("w")


@dataclass
class Placeholders:
    """Each distinct sum (canonical index) as one symbol, so that equal sums cancel (rule 4)."""

    groups: dict[sp.Symbol, tuple[sp.Expr, str]] = field(default_factory=dict)
    _by_key: dict = field(default_factory=dict)

    def symbol(self, group: sp.Expr, axis: str) -> sp.Symbol:
        key = (group, axis)
        if key not in self._by_key:
            symbol = sp.Symbol(f"Sum{len(self._by_key)}")
            self._by_key[key] = symbol
            self.groups[symbol] = key
        return self._by_key[key]

    def as_sums(self, expression: sp.Expr) -> sp.Expr:
        """Placeholders back to readable SymPy Sums (for write-ups, not for further algebra)."""
        return expression.xreplace({
            symbol: sp.Sum(group, (CANONICAL[axis], 0, SIZE[axis] - 1))
            for symbol, (group, axis) in self.groups.items()})

    def to_terms(self, expression: sp.Expr) -> list[Term]:
        """A placeholder expression back to Terms, each sum with a fresh index."""
        terms = []
        for monomial in sp.Add.make_args(sp.expand(expression)):
            coefficient, indices = sp.Integer(1), []
            for factor in sp.Mul.make_args(monomial):
                base, exponent = factor.as_base_exp()
                if base in self.groups:
                    group, axis = self.groups[base]
                    for _ in range(int(exponent)):
                        new = fresh_index(axis)
                        coefficient *= group.xreplace({CANONICAL[axis]: new})
                        indices.append((new, axis))
                else:
                    coefficient *= factor
            terms.append(Term(coefficient, tuple(indices)))
        return terms


def with_placeholders(terms: list[Term], placeholders: Placeholders, rules: tuple[SumRule, ...] = ()) -> sp.Expr:
    """Terms as one SymPy expression, each sum a placeholder or what a rule says it equals (rules 4, 5)."""
    total = sp.Integer(0)
    for term in terms:
        term = collapse(term)
        remaining = list(sp.Mul.make_args(term.coefficient))
        value = sp.Integer(1)
        for index, axis in term.indices:
            inside = [f for f in remaining if f.has(index)]
            remaining = [f for f in remaining if not f.has(index)]
            group = sp.Mul(*inside).xreplace({index: CANONICAL[axis]})
            if any(group.has(other) for other, _ in term.indices if other != index):
                raise ValueError(f"a summand couples two summation indices: {group}")
            value *= _named_sum(group, axis, rules, placeholders)
        total += sp.Mul(*remaining) * value
    return sp.expand(total)


def _named_sum(group: sp.Expr, axis: str, rules: tuple[SumRule, ...], placeholders: Placeholders) -> sp.Expr:
    for rule in rules:
        if rule.axis != axis:
            continue
        match = group.match(rule.body)
        if match is not None and WILD in match:
            return rule.value.xreplace({WILD: match[WILD]})
    return placeholders.symbol(group, axis)


def substitute(terms: list[Term], replace) -> list[Term]:
    """Apply replace(coefficient) to each term and re-expand into monomials, keeping the sums."""
    result = []
    for term in terms:
        for monomial in sp.Add.make_args(sp.expand(replace(term.coefficient))):
            result.append(Term(monomial, term.indices))
    return result
