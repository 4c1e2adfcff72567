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


# ---------------------------------------------------------------- issue 13's catalogue
# The six mistakes people make in a hand-written batch-norm backward, each as an edit of the
# derived formula, so that `backprop verify --layer` can name the one that reproduces a
# function's numbers. Each edit takes and returns NormalizationGradients.


def _replace_leaves(node, renames: dict):
    """node with Leaf names renamed (keeping shapes)."""
    if isinstance(node, mx.Leaf):
        return mx.Leaf(renames.get(node.name, node.name), node.shape)
    if isinstance(node, mx.Product):
        return mx.Product(tuple(_replace_leaves(f, renames) for f in node.factors))
    if isinstance(node, mx.Add):
        return mx.Add(tuple(_replace_leaves(t, renames) for t in node.terms))
    if isinstance(node, mx.Power):
        return mx.Power(_replace_leaves(node.base, renames), node.exponent)
    if isinstance(node, mx.AxisSum):
        return mx.AxisSum(_replace_leaves(node.argument, renames), node.axis, node.broadcast)
    return node


def unbiased_in_backward(gradients):
    """dX of the 1/(M-1) variance, evaluated at the 1/M forward's statistics: the backward divides
    dsigma^2's spread by M - 1 where the forward averaged over M (the sigma^2 term grows by M/(M-1))."""
    from derive.normalization.derivation import derive_normalization

    if gradients.layer.unbiased:
        raise ValueError("the forward already uses 1/(M-1): there is no 1/(M-1) mistake to plant")
    unbiased = derive_normalization(gradients.layer.kind, unbiased=True)
    return with_gradient(gradients, "dX", unbiased.dX.matrix)


def dgamma_with_x(gradients):
    """dgamma = 1^T (G * X): the raw input where x_hat belongs."""
    return with_gradient(gradients, "dgamma", _replace_leaves(gradients.dgamma.matrix, {"Xhat": "X"}))


def wrong_axis(gradients):
    """Every gradient of the other normalisation: statistics over axis 1 for batch norm (layer
    norm's), over axis 0 for layer norm (batch norm's)."""
    from derive.normalization.derivation import derive_normalization

    other = "layer" if gradients.layer.kind == "batch" else "batch"
    return derive_normalization(other, gradients.layer.unbiased)


def epsilon_left_out(gradients):
    """dX with sqrt(sigma^2) where the forward has sqrt(sigma^2 + epsilon): the backward works in
    x - mu and divides by sqrt(sigma^2), so dX reads s and x_hat = (x - mu) / s without epsilon;
    dgamma keeps the forward's x_hat."""
    renames = {"s": "s_without_epsilon", "Xhat": "Xhat_without_epsilon"}
    return with_gradient(gradients, "dX", _replace_leaves(gradients.dX.matrix, renames))


def epsilon_left_out_everywhere(gradients):
    """Every gradient as if the forward had no epsilon: s and x_hat recomputed without it."""
    renames = {"s": "s_without_epsilon", "Xhat": "Xhat_without_epsilon"}
    for name in ("dX", "dgamma"):
        gradients = with_gradient(gradients, name, _replace_leaves(getattr(gradients, name).matrix, renames))
    return gradients


# (name, what the person did, edit): the order `verify` reports them in
CATALOGUE = (
    ("mean path dropped", "the path through mu is missing from dx (no -1 1^T G / N term)", mean_path_dropped),
    ("variance path dropped", "the path through sigma^2 is missing from dx (no x_hat 1^T (G x_hat) / N term)",
     variance_path_dropped),
    ("1/(N-1) in the backward", "the backward spreads dsigma^2 with 1/(N-1) where the forward averaged with 1/N",
     unbiased_in_backward),
    ("dgamma with x", "dgamma sums G * x where it should sum G * x_hat", dgamma_with_x),
    ("wrong axis", "the statistics are taken along the wrong axis (batch norm and layer norm confused)",
     wrong_axis),
    ("epsilon left out of the backward", "dx divides by sqrt(sigma^2) where the forward has sqrt(sigma^2 + eps)",
     epsilon_left_out),
    ("epsilon left out of the backward", "dx and dgamma use s and x_hat recomputed without eps",
     epsilon_left_out_everywhere),
)
