"""Convolution and pooling, forward and backward, written by hand with loops (NumPy only).

A second route, not the fast one: cs231n's naive layers, one output position at a time. The
backward adds each upstream entry into the window it came from (dx) and each window times the
upstream entry into the filter (dw): no im2col, no flipped kernel, nothing from derive/.
Max pooling splits a window's gradient equally among its tied largest entries (the circuit's
`max` rule, and the central difference's value at a tie of two).
1-D arrays (N, C, L) go through the 2-D code as (N, C, 1, L).
"""

from __future__ import annotations

import numpy as np


def _four(x: np.ndarray) -> np.ndarray:
    return x[:, :, None, :] if x.ndim == 3 else x


def _back(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    return result[:, :, 0, :] if like.ndim == 3 else result


def _pads(x: np.ndarray, pad: int) -> tuple[int, int]:
    return (0, pad) if x.ndim == 3 else (pad, pad)


def _strides(x: np.ndarray, stride: int) -> tuple[int, int]:
    return (1, stride) if x.ndim == 3 else (stride, stride)


def conv_forward(x, w, b, stride, pad):
    """out[n, f, i, j] = sum over the window of x_pad * w[f] + b[f]."""
    (ph, pw), (sh, sw) = _pads(x, pad), _strides(x, stride)
    x4, w4 = _four(x), _four(w)
    n, c, h, wd = x4.shape
    f, _, kh, kw = w4.shape
    padded = np.pad(x4, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, f, oh, ow))
    for e in range(n):
        for filt in range(f):
            for i in range(oh):
                for j in range(ow):
                    window = padded[e, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[e, filt, i, j] = np.sum(window * w4[filt]) + b[filt]
    return _back(out, x)


def conv_backward(dout, x, w, b, stride, pad):
    """(dx, dw, db): each upstream entry sent back into its window and its filter."""
    (ph, pw), (sh, sw) = _pads(x, pad), _strides(x, stride)
    x4, w4, d4 = _four(x), _four(w), _four(dout)
    n, c, h, wd = x4.shape
    f, _, kh, kw = w4.shape
    padded = np.pad(x4, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dpadded = np.zeros_like(padded)
    dw = np.zeros_like(w4)
    db = np.zeros(f)
    for e in range(n):
        for filt in range(f):
            for i in range(d4.shape[2]):
                for j in range(d4.shape[3]):
                    upstream = d4[e, filt, i, j]
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    dpadded[e, :, rows, cols] += upstream * w4[filt]
                    dw[filt] += upstream * padded[e, :, rows, cols]
                    db[filt] += upstream
    dx = dpadded[:, :, ph:ph + h, pw:pw + wd]
    return _back(dx, x), (dw[:, :, 0, :] if w.ndim == 3 else dw), db


def pool_forward(x, kernel, stride, mode):
    """mode "max" or "avg"; kernel (kh, kw), no padding."""
    kh, kw = kernel
    n, c, h, wd = x.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = window.max(axis=(2, 3)) if mode == "max" else window.mean(axis=(2, 3))
    return out


def pool_backward(dout, x, kernel, stride, mode):
    """max: to the window's largest entry, split equally at a tie; avg: dout / (kh kw) to every entry."""
    kh, kw = kernel
    dx = np.zeros_like(x)
    for e in range(x.shape[0]):
        for ch in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
                    window = x[e, ch, rows, cols]
                    if mode == "max":
                        tied = window == window.max()
                        dx[e, ch, rows, cols] += dout[e, ch, i, j] * tied / tied.sum()
                    else:
                        dx[e, ch, rows, cols] += dout[e, ch, i, j] / (kh * kw)
    return dx
