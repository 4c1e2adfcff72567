"""A network with batch norm and layer norm, forward and backward, by hand in NumPy.

NumPy only (and the hand-written norm layers of checks/handwritten/normalization.py, NumPy only
too): the independent route the chained derived backward is compared with. A net is a list of
plain tuples, examples in rows:

    ("dense", "W1", "b1")          H = A W + 1 b
    ("batchnorm", "gamma1", "beta1") / ("layernorm", "gamma1", "beta1")
    ("sigmoid",) ("tanh",) ("relu",) ("identity",)   entrywise
    ("softmax",)                   per example; the last layer only, with categorical cross-entropy

The backward is the textbook recursion written out: output delta, then each layer's own backward.
"""

from __future__ import annotations

import numpy as np

from checks.handwritten import normalization

NORMS = {"batchnorm": "batch", "layernorm": "layer"}


def _activation(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "identity":
        return z.copy()
    if name == "softmax":
        shifted = np.exp(z - z.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
    raise ValueError(f"no hand-written activation {name!r}")


def _activation_slope(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return (z > 0).astype(float)  # 0 at z = 0, as PyTorch
    if name == "identity":
        return np.ones_like(z)
    raise ValueError(f"no hand-written derivative for {name!r}")


def forward(layers, X, params, eps=1e-5, unbiased=False):
    """The output and a cache per layer: (its input, its output, the norm's cache or None)."""
    value, caches = np.asarray(X, dtype=float), []
    for layer in layers:
        kind = layer[0]
        if kind == "dense":
            W, b = params[layer[1]], params[layer[2]]
            out = value @ W + np.ones((value.shape[0], 1)) @ np.reshape(b, (1, -1))
            caches.append((value, out, None))
        elif kind in NORMS:
            out, cache = normalization.forward(NORMS[kind], value, params[layer[1]], params[layer[2]], eps, unbiased)
            caches.append((value, out, cache))
        else:
            out = _activation(kind, value)
            caches.append((value, out, None))
        value = out
    return value, caches


def cost(layers, X, params, Y, cost_name="half_sse", reduction="sum", eps=1e-5, unbiased=False) -> float:
    """J of the net's output against the targets Y."""
    Yhat, _ = forward(layers, X, params, eps, unbiased)
    Y = np.asarray(Y, dtype=float)
    if cost_name == "half_sse":
        losses = 0.5 * ((Y - Yhat) ** 2).sum(axis=1)
    elif cost_name == "mse":
        losses = ((Y - Yhat) ** 2).mean(axis=1)
    elif cost_name == "binary_cross_entropy":
        losses = -(Y * np.log(Yhat) + (1 - Y) * np.log(1 - Yhat)).sum(axis=1)
    elif cost_name == "categorical_cross_entropy":
        losses = -(Y * np.log(Yhat)).sum(axis=1)
    else:
        raise ValueError(f"no hand-written cost {cost_name!r}")
    return float(losses.sum() / (len(losses) if reduction == "mean" else 1))


def _cost_slope(cost_name: str, Y: np.ndarray, Yhat: np.ndarray) -> np.ndarray:
    """dJ/dYhat of the summed cost."""
    if cost_name == "half_sse":
        return Yhat - Y
    if cost_name == "mse":
        return 2 * (Yhat - Y) / Y.shape[1]
    if cost_name == "binary_cross_entropy":
        return (Yhat - Y) / (Yhat * (1 - Yhat))
    if cost_name == "categorical_cross_entropy":
        return -Y / Yhat
    raise ValueError(f"no hand-written cost {cost_name!r}")


def backward(layers, X, params, Y, cost_name="half_sse", reduction="sum", eps=1e-5, unbiased=False) -> dict:
    """dJ/d(each parameter), walking the layers from the output down."""
    Yhat, caches = forward(layers, X, params, eps, unbiased)
    Y = np.asarray(Y, dtype=float)
    scale = 1.0 / Y.shape[0] if reduction == "mean" else 1.0
    grads = {}
    if layers[-1][0] == "softmax":
        # softmax with cross-entropy: dJ/dz = yhat - y when each row of Y sums to 1
        upstream = scale * (Yhat - Y)
        remaining = layers[:-1]
    else:
        upstream = scale * _cost_slope(cost_name, Y, Yhat)
        remaining = layers
    for layer, (below, out, cache) in zip(reversed(remaining), reversed(caches[:len(remaining)])):
        kind = layer[0]
        if kind == "dense":
            W = params[layer[1]]
            grads[layer[1]] = below.T @ upstream
            grads[layer[2]] = upstream.sum(axis=0, keepdims=True).reshape(np.shape(params[layer[2]]))
            upstream = upstream @ W.T
        elif kind in NORMS:
            dX, dgamma, dbeta = normalization.backward(upstream, cache)
            grads[layer[1]] = dgamma.reshape(np.shape(params[layer[1]]))
            grads[layer[2]] = dbeta.reshape(np.shape(params[layer[2]]))
            upstream = dX
        else:
            upstream = upstream * _activation_slope(kind, below, out)
    return grads


def finite_differences(layers, X, params, Y, cost_name="half_sse", reduction="sum", eps=1e-5, unbiased=False,
                       step=normalization.FINITE_DIFFERENCE_STEP) -> dict:
    """dJ/d(each parameter) by the five-point stencil of checks/handwritten/normalization.py."""
    params = {name: np.array(value, dtype=float) for name, value in params.items()}
    grads = {}
    for name, array in params.items():
        gradient = np.zeros_like(array)
        for index in np.ndindex(*array.shape):
            saved = array[index]
            total = 0.0
            for multiple, weight in normalization.STENCIL:
                array[index] = saved + multiple * step
                total += weight * cost(layers, X, params, Y, cost_name, reduction, eps, unbiased)
            array[index] = saved
            gradient[index] = total / (12 * step)
        grads[name] = gradient
    return grads
