"""A hand-written one-head attention backward to try `backprop verify` on (see README, Attention)."""
import numpy as np


def softmax_rows(S, mask):
    S = np.where(mask, S, -np.inf)
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def attention_forward(X, W_q, W_k, W_v, W_o, mask):
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    d = Q.shape[1]
    P = softmax_rows(Q @ K.T / np.sqrt(d), mask)
    return Q, K, V, P, P @ V


def attention_backward(X, W_q, W_k, W_v, W_o, mask, dout):
    Q, K, V, P, O = attention_forward(X, W_q, W_k, W_v, W_o, mask)
    d = Q.shape[1]
    dW_o = O.T @ dout
    dO = dout @ W_o.T
    dV = P.T @ dO
    dP = dO @ V.T
    dS = P * (dP - (dP * P).sum(axis=1, keepdims=True))
    dQ = dS @ K / np.sqrt(d)
    dK = dS.T @ Q / np.sqrt(d)
    dX = dQ @ W_q.T + dK @ W_k.T + dV @ W_v.T
    return dX, X.T @ dQ, X.T @ dK, X.T @ dV, dW_o


def residual_backward(X, W_q, W_k, W_v, W_o, mask, dout):
    dX, dW_q, dW_k, dW_v, dW_o = attention_backward(X, W_q, W_k, W_v, W_o, mask, dout)
    return dout + dX, dW_q, dW_k, dW_v, dW_o


def embedding_backward(tokens, C, dout):
    dC = np.zeros_like(C)
    np.add.at(dC, tokens, dout)
    return dC
