"""The derived normalisation gradients evaluated in float64 from X, gamma, G and epsilon."""

from __future__ import annotations

import numpy as np

from derive.normalization import matrix_expression as mx
from derive.normalization.derivation import NormalizationGradients
from derive.normalization.errors import InputShapeError, check_parameter_shape, check_sizes
from derive.normalization.forward import NormalizationLayer


def statistics(layer: NormalizationLayer, X: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """(s, X_hat): s = sqrt(var + epsilon) per statistic, kept 2-D so that it broadcasts."""
    axis = 0 if layer.kind == "batch" else 1
    count = X.shape[axis]
    mean = X.mean(axis=axis, keepdims=True)
    variance = ((X - mean) ** 2).sum(axis=axis, keepdims=True) / (count - 1 if layer.unbiased else count)
    s = np.sqrt(variance + epsilon)
    with np.errstate(divide="ignore", invalid="ignore"):  # epsilon = 0 for a planted mistake only
        return s, (X - mean) / s


def check_inputs(layer: NormalizationLayer, X, gamma, G=None) -> None:
    """Raise a NormalizationInputError if the layer is undefined for these arrays."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputShapeError(f"X must be a 2-D array (N examples x D features), got shape {X.shape}")
    if G is not None and np.shape(G) != X.shape:
        raise InputShapeError(f"G = dJ/dY must have the shape of X, {X.shape}, got {np.shape(G)}")
    check_sizes(layer.kind, X.shape[0], X.shape[1], layer.unbiased)
    check_parameter_shape("gamma", np.shape(gamma), X.shape[1])


def evaluate_gradients(gradients: NormalizationGradients, X, gamma, G, epsilon: float = 1e-5) -> dict[str, np.ndarray]:
    """dX (N x D), dgamma (D,) and dbeta (D,) from the derived matrix expressions, in float64.

    Raises:
        NormalizationInputError: N < 2 (batch norm), D < 2 (layer norm), gamma not (D,).
    """
    layer = gradients.layer
    check_inputs(layer, X, gamma, G)
    X, G = np.asarray(X, dtype=float), np.asarray(G, dtype=float)
    s, Xhat = statistics(layer, X, epsilon)
    values = {"G": G, "Xhat": Xhat, "gamma": np.asarray(gamma, dtype=float).reshape(1, -1), "s": s,
              "N": X.shape[0], "D": X.shape[1]}
    s_without_epsilon, Xhat_without_epsilon = statistics(layer, X, 0.0) if _reads_without_epsilon(gradients) \
        else (None, None)  # only a planted mistake reads these (mistakes.epsilon_left_out)
    values.update(X=X, s_without_epsilon=s_without_epsilon, Xhat_without_epsilon=Xhat_without_epsilon)
    result = {}
    for gradient in gradients.gradients:
        value = np.broadcast_to(mx.evaluate(gradient.matrix, values), X.shape if gradient.name == "dX" else (1, X.shape[1]))
        result[gradient.name] = np.array(value).reshape(X.shape) if gradient.name == "dX" else np.array(value).reshape(-1)
    return result


def _reads_without_epsilon(gradients: NormalizationGradients) -> bool:
    return any(mx.leaves(g.matrix) & {"s_without_epsilon", "Xhat_without_epsilon"} for g in gradients.gradients)
