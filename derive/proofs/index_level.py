"""Why the transpose appears, for every size at once: the chain rule in index notation.

SymPy differentiates one entry of z(l+1) = a(l) W(l) written as an indexed sum, with symbolic
sizes m (examples), N (units of layer l) and K (units of layer l+1):

    dJ/da[n, j] = sum_q sum_r delta[q, r] * dz[q, r]/da[n, j]
                = sum_q sum_r delta[q, r] * [q = n] W[j, r]
                = sum_r delta[n, r] W[j, r]  =  (delta W^T)[n, j].

The index j sits first on W but second on the result: that is the transpose. The same argument
gives dJ/dW[i, j] = sum_q a[q, i] delta[q, j] = (a^T delta)[i, j]; in column form W^T delta and
delta a^T. Each step is kept as data for the write-ups.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

m, N, K = sp.symbols("m N K", integer=True, positive=True)
n, j, i, q, r, p = sp.symbols("n j i q r p", integer=True, nonnegative=True)
DELTA, WEIGHTS, ACTIVATIONS = sp.IndexedBase("delta"), sp.IndexedBase("W"), sp.IndexedBase("a")


@dataclass(frozen=True)
class IndexStep:
    """One line of the argument: what it says and the expression it arrives at."""

    says: str
    expression: sp.Expr


@dataclass(frozen=True)
class IndexCandidate:
    label: str
    accepted: bool
    reason: str


@dataclass(frozen=True)
class IndexArgument:
    """The size-independent derivation of one matrix form."""

    convention: str
    quantity: str  # "dJ/da" or "dJ/dW"
    steps: tuple[IndexStep, ...]
    matrix_form: sp.MatrixExpr
    candidates: tuple[IndexCandidate, ...]

    @property
    def holds(self) -> bool:
        return any(c.accepted for c in self.candidates)


def _strip_in_range(expression: sp.Expr) -> sp.Expr:
    # SymPy keeps "if j <= N - 1" from summing a Kronecker delta over 0..N-1; every index of an
    # entry is in range, so the first branch is the value.
    return expression.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0][0])


def _collapse(expression: sp.Expr) -> sp.Expr:
    return sp.simplify(_strip_in_range(expression.doit()))


def _as_indexed(expression: sp.Expr) -> sp.Expr:
    """delta[n, k] of a MatrixSymbol as the Indexed delta[n, k] the argument is written in."""
    from sympy.matrices.expressions.matexpr import MatrixElement

    return expression.replace(lambda e: isinstance(e, MatrixElement),
                              lambda e: sp.IndexedBase(e.args[0].name)[e.args[1], e.args[2]])


def _same_sum(left: sp.Expr, right: sp.Expr) -> bool:
    """Two single sums equal term by term after naming their indices alike."""
    left, right = sp.expand(_as_indexed(left)), sp.expand(_as_indexed(right))
    if isinstance(left, sp.Sum) and isinstance(right, sp.Sum):
        (a, a_low, a_high), (b, b_low, b_high) = left.limits[0], right.limits[0]
        if (a_low, a_high) != (b_low, b_high):
            return False
        return sp.simplify(left.function - right.function.subs(b, a)) == 0
    return sp.simplify(left - right) == 0


def _candidates(first: sp.MatrixSymbol, second: sp.MatrixSymbol, target_shape, value, row, column):
    found = []
    for left, right in ((first, second), (second, first)):
        for a in (left, left.T):
            for b in (right, right.T):
                label = f"{a} {b}"
                if a.shape[1] != b.shape[0]:
                    found.append(IndexCandidate(label, False, f"inner sizes {a.shape[1]} and {b.shape[0]} "
                                                "differ: the shapes do not multiply in general"))
                    continue
                product = a * b
                if tuple(product.shape) != tuple(target_shape):
                    found.append(IndexCandidate(label, False, f"gives {product.shape[0]} x {product.shape[1]}, "
                                                f"not {target_shape[0]} x {target_shape[1]}"))
                    continue
                entry = _as_indexed(product[row, column])
                if _same_sum(entry, value):
                    found.append(IndexCandidate(label, True, f"entry ({row}, {column}) is {entry}"))
                    return tuple(found), product
                found.append(IndexCandidate(label, False, f"entry ({row}, {column}) is {entry}, "
                                            "not the chain rule's sum"))
    return tuple(found), None


@lru_cache(maxsize=8)
def index_argument(convention: str, quantity: str) -> IndexArgument:
    """The argument for dJ/da ("dJ/da") or dJ/dW ("dJ/dW") in "row" or "column" form."""
    row_form = convention == "row"
    # row form: z[q, r] = sum_p a[q, p] W[p, r]; column form: z[r, q] = sum_p W[r, p] a[p, q]
    z = sp.Sum(ACTIVATIONS[q, p] * WEIGHTS[p, r], (p, 0, N - 1)) if row_form \
        else sp.Sum(WEIGHTS[r, p] * ACTIVATIONS[p, q], (p, 0, N - 1))
    delta_entry = DELTA[q, r] if row_form else DELTA[r, q]
    if quantity == "dJ/da":
        variable = ACTIVATIONS[n, j] if row_form else ACTIVATIONS[j, n]
        position = (n, j) if row_form else (j, n)
        target_shape = (m, N) if row_form else (N, m)
    else:
        variable = WEIGHTS[i, j] if row_form else WEIGHTS[j, i]
        position = (i, j) if row_form else (j, i)
        target_shape = (N, K) if row_form else (K, N)
    local = _collapse(sp.diff(z, variable))
    # the index the Kronecker delta ties is summed first, so that sum is the one that collapses
    tied = q if any(q in kd.free_symbols for kd in local.atoms(sp.KroneckerDelta)) else r
    free = r if tied == q else q
    chain = sp.Sum(delta_entry * local, (tied, 0, (m if tied == q else K) - 1),
                   (free, 0, (m if free == q else K) - 1))
    collapsed = _collapse(chain)
    delta = sp.MatrixSymbol("delta", *((m, K) if row_form else (K, m)))
    other = sp.MatrixSymbol("W", *((N, K) if row_form else (K, N))) if quantity == "dJ/da" \
        else sp.MatrixSymbol("a", *((m, N) if row_form else (N, m)))
    first, second = (delta, other) if quantity == "dJ/da" else (other, delta)
    candidates, form = _candidates(first, second, target_shape, collapsed, *position)
    z_label = "z[q, r]" if row_form else "z[r, q]"
    steps = (
        IndexStep(f"one entry of the next layer's pre-activation, {z_label}", z),
        IndexStep(f"its local partial by {variable} (SymPy diff; the Kronecker deltas pick the "
                  "matching term)", local),
        IndexStep("chain rule: sum over every entry of z of delta times that partial", chain),
        IndexStep("the Kronecker delta collapses one sum", collapsed),
    )
    if form is not None:
        steps += (IndexStep(f"which is entry {position} of {form}", _as_indexed(form[position[0], position[1]])),)
    return IndexArgument(convention, quantity, steps, form, candidates)
