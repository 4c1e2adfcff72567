"""Planted mistakes in derived normalisation gradients, for showing that each proof catches them.

Each takes a NormalizationGradients and returns a copy with one gradient made wrong the way people
get it wrong: the path through the mean forgotten, the path through the variance forgotten, or a
whole gradient replaced.
"""

from __future__ import annotations

import dataclasses

from derive.normalization import matrix_expression as mx


def _bracket(node: mx.Node) -> tuple[mx.Product, int]:
    """The product holding the Add of dX's bracket, and the Add's position in it."""
    for position, factor in enumerate(node.factors):
        if isinstance(factor, mx.Add):
            return node, position
    raise AssertionError("dX has no bracket")


def without_term(gradients, keep):
    """dX with the bracket's terms filtered by keep(term) (e.g. the mu-path term dropped)."""
    product, position = _bracket(gradients.dX.matrix)
    bracket = product.factors[position]
    terms = tuple(t for t in bracket.terms if keep(t))
    assert len(terms) == len(bracket.terms) - 1, "exactly one term must be dropped"
    factors = product.factors[:position] + (mx.Add(terms),) + product.factors[position + 1:]
    return dataclasses.replace(gradients, dX=dataclasses.replace(gradients.dX, matrix=mx.Product(factors)))


def is_mean_path_term(term) -> bool:
    """-1 1^T G (batch) or -(gamma G) 1 1^T (layer): a sum with no X_hat in it."""
    return bool(mx.leaves(term) & {"G"}) and "Xhat" not in mx.leaves(term) and any(
        isinstance(f, mx.AxisSum) for f in getattr(term, "factors", ()))


def mean_path_dropped(gradients):
    """dX without its -1 1^T G term: the chain rule through mu forgotten."""
    return without_term(gradients, lambda t: not is_mean_path_term(t))


def variance_path_dropped(gradients):
    """dX without its -X_hat 1 1^T (G X_hat) term: the chain rule through sigma^2 forgotten."""
    return without_term(gradients, lambda t: not ("Xhat" in mx.leaves(t) and any(
        isinstance(f, mx.AxisSum) for f in getattr(t, "factors", ()))))


def with_gradient(gradients, name: str, matrix):
    """A copy with one gradient's matrix expression replaced."""
    gradient = getattr(gradients, name)
    return dataclasses.replace(gradients, **{name: dataclasses.replace(gradient, matrix=matrix)})
