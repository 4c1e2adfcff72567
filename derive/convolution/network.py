"""A small convolutional network, conv -> relu -> maxpool -> dense -> softmax with cross-entropy,
its backward pass composed from derived pieces only.

- conv and maxpool: the matrix forms found in matrix_form.py (dX = col2im(W_col^T G_col), ...);
- the dense layer is the convolution whose kernel covers its whole input (C x H x W -> K x 1 x 1),
  so its backward is the same derived form, and its dX = col2im(W_col^T G_col) is the dense
  layer's W^T G: the hidden delta's transpose, here literally the same code path;
- relu' and the softmax-with-cross-entropy delta: SymPy's diff of their definitions, lambdified.

J is the mean over the N images of -sum_k y_k log softmax(z)_k.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from derive.convolution import numeric
from derive.convolution.layer import ConvolutionLayer, make_layer
from derive.convolution.routes import matrix_route


@dataclass(frozen=True)
class ConvNet:
    """The layers at concrete sizes: conv (padding keeps the size), 2 x 2 max pooling, a dense head."""

    conv: ConvolutionLayer
    pool: ConvolutionLayer
    dense: ConvolutionLayer

    @property
    def classes(self) -> int:
        return self.dense.filters

    @property
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W1": self.conv.weight_shape, "b1": (self.conv.filters,), "W2": self.dense.weight_shape,
                "b2": (self.dense.filters,)}


def make_network(batch: int = 2, channels: int = 1, size: int = 6, filters: int = 2, kernel: int = 3,
                 classes: int = 3) -> ConvNet:
    conv = make_layer("conv2d", batch, channels, (size, size), (kernel, kernel), 1, kernel // 2, filters)
    pool = make_layer("maxpool", batch, filters, conv.out_size, (2, 2), 2)
    dense = make_layer("conv2d", batch, filters, pool.out_size, pool.out_size, 1, 0, classes)
    return ConvNet(conv, pool, dense)


@lru_cache(maxsize=None)
def softmax_cross_entropy_delta(classes: int):
    """d J / d z of J = -sum_k y_k log softmax(z)_k, by SymPy's diff; a function (z, y) -> delta, row-wise."""
    z, y = sp.symbols(f"z0:{classes}"), sp.symbols(f"y0:{classes}")
    total = sp.Add(*(sp.exp(v) for v in z))
    cost = -sp.Add(*(t * sp.log(sp.exp(v) / total) for t, v in zip(y, z)))
    derivative = [sp.simplify(sp.diff(cost, v)) for v in z]
    compiled = sp.lambdify(z + y, derivative, modules="numpy")

    def delta(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max(axis=1, keepdims=True)  # softmax does not change under a shift
        return np.stack(compiled(*shifted.T, *labels.T), axis=1)
    return delta, derivative


@lru_cache(maxsize=None)
def relu_derivative():
    """SymPy's diff of max(0, x): Heaviside(x), which SymPy takes as 1/2 at 0 (the tie of max)."""
    x = sp.Symbol("x", real=True)
    derivative = sp.diff(sp.Max(0, x), x)
    step = {"Heaviside": lambda v, at_zero=0.5: np.heaviside(v, at_zero)}
    return sp.lambdify(x, derivative, modules=[step, "numpy"]), derivative


def forward(net: ConvNet, params: dict, images: np.ndarray) -> dict:
    """Every intermediate array of the forward pass (the derived im2col forward)."""
    z1 = numeric.forward(net.conv, images, params["W1"], params["b1"])
    a1 = np.maximum(z1, 0)
    pooled = numeric.forward(net.pool, a1)
    logits = numeric.forward(net.dense, pooled, params["W2"], params["b2"]).reshape(images.shape[0], -1)
    return {"z1": z1, "a1": a1, "pooled": pooled, "logits": logits}


def backward(net: ConvNet, params: dict, images: np.ndarray, labels: np.ndarray) -> dict:
    """dJ/dW1, db1, dW2, db2 from the derived pieces, chained from the cost down."""
    values = forward(net, params, images)
    delta, _ = softmax_cross_entropy_delta(net.classes)
    g_logits = delta(values["logits"], labels) / images.shape[0]  # J is the mean over the images
    head = matrix_route(net.dense, values["pooled"], g_logits.reshape(net.dense.output_shape), params["W2"])
    g_pooled = head["dX"]  # col2im(W_col^T G): the dense layer's W^T
    g_a1 = matrix_route(net.pool, values["a1"], g_pooled)["dX"]
    relu_prime, _ = relu_derivative()
    g_z1 = g_a1 * relu_prime(values["z1"])
    first = matrix_route(net.conv, images, g_z1, params["W1"])
    return {"W1": first["dW"], "b1": first["db"], "W2": head["dW"], "b2": head["db"]}
