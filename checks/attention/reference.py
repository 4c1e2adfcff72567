"""Multi-head attention, the embedding and the residual by hand in NumPy: forward, backward, finite differences.

NumPy only (nothing from derive, no SymPy): the independent route the derived formulas are compared
with. The backward is written the way a person writes it, cache by cache (the softmax through its
Jacobian diag(p) - p p^T applied row by row, so it shares no formula with the compact derived form):

    Q, K, V = X W_q, X W_k, X W_v;  S = Q K^T / sqrt(d);  P = softmax(S masked);  O = P V
    Y = sum_h O_h W_o^h;  R = X + Y (residual);  E = C[tokens] (embedding)
"""

from __future__ import annotations

import numpy as np

FINITE_DIFFERENCE_STEP = 1e-3
STENCIL = ((2, -1.0), (1, 8.0), (-1, -8.0), (-2, 1.0))  # five-point central; divide by 12 h
REL_ERROR_FLOOR = 1e-8


def rel_error(a, b) -> float:
    """cs231n's max |a - b| / max(1e-8, |a| + |b|), entry by entry."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(REL_ERROR_FLOOR, np.abs(a) + np.abs(b))))


def softmax_rows(scores, mask):
    shifted = np.where(mask, scores, -np.inf)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    weights = np.where(mask, np.exp(shifted), 0.0)
    return weights / weights.sum(axis=1, keepdims=True)


def forward(X, heads, mask, residual=False):
    """(output, cache). heads: a list of dicts with W_q, W_k, W_v (m x d) and W_o (d x m)."""
    caches, Y = [], np.zeros_like(X)
    for weights in heads:
        Q, K, V = X @ weights["W_q"], X @ weights["W_k"], X @ weights["W_v"]
        d = Q.shape[1]
        P = softmax_rows(Q @ K.T / np.sqrt(d), mask)
        O = P @ V
        Y = Y + O @ weights["W_o"]
        caches.append((weights, Q, K, V, P, O, d))
    return (X + Y if residual else Y), (X, caches, mask, residual)


def backward(dout, cache):
    """(dX, [ {dW_q, dW_k, dW_v, dW_o} per head ])."""
    X, caches, mask, residual = cache
    dX = dout.copy() if residual else np.zeros_like(X)
    grads = []
    for weights, Q, K, V, P, O, d in caches:
        dW_o = O.T @ dout
        dO = dout @ weights["W_o"].T
        dV = P.T @ dO
        dP = dO @ V.T
        dS = np.zeros_like(P)
        for row in range(P.shape[0]):  # each row's softmax Jacobian, built and applied
            p = P[row]
            jacobian = np.diag(p) - np.outer(p, p)
            dS[row] = jacobian @ dP[row]  # symmetric, so J^T dP = J dP
        dS = np.where(mask, dS, 0.0)
        dQ = dS @ K / np.sqrt(d)
        dK = dS.T @ Q / np.sqrt(d)
        dX = dX + dQ @ weights["W_q"].T + dK @ weights["W_k"].T + dV @ weights["W_v"].T
        grads.append({"W_q": X.T @ dQ, "W_k": X.T @ dK, "W_v": X.T @ dV, "W_o": dW_o})
    return dX, grads


def embedding_forward(tokens, C):
    return C[tokens]


def embedding_backward(dE, tokens, vocab):
    """dC: each token's row of dE added into its row of C (np.add.at: repeated tokens add)."""
    dC = np.zeros((vocab, dE.shape[1]))
    np.add.at(dC, tokens, dE)
    return dC


def numerical_gradient(cost, array):
    """Five-point central differences of cost() with respect to every entry of array (in place)."""
    gradient = np.zeros_like(array)
    for index in np.ndindex(*array.shape):
        original = array[index]
        total = 0.0
        for multiple, weight in STENCIL:
            array[index] = original + multiple * FINITE_DIFFERENCE_STEP
            total += weight * cost()
        array[index] = original
        gradient[index] = total / (12 * FINITE_DIFFERENCE_STEP)
    return gradient


def finite_difference_gradients(X, heads, mask, dout, residual=False):
    """dX and each head's weight gradients of J = sum(dout * output), by finite differences."""
    X = X.copy()
    heads = [{k: v.copy() for k, v in w.items()} for w in heads]

    def cost():
        return float(np.sum(dout * forward(X, heads, mask, residual)[0]))

    return numerical_gradient(cost, X), [{k: numerical_gradient(cost, w[k]) for k in ("W_q", "W_k", "W_v", "W_o")}
                                         for w in heads]


def embedding_finite_differences(tokens, C, dE):
    C = C.copy()
    return numerical_gradient(lambda: float(np.sum(dE * embedding_forward(tokens, C))), C)
