"""An RNN backprop through time as a person writes it (cs231n's rnn_forward + rnn_backward in one call).

    backprop verify examples/user_rnn.py:rnn_backward --layer rnn

fn(x, h0, Wx, Wh, b, dh) -> (dx, dh0, dWx, dWh, db); x is N x T x D, dh the gradient each h_t gets from above.
"""
import numpy as np


def rnn_backward(x, h0, Wx, Wh, b, dh):
    N, T, D = x.shape
    hs, prev = [h0], h0
    for t in range(T):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        hs.append(prev)
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev = np.zeros_like(h0)
    for t in reversed(range(T)):
        dz = (dh[:, t] + dprev) * (1 - hs[t + 1] ** 2)
        dx[:, t] = dz @ Wx.T
        dWx += x[:, t].T @ dz
        dWh += hs[t].T @ dz
        db += dz.sum(axis=0)
        dprev = dz @ Wh.T
    return dx, dprev, dWx, dWh, db
