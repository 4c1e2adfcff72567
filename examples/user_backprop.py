"""A hand-written backprop for seed 000's XOR net (2-3-1, sigmoid, J = sum 1/2 (y - yhat)^2), twice.

Both functions follow the contract of `backprop verify` (checks/diagnose/user_function.py) for the default
spec: called as fn(X, y, W1, W2) with X (4, 2), y (4, 1), W1 (2, 3), W2 (3, 1), they return
(dJ/dW1, dJ/dW2). `correct_backprop` passes; `buggy_backprop` has the mistake seed 000's code
invites: the derivative of the sigmoid evaluated at a = f(z) instead of at z.

    backprop verify examples/user_backprop.py:correct_backprop
    backprop verify examples/user_backprop.py:buggy_backprop
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return np.exp(-z) / (1.0 + np.exp(-z)) ** 2


def correct_backprop(X, y, W1, W2):
    z2 = X @ W1
    a2 = sigmoid(z2)
    z3 = a2 @ W2
    yhat = sigmoid(z3)
    delta3 = -(y - yhat) * sigmoid_prime(z3)
    dJdW2 = a2.T @ delta3
    delta2 = (delta3 @ W2.T) * sigmoid_prime(z2)
    dJdW1 = X.T @ delta2
    return dJdW1, dJdW2


def buggy_backprop(X, y, W1, W2):
    z2 = X @ W1
    a2 = sigmoid(z2)
    z3 = a2 @ W2
    yhat = sigmoid(z3)
    delta3 = -(y - yhat) * sigmoid_prime(z3)
    dJdW2 = a2.T @ delta3
    delta2 = (delta3 @ W2.T) * sigmoid_prime(a2)  # the bug: f'(a2) where f'(z2) belongs
    dJdW1 = X.T @ delta2
    return dJdW1, dJdW2
