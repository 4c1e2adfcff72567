"""The speed reference: backprop as a person writes it by hand in NumPy, in the style of seed 000."""

# Row form, one hidden layer, sigmoid on both layers, half the sum of squared errors, bias
# vectors (1, n): the spec the speed table measures (parse_spec("n-h-k", bias="vector")). It
# computes what the derived route computes (J and every gradient) and nothing else: no input
# checks, no dictionaries of deltas. It imports NumPy only, and nothing of derive/ or checks/.
#
#   z2 = X W1 + b1, a2 = sigma(z2), z3 = a2 W2 + b2, yhat = sigma(z3), J = 1/2 sum (y - yhat)^2
#   delta3 = (yhat - y) * sigma'(z3),  delta2 = delta3 W2^T * sigma'(z2),  sigma' = a (1 - a)

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lean_backprop(W1, b1, W2, b2, X, y):
    """(J, {"W1": dJ/dW1, "b1": ..., "W2": ..., "b2": ...}) of the 2-layer sigmoid net, half-SSE.

    >>> X, y = np.array([[0.0, 1.0]]), np.array([[1.0]])
    >>> J, gradients = lean_backprop(np.zeros((2, 3)), np.zeros((1, 3)), np.zeros((3, 1)), np.zeros((1, 1)), X, y)
    >>> float(J), gradients["b2"].tolist()
    (0.125, [[-0.125]])
    """
    z2 = X @ W1 + b1
    a2 = sigmoid(z2)
    z3 = a2 @ W2 + b2
    yhat = sigmoid(z3)
    J = 0.5 * ((y - yhat) ** 2).sum()
    delta3 = (yhat - y) * yhat * (1 - yhat)
    delta2 = delta3 @ W2.T * a2 * (1 - a2)
    return J, {"W1": X.T @ delta2, "b1": delta2.sum(0, keepdims=True),
               "W2": a2.T @ delta3, "b2": delta3.sum(0, keepdims=True)}
