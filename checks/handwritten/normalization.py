"""Batch norm and layer norm by hand in NumPy: forward, staged backward, finite differences.

NumPy only (no SymPy, nothing from derive): this is the independent route the derived formulas
are compared with. The backward pass walks the forward's staged graph one node at a time
(cs231n style), so it shares no formula with the derivation:

    mu = mean(x); c = x - mu; v = sum(c^2) / M'; s = sqrt(v + eps); xhat = c / s; y = gamma xhat + beta

Row convention: X is N x D. Batch norm reduces over axis 0 (examples), layer norm over axis 1.
"""

from __future__ import annotations

import numpy as np

# cs231n-style check: rel_error(a, b) = max |a - b| / max(1e-8, |a| + |b|), entry by entry, so a
# small entry of dX (they sum to 0 over the batch, so some are small) sets the figure. The plain
# central difference at h = 1e-5 leaves eps |J| / h ~ 1e-10 |J| of rounding, 1e-7 relative on an
# entry of 1e-3. The five-point stencil (-J(+2h) + 8 J(+h) - 8 J(-h) + J(-2h)) / 12h has a
# truncation error ~h^4 J^(5) / 30, so h = 1e-3 balances it against eps |J| / h ~ 2e-13 |J|:
# agreeing formulas then reach ~1e-10, and a wrong one is off by order 1.
FINITE_DIFFERENCE_STEP = 1e-3
STENCIL = ((2, -1.0), (1, 8.0), (-1, -8.0), (-2, 1.0))  # (multiple of h, weight); divide by 12 h
REL_ERROR_FLOOR = 1e-8


class ReferenceInputError(ValueError):
    """Input for which the hand-written layer is undefined."""


def _axis(kind: str) -> int:
    if kind not in ("batch", "layer"):
        raise ReferenceInputError(f"unknown normalisation {kind!r}: use 'batch' or 'layer'")
    return 0 if kind == "batch" else 1


def _check(kind: str, X: np.ndarray, gamma: np.ndarray, unbiased: bool) -> None:
    if X.ndim != 2:
        raise ReferenceInputError(f"X must be N x D, got shape {X.shape}")
    N, D = X.shape
    if kind == "batch" and N < 2:
        raise ReferenceInputError(f"batch norm needs N >= 2 examples, got N = {N}: the variance of one example is 0")
    if kind == "layer" and D < 2:
        raise ReferenceInputError(f"layer norm needs D >= 2 features, got D = {D}: the variance of one feature is 0")
    if np.shape(gamma) not in ((D,), (1, D)):
        raise ReferenceInputError(f"gamma must have shape ({D},), got {np.shape(gamma)}")


def forward(kind, X, gamma, beta, epsilon=1e-5, unbiased=False):
    """Y and the cache the backward pass needs."""
    X = np.asarray(X, dtype=float)
    _check(kind, X, np.asarray(gamma), unbiased)
    axis = _axis(kind)
    M = X.shape[axis]
    divisor = M - 1 if unbiased else M
    gamma = np.asarray(gamma, dtype=float).reshape(1, -1)
    beta = np.asarray(beta, dtype=float).reshape(1, -1)
    mu = X.sum(axis=axis, keepdims=True) / M
    c = X - mu
    v = (c * c).sum(axis=axis, keepdims=True) / divisor
    s = np.sqrt(v + epsilon)
    xhat = c / s
    Y = gamma * xhat + beta
    return Y, (axis, M, divisor, gamma, c, s, xhat)


def backward(G, cache):
    """(dX, dgamma, dbeta) by walking the staged forward graph backwards."""
    axis, M, divisor, gamma, c, s, xhat = cache
    G = np.asarray(G, dtype=float)
    dbeta = G.sum(axis=0)
    dgamma = (G * xhat).sum(axis=0)
    dxhat = G * gamma
    dc = dxhat / s  # xhat = c * (1/s)
    dinv_s = (dxhat * c).sum(axis=axis, keepdims=True)
    ds = -dinv_s / s ** 2
    dv = ds / (2 * s)  # s = sqrt(v + eps)
    dc += 2 * c * dv / divisor  # v = sum(c^2) / M'
    dmu = -dc.sum(axis=axis, keepdims=True)  # c = x - mu
    dX = dc + dmu / M  # mu = sum(x) / M
    return dX, dgamma, dbeta


def cost(kind, X, gamma, beta, G, epsilon=1e-5, unbiased=False) -> float:
    """J = sum(G * Y): its gradient wrt Y is G."""
    return float((np.asarray(G) * forward(kind, X, gamma, beta, epsilon, unbiased)[0]).sum())


def finite_difference_gradients(kind, X, gamma, beta, G, epsilon=1e-5, unbiased=False, step=FINITE_DIFFERENCE_STEP):
    """(dX, dgamma, dbeta) by five-point central differences of cost, one entry at a time."""
    arrays = [np.array(X, dtype=float), np.array(gamma, dtype=float).reshape(-1), np.array(beta, dtype=float).reshape(-1)]
    result = []
    for which, array in enumerate(arrays):
        gradient = np.zeros_like(array)
        for index in np.ndindex(*array.shape):
            saved = array[index]
            total = 0.0
            for multiple, weight in STENCIL:
                array[index] = saved + multiple * step
                total += weight * cost(kind, *arrays, G, epsilon, unbiased)
            array[index] = saved
            gradient[index] = total / (12 * step)
        result.append(gradient)
    return tuple(result)


def rel_error(a, b) -> float:
    """cs231n's relative error: max |a - b| / max(floor, |a| + |b|)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(REL_ERROR_FLOOR, np.abs(a) + np.abs(b))))
