"""Finding the matrix form of an entrywise chain-rule result by testing candidate products.

Given the chain rule's value at each entry and the factors at hand (delta and W, say), every
product A B, A B^T, A^T B, ..., A (.) B is tried in a fixed order: a candidate whose shape does
not fit is rejected for its shape; one whose entry differs is rejected at that named entry; the
first that equals the chain rule at every compared entry is the matrix form. The transpose in
delta W^T is therefore found, never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from derive.backward.matrix_ops import entry_of, is_zero
from derive.proofs.modular import nonzero_at_random_point


@dataclass(frozen=True)
class Candidate:
    """One candidate matrix form and why it was accepted or rejected."""

    expression: sp.MatrixExpr | None
    label: str  # how the candidate reads when its shapes do not even combine, e.g. "delta3 W2"
    accepted: bool
    reason: str
    entry: tuple[int, int] | None = None
    candidate_value: sp.Expr | None = None
    chain_rule_value: sp.Expr | None = None


@dataclass(frozen=True)
class MatrixForm:
    """The matrix form found for one step, with every candidate tried before it."""

    expression: sp.MatrixExpr
    candidates: tuple[Candidate, ...]
    compared_entries: int
    total_entries: int
    ambiguous: bool = False  # a later candidate matched too (possible only when a size is 1)

    @property
    def rejected(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if not c.accepted)


class NoMatrixForm(RuntimeError):
    """No candidate equals the chain rule: a bug in the derivation, never a user error."""


def _shape_text(shape) -> str:
    return f"{shape[0]}x{shape[1]}"


@lru_cache(maxsize=1024)  # each factor is named in eight candidates
def _name(expression: sp.MatrixExpr) -> str:
    # SymPy's printer costs ~0.3 ms a call; most factors are a symbol or its transpose
    if isinstance(expression, sp.MatrixSymbol):
        return expression.name
    if isinstance(expression, sp.Transpose) and isinstance(expression.arg, sp.MatrixSymbol):
        return f"{expression.arg.name}.T"
    return str(expression)


def _product_candidates(first: sp.MatrixExpr, second: sp.MatrixExpr):
    """Yields (label, builder) for the eight products of two factors and their Hadamard product."""
    for left, right in ((first, second), (second, first)):
        for transpose_left in (False, True):
            for transpose_right in (False, True):
                a = left.T if transpose_left else left
                b = right.T if transpose_right else right
                label = f"{_name(a)} {_name(b)}"
                yield label, "product", a, b
    yield f"{_name(first)} (.) {_name(second)}", "hadamard", first, second


def _combine(kind: str, a: sp.MatrixExpr, b: sp.MatrixExpr, target_shape) -> tuple[sp.MatrixExpr | None, str]:
    if kind == "product":
        if a.shape[1] != b.shape[0]:
            return None, f"shapes {_shape_text(a.shape)} and {_shape_text(b.shape)} do not multiply"
        expression = sp.MatMul(a, b)
    else:
        if a.shape != b.shape:
            return None, f"shapes {_shape_text(a.shape)} and {_shape_text(b.shape)} differ"
        expression = sp.HadamardProduct(a, b)
    if tuple(expression.shape) != tuple(target_shape):
        return None, f"gives {_shape_text(expression.shape)}, not {_shape_text(target_shape)}"
    return expression, ""


def find_matrix_form(target: dict[tuple[int, int], sp.Expr], target_shape: tuple[int, int],
                     candidates: list[tuple[str, sp.MatrixExpr | None, str]],
                     general: tuple[str, str] | None = None, known: dict | None = None) -> MatrixForm:
    """The first candidate equal to `target` at every entry it holds.

    Args:
        target: the chain rule's value at each compared entry.
        target_shape: the shape of the full matrix (target may hold a sample of its entries).
        candidates: (label, expression or None, shape reason) in the order to try them.
        general: (position in `candidates`, label, where) of the form found for the same step
            of a net with no size 1; when a size is 1 several products can agree (a 1 x 1 W
            equals its transpose), and only that one holds in general.
        known: each candidate's comparison with this same `target`, kept from an earlier search
            (derive_rule searches twice when a size is 1); filled in as candidates are compared.

    Raises:
        NoMatrixForm: none matches; the message lists why each was rejected.
    """
    known = {} if known is None else known

    def first_mismatch(expression):
        if expression not in known:
            known[expression] = _first_mismatch(expression, target)
        return known[expression]

    tried: list[Candidate] = []
    for position, (label, expression, shape_reason) in enumerate(candidates):
        if expression is None:
            tried.append(Candidate(None, label, False, shape_reason))
            continue
        mismatch = first_mismatch(expression)
        if mismatch is None and general is not None and position != general[0]:
            tried.append(Candidate(expression, label, False, f"equal here only because a size is 1; "
                                   f"it fails on {general[2]}, where {general[1]} holds"))
            continue
        if mismatch is None:
            tried.append(Candidate(expression, label, True,
                                   f"equals the chain rule at all {len(target)} compared entries"))
            ambiguous = general is None and any(
                later is not None and first_mismatch(later) is None
                for _, later, _ in candidates[position + 1:])
            return MatrixForm(expression, tuple(tried), len(target), target_shape[0] * target_shape[1],
                              ambiguous)
        position, candidate_value, chain_value = mismatch
        tried.append(Candidate(expression, label, False, f"unequal at entry {position}", position,
                               candidate_value, chain_value))
    reasons = "; ".join(f"{c.label}: {c.reason}" for c in tried)
    raise NoMatrixForm(f"no candidate matches the chain rule ({reasons})")


def product_candidates(first: sp.MatrixExpr, second: sp.MatrixExpr, target_shape) -> list:
    """The products of two factors, as (label, expression or None, shape reason)."""
    found = []
    for label, kind, a, b in _product_candidates(first, second):
        expression, reason = _combine(kind, a, b, target_shape)
        found.append((label, expression, reason))
    return found


def _first_mismatch(expression: sp.MatrixExpr, target: dict[tuple[int, int], sp.Expr]):
    for position in sorted(target):
        candidate_value = entry_of(expression, *position)
        if candidate_value == target[position]:
            continue
        difference = candidate_value - target[position]
        # a rejected candidate usually differs at its first entry: one non-zero value at a random
        # point proves that without expanding; only a zero there needs is_zero's exact answer
        if nonzero_at_random_point(difference) or not is_zero(difference):
            return position, candidate_value, target[position]
    return None
