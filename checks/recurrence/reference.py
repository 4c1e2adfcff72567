"""A hand-written NumPy RNN and LSTM, forward and backward, in the style of cs231n's rnn_layers.py.

Independent of derive/: NumPy only, row convention with a batch (x is N x T x D, h is N x H), the
LSTM's four gates stacked as cs231n stacks them (Wx is D x 4H, in the order i, f, o, g). The
backward walks the steps in reverse, adding the gradient that comes back from step t + 1 into the
step's dh, as cs231n's rnn_backward does.
"""

from __future__ import annotations

import numpy as np

GATE_ORDER = ("i", "f", "o", "g")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# name -> (f, f' written by hand)
ACTIVATIONS = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
}


# ------------------------------------------------------------------ RNN


def rnn_step_forward(x, prev_h, Wx, Wh, b, activation="tanh"):
    z = x @ Wx + prev_h @ Wh + b
    next_h = ACTIVATIONS[activation][0](z)
    return next_h, (x, prev_h, Wx, Wh, z, activation)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, z, activation = cache
    dz = dnext_h * ACTIVATIONS[activation][1](z)
    return dz @ Wx.T, dz @ Wh.T, x.T @ dz, prev_h.T @ dz, dz.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b, activation="tanh"):
    N, T, _ = x.shape
    h, caches, prev_h = np.zeros((N, T, h0.shape[1])), [], h0
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b, activation)
        h[:, t, :] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches, truncate=None):
    """dh: N x T x H, the gradient each h_t gets from its own output. truncate=k: each step's
    gradient is carried back k steps only (BPTT(k))."""
    N, T, H = dh.shape
    x0, _, Wx, Wh, _, _ = caches[0]
    dx, dh0 = np.zeros((N, T, x0.shape[1])), np.zeros((N, H))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H)
    windows = [(T - 1, 0, dh)] if truncate is None else [
        (tau, max(0, tau - truncate + 1), _only_step(dh, tau)) for tau in range(T)]
    for top, bottom, upstream in windows:
        dprev_h = np.zeros((N, H))
        for t in range(top, bottom - 1, -1):
            dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(upstream[:, t, :] + dprev_h, caches[t])
            dx[:, t, :] += dx_t
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        if bottom == 0:
            dh0 += dprev_h
    return dx, dh0, dWx, dWh, db


def _only_step(d, tau):
    kept = np.zeros_like(d)
    kept[:, tau] = d[:, tau]
    return kept


# ------------------------------------------------------------------ LSTM


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    di, df, do, dg = dc * g, dc * prev_c, dnext_h * tanh_c, dc * i
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    N, T, _ = x.shape
    H = h0.shape[1]
    h, caches = np.zeros((N, T, H)), []
    prev_h, prev_c = h0, np.zeros((N, H)) if c0 is None else c0
    for t in range(T):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(cache)
    return h, caches


def lstm_backward(dh, caches, truncate=None):
    """Returns dx, dh0, dc0, dWx, dWh, db (the gates stacked i, f, o, g)."""
    N, T, H = dh.shape
    x0, _, _, Wx, Wh, *_ = caches[0]
    dx, dh0, dc0 = np.zeros((N, T, x0.shape[1])), np.zeros((N, H)), np.zeros((N, H))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H)
    windows = [(T - 1, 0, dh)] if truncate is None else [
        (tau, max(0, tau - truncate + 1), _only_step(dh, tau)) for tau in range(T)]
    for top, bottom, upstream in windows:
        dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
        for t in range(top, bottom - 1, -1):
            dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(upstream[:, t, :] + dprev_h, dprev_c,
                                                                           caches[t])
            dx[:, t, :] += dx_t
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        if bottom == 0:
            dh0 += dprev_h
            dc0 += dprev_c
    return dx, dh0, dc0, dWx, dWh, db


# ------------------------------------------------------------------ output layer and cost


def temporal_affine_forward(h, W, b):
    return h @ W + b


def temporal_affine_backward(dout, h, W):
    N, T, _ = h.shape
    flat_h, flat_d = h.reshape(N * T, -1), dout.reshape(N * T, -1)
    return (flat_d @ W.T).reshape(h.shape), flat_h.T @ flat_d, flat_d.sum(axis=0)


def temporal_loss(y, targets, cost):
    """(J, dJ/dy) summed over examples and steps: half-SSE, or softmax cross-entropy (targets are
    integer classes N x T)."""
    if cost == "half_sse":
        difference = y - targets
        return 0.5 * float(np.sum(difference ** 2)), difference
    shifted = y - y.max(axis=2, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    N, T, _ = y.shape
    picked = log_probabilities[np.arange(N)[:, None], np.arange(T)[None, :], targets]
    dy = np.exp(log_probabilities)
    dy[np.arange(N)[:, None], np.arange(T)[None, :], targets] -= 1.0
    return -float(picked.sum()), dy


# ------------------------------------------------------------------ the whole layer


def forward_cost(kind, params, x, h0, c0, targets, cost, activation="tanh"):
    """J of the whole sequence; params in row form: W_xh, W_hh, b, W_hy, c (rnn) or Wx, Wh, b
    stacked, W_hy, b_y (lstm)."""
    if kind == "rnn":
        h, _ = rnn_forward(x, h0, params["W_xh"], params["W_hh"], params["b"], activation)
        y = temporal_affine_forward(h, params["W_hy"], params["c"])
    else:
        h, _ = lstm_forward(x, h0, params["Wx"], params["Wh"], params["b"], c0)
        y = temporal_affine_forward(h, params["W_hy"], params["b_y"])
    return temporal_loss(y, targets, cost)[0]


def backward(kind, params, x, h0, c0, targets, cost, activation="tanh", truncate=None) -> dict:
    """Every gradient of J, by hand: the output layer, then the recurrence walked back."""
    if kind == "rnn":
        h, caches = rnn_forward(x, h0, params["W_xh"], params["W_hh"], params["b"], activation)
        y = temporal_affine_forward(h, params["W_hy"], params["c"])
        _, dy = temporal_loss(y, targets, cost)
        dh, dW_hy, dc = temporal_affine_backward(dy, h, params["W_hy"])
        dx, dh0, dW_xh, dW_hh, db = rnn_backward(dh, caches, truncate)
        return {"W_xh": dW_xh, "W_hh": dW_hh, "b": db, "W_hy": dW_hy, "c": dc, "h_0": dh0, "x": dx}
    h, caches = lstm_forward(x, h0, params["Wx"], params["Wh"], params["b"], c0)
    y = temporal_affine_forward(h, params["W_hy"], params["b_y"])
    _, dy = temporal_loss(y, targets, cost)
    dh, dW_hy, db_y = temporal_affine_backward(dy, h, params["W_hy"])
    dx, dh0, dc0, dWx, dWh, db = lstm_backward(dh, caches, truncate)
    return {"Wx": dWx, "Wh": dWh, "b": db, "W_hy": dW_hy, "b_y": db_y, "h_0": dh0, "c_0": dc0, "x": dx}


# ------------------------------------------------------------------ finite differences

FINITE_DIFFERENCE_STEP = 1e-5


def numerical_gradient(f, array, step=FINITE_DIFFERENCE_STEP):
    """cs231n's eval_numerical_gradient: central differences, every entry, array changed in place."""
    gradient = np.zeros_like(array)
    for index in np.ndindex(*array.shape):
        kept = array[index]
        array[index] = kept + step
        plus = f()
        array[index] = kept - step
        minus = f()
        array[index] = kept
        gradient[index] = (plus - minus) / (2 * step)
    return gradient


def rel_error(x, y):
    """cs231n's relative error."""
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
