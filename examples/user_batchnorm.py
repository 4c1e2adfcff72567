"""Hand-written batch-norm backward passes for `backprop verify FILE.py:FN --layer batchnorm`.

The contract is cs231n's batchnorm_backward, with the forward's inputs in place of its cache:

    fn(x, gamma, beta, dout, eps) -> (dx, dgamma, dbeta)

x, dout: N x D; gamma, beta: (D,); eps: float. `batchnorm_backward` is right; each of the others
makes one of issue 13's mistakes, and `backprop verify` names it:

    backprop verify examples/user_batchnorm.py:batchnorm_backward --layer batchnorm          # exit 0
    backprop verify examples/user_batchnorm.py:batchnorm_backward_no_mean_path --layer batchnorm   # exit 1
"""

import numpy as np


def _forward(x, gamma, eps, axis=0):
    mu = x.mean(axis=axis, keepdims=True)
    c = x - mu
    var = (c * c).sum(axis=axis, keepdims=True) / x.shape[axis]
    s = np.sqrt(var + eps)
    return mu, c, var, s, c / s


def batchnorm_backward(x, gamma, beta, dout, eps):
    """Right: the staged graph walked backwards (cs231n's way)."""
    N = x.shape[0]
    mu, c, var, s, xhat = _forward(x, gamma, eps)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dvar = (dxhat * c).sum(axis=0) * -0.5 * s ** -3
    dmu = -(dxhat / s).sum(axis=0) + dvar * -2.0 * c.mean(axis=0)
    dx = dxhat / s + dvar * 2.0 * c / N + dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_no_mean_path(x, gamma, beta, dout, eps):
    """Wrong: the path through mu forgotten (dmu never reaches dx)."""
    N = x.shape[0]
    mu, c, var, s, xhat = _forward(x, gamma, eps)
    dxhat = dout * gamma
    dvar = (dxhat * c).sum(axis=0) * -0.5 * s ** -3
    dx = dxhat / s + dvar * 2.0 * c / N
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_no_variance_path(x, gamma, beta, dout, eps):
    """Wrong: the path through sigma^2 forgotten (dvar never reaches dx)."""
    N = x.shape[0]
    mu, c, var, s, xhat = _forward(x, gamma, eps)
    dxhat = dout * gamma
    dx = dxhat / s - (dxhat / s).sum(axis=0) / N
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_unbiased(x, gamma, beta, dout, eps):
    """Wrong: 1/(N - 1) in the backward where the forward averaged with 1/N."""
    N = x.shape[0]
    mu, c, var, s, xhat = _forward(x, gamma, eps)
    dxhat = dout * gamma
    dvar = (dxhat * c).sum(axis=0) * -0.5 * s ** -3
    dmu = -(dxhat / s).sum(axis=0)
    dx = dxhat / s + dvar * 2.0 * c / (N - 1) + dmu / N
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_dgamma_with_x(x, gamma, beta, dout, eps):
    """Wrong: dgamma from x instead of x_hat."""
    dx, _, dbeta = batchnorm_backward(x, gamma, beta, dout, eps)
    return dx, (dout * x).sum(axis=0), dbeta


def batchnorm_backward_wrong_axis(x, gamma, beta, dout, eps):
    """Wrong: the statistics over axis 1 (per example: that is layer norm)."""
    D = x.shape[1]
    mu, c, var, s, xhat = _forward(x, gamma, eps, axis=1)
    dxhat = dout * gamma
    dvar = (dxhat * c).sum(axis=1, keepdims=True) * -0.5 * s ** -3
    dmu = -(dxhat / s).sum(axis=1, keepdims=True)
    dx = dxhat / s + dvar * 2.0 * c / D + dmu / D
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_no_eps(x, gamma, beta, dout, eps):
    """Wrong: eps left out of the backward (sqrt(var) where the forward had sqrt(var + eps))."""
    N = x.shape[0]
    mu, c, var, s, xhat = _forward(x, gamma, eps)
    s = np.sqrt(var)  # recomputed for the backward, without eps
    dxhat = dout * gamma
    dvar = (dxhat * c).sum(axis=0) * -0.5 * s ** -3
    dmu = -(dxhat / s).sum(axis=0)
    dx = dxhat / s + dvar * 2.0 * c / N + dmu / N
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
