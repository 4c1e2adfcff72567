"""Summing out Kronecker deltas: the step every family's index calculus shares (rule 2).

sum_j [j = i] f(j) = f(i): a delta between a summation index and anything else is summed out by
substituting the other side for the index, which then leaves the sum. Each family keeps its own
terms (what a summation index ranges over differs: an axis name, a size, a (low, high) pair); this
is only the substitution, applied until no delta on a summation index is left.
"""

from __future__ import annotations

from typing import MutableMapping

import sympy as sp


def sum_out_deltas(coefficient: sp.Expr, summed: MutableMapping) -> sp.Expr:
    """`coefficient` with every Kronecker delta on an index of `summed` summed out.

    summed maps each summation index to what it ranges over; the indices summed out are deleted
    from it. Substituting rebuilds the product, so a delta that became [p = p] is 1.
    """
    progressed = True
    while progressed:
        progressed = False
        for delta in sp.Mul.make_args(coefficient):
            if not isinstance(delta, sp.KroneckerDelta):
                continue
            a, b = delta.args
            bound, other = (a, b) if a in summed else (b, a) if b in summed else (None, None)
            if bound is None:
                continue
            coefficient = coefficient.xreplace({bound: other})
            del summed[bound]
            progressed = True
            break
    return coefficient
