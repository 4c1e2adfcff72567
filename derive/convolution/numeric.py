"""The derived formulas evaluated on arrays: the index form entry by entry, the matrix form by im2col.

Both work on float64 arrays and on NumPy object arrays of Python ints (GF(p), reduced by the caller).
A 1-D layer runs as a 2-D one with one row: (N, C, L) -> (N, C, 1, L), kernel (1, K), no padding
along the row axis.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import sympy as sp

from derive.convolution.derivation import IndexGradient
from derive.convolution.forward import G, S, W, X, B, SymbolicLayer
from derive.convolution.layer import ConvolutionLayer
from derive.convolution.matrix_form import MatrixGradient, Product, Weighted


def as_2d(layer: ConvolutionLayer, array: np.ndarray) -> np.ndarray:
    """An (N, C, L) array as (N, C, 1, L); 2-D arrays unchanged."""
    return array[:, :, None, :] if layer.spatial == 1 else array


def geometry(layer: ConvolutionLayer) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(kernel, stride, padding, out size) per axis of the 2-D view."""
    if layer.spatial == 1:
        return (1, layer.kernel[0]), (1, layer.stride), (0, layer.padding), (1, layer.out_size[0])
    return layer.kernel, (layer.stride,) * 2, (layer.padding,) * 2, layer.out_size


def pad(layer: ConvolutionLayer, x4: np.ndarray) -> np.ndarray:
    _, _, (ph, pw), _ = geometry(layer)
    padded = np.zeros(x4.shape[:2] + (x4.shape[2] + 2 * ph, x4.shape[3] + 2 * pw), dtype=x4.dtype)
    padded[:, :, ph:ph + x4.shape[2], pw:pw + x4.shape[3]] = x4
    return padded


def windows(layer: ConvolutionLayer, x: np.ndarray) -> np.ndarray:
    """cols[n, c, u, v, i, j] = X_pad[n, c, i s + u, j s + v]: every window, by kernel offset."""
    (kh, kw), (sh, sw), _, (oh, ow) = geometry(layer)
    padded = pad(layer, as_2d(layer, x))
    cols = np.empty(padded.shape[:2] + (kh, kw, oh, ow), dtype=padded.dtype)
    for u, v in itertools.product(range(kh), range(kw)):
        cols[:, :, u, v] = padded[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw]
    return cols


def im2col(layer: ConvolutionLayer, x: np.ndarray) -> np.ndarray:
    """A[(c, u, v), (n, i, j)], each kernel offset's shifted input written straight into its rows
    (filling a six-axis transpose afterwards was 50 times slower at batch 64)."""
    (kh, kw), (sh, sw), _, (oh, ow) = geometry(layer)
    padded = pad(layer, as_2d(layer, x))
    n, ch = padded.shape[:2]
    cols = np.empty((ch, kh, kw, n, oh, ow), dtype=padded.dtype)
    for u, v in itertools.product(range(kh), range(kw)):
        cols[:, u, v] = padded[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw].transpose(1, 0, 2, 3)
    return cols.reshape(ch * kh * kw, n * oh * ow)


def col2im(layer: ConvolutionLayer, flat: np.ndarray, channels_first: bool = True) -> np.ndarray:
    """The adjoint of im2col: each column added back into the window it came from, the padding cut off."""
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = geometry(layer)
    n = layer.batch
    cols = flat.reshape(layer.channels, kh, kw, n, oh, ow).transpose(3, 0, 1, 2, 4, 5)
    shape2d = as_2d(layer, np.zeros(layer.input_shape, dtype=np.int8)).shape
    padded = np.zeros((n, layer.channels, shape2d[2] + 2 * ph, shape2d[3] + 2 * pw), dtype=flat.dtype)
    for u, v in itertools.product(range(kh), range(kw)):
        padded[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw] += cols[:, :, u, v]
    inside = padded[:, :, ph:ph + shape2d[2], pw:pw + shape2d[3]]
    return inside.reshape(layer.input_shape)


def g_col(layer: ConvolutionLayer, g: np.ndarray) -> np.ndarray:
    """G_col[f, (n, i, j)] = G[n, f, i, j]."""
    g4 = as_2d(layer, g)
    return g4.transpose(1, 0, 2, 3).reshape(g4.shape[1], -1)


def max_selector(layer: ConvolutionLayer, x: np.ndarray, one=1.0) -> np.ndarray:
    """S[c, (u, v), (n, i, j)]: 1 at a window's largest entry, 1/t on each of t tied ones (circuit `max`).

    one: the unit the shares are made of (1.0 in float64; for GF(p) pass a callable t -> 1/t mod p)."""
    cols = windows(layer, x)
    n, ch, kh, kw, oh, ow = cols.shape
    per_channel = cols.transpose(1, 2, 3, 0, 4, 5).reshape(ch, kh * kw, n * oh * ow)
    largest = per_channel.max(axis=1, keepdims=True)
    tied = per_channel == largest
    counts = tied.sum(axis=1, keepdims=True)
    if callable(one):
        shares = np.frompyfunc(one, 1, 1)(np.broadcast_to(counts, tied.shape))
        return np.where(tied, shares, 0).astype(object)
    return tied * (one / counts)


def forward(layer: ConvolutionLayer, x: np.ndarray, w: np.ndarray | None = None,
            b: np.ndarray | None = None) -> np.ndarray:
    """Y by im2col (the forward pass, float64 or object ints)."""
    if layer.is_convolution:
        w_col = w.reshape(layer.filters, -1)
        y_col = w_col @ im2col(layer, x) + b.reshape(-1, 1)
        return _from_col(layer, y_col)
    cols = windows(layer, x)
    n, ch, kh, kw, oh, ow = cols.shape
    per_channel = cols.transpose(1, 2, 3, 0, 4, 5).reshape(ch, kh * kw, n * oh * ow)
    y = per_channel.max(axis=1) if layer.kind == "maxpool" else per_channel.sum(axis=1) / (kh * kw)
    return _from_col(layer, y)


def _from_col(layer: ConvolutionLayer, y_col: np.ndarray) -> np.ndarray:
    n, out_c = layer.batch, layer.out_channels
    y = y_col.reshape((out_c, n) + layer.out_size)
    return np.moveaxis(y, 0, 1)


def operands(layer: ConvolutionLayer, arrays: dict, forms: tuple[MatrixGradient, ...]) -> dict:
    """The flat matrices the forms name (G_col, W_col, A = im2col(X), P), each built once."""
    names = {n for f in forms for n in ((f.form.left, f.form.right) if isinstance(f.form, Product)
                                        else (f.form.weight, f.form.operand)) if n is not None}
    builders = {"G_col": lambda: g_col(layer, arrays["G"]), "W_col": lambda: arrays["W"].reshape(layer.filters, -1),
                "A": lambda: im2col(layer, arrays["X"]), "P": lambda: arrays["P"]}
    return {name: builders[name]() for name in sorted(names)}


def evaluate_matrix(gradient: MatrixGradient, layer: ConvolutionLayer, arrays: dict,
                    named: dict | None = None) -> np.ndarray:
    """The found matrix form, evaluated: the generated im2col route.

    arrays: X, G, and W (convolution); P (pooling weights, shape C x K x NHW) for pooling.
    named: operands(...) already built for several forms."""
    named = operands(layer, arrays, (gradient,)) if named is None else named
    form = gradient.form
    if isinstance(form, Product):
        left = named[form.left].T if form.left_transposed else named[form.left]
        flat = left.sum(axis=1) if form.right is None else \
            left @ (named[form.right].T if form.right_transposed else named[form.right])
    elif isinstance(form, Weighted):
        weight = named[form.weight]
        flat = (weight * named[form.operand][:, None, :]).reshape(-1, weight.shape[2])
    else:
        raise TypeError(f"no evaluator for {form!r}")
    if gradient.scatter:
        return col2im(layer, flat)
    return flat.reshape(arrays["W"].shape) if gradient.name == "dW" else flat


def pool_weights(layer: ConvolutionLayer, x: np.ndarray, one=1.0):
    """P: the selector S (max) or 1/(K_h K_w) everywhere (average), C x K x NHW."""
    if layer.kind == "maxpool":
        return max_selector(layer, x, one)
    (kh, kw), _, _, (oh, ow) = geometry(layer)
    count = kh * kw
    value = one(count) if callable(one) else one / count
    return np.full((layer.channels, count, layer.batch * oh * ow), value, dtype=object if callable(one) else float)


# ------------------------------------------------------------------ the index form, entry by entry

def evaluate_index(gradient: IndexGradient, symbolic: SymbolicLayer, layer: ConvolutionLayer, arrays: dict,
                   shape: tuple[int, ...], number=float) -> np.ndarray:
    """The collapsed index form at every entry: sum over its indices where its conditions hold.

    arrays: X, W, b, G, S (S[n, c, i, j, u, v] for max pooling) as 2-D-layout or 1-D arrays; X out of
    range is 0 (the zero padding). number: a SymPy constant (1/9) in the arrays' arithmetic (float,
    an exact SymPy number, or derive.proofs.modular.scalar for GF(p))."""
    sizes = symbolic.sizes(layer)
    result = np.zeros(shape, dtype=float if number is float else object)
    entries = list(np.ndindex(*shape))
    entry_symbols = gradient.entry_symbols
    bases = {X: "X", W: "W", B: "b", G: "G", S: "S"}
    for term in gradient.collapsed:
        coefficient = term.coefficient.xreplace(sizes)
        factors = sp.Mul.make_args(coefficient)
        ranges = [range(int(i.upper.xreplace(sizes)) + 1) for i in term.indices]
        symbols = entry_symbols + tuple(i.symbol for i in term.indices)
        conditions = [(_compiled(symbols, c.numerator.xreplace(sizes)), int(c.stride.xreplace(sizes)),
                       int(c.upper.xreplace(sizes))) for c in term.conditions]
        lookups, constant = [], sp.Integer(1)
        for factor in factors:
            if isinstance(factor, sp.Indexed):
                lookups.append((bases[factor.base], [_whole_index(symbols, ix) for ix in factor.indices]))
            else:
                constant *= factor
        scale = number(constant)
        for entry in entries:
            total = 0
            for summed in itertools.product(*ranges):
                values = entry + summed
                if not all(_whole_in_range(cond(*values), stride, upper) for cond, stride, upper in conditions):
                    continue
                product = scale
                for name, index in lookups:
                    product = product * _lookup(arrays[name], [ix(*values) for ix in index])
                total = total + product
            result[entry] = result[entry] + total
    return result


def _whole_in_range(top, stride: int, upper: int) -> bool:
    top = int(top)  # the numerator is a whole combination of whole indices
    return top % stride == 0 and 0 <= top // stride <= upper


@functools.lru_cache(maxsize=None)
def _compiled(symbols: tuple, expression: sp.Expr):
    """lambdify, once per expression: it prints and compiles Python source, ~6 ms a call."""
    return sp.lambdify(symbols, expression)


def _whole_index(symbols, expression: sp.Expr):
    """An index expression as a function returning a whole number, or None where it is fractional
    ((i + p - u) / s is divided exactly, never in floating point)."""
    top, bottom = sp.fraction(sp.together(expression))
    numerator, denominator = _compiled(symbols, top), _compiled(symbols, bottom)

    def index(*values):
        a, b = int(numerator(*values)), int(denominator(*values))
        return a // b if a % b == 0 else None
    return index


def _lookup(array: np.ndarray, index):
    if any(value is None for value in index):
        raise ValueError("a fractional index reached an array: a condition is missing")
    rounded = [int(value) for value in index]
    if any(v < 0 or v >= size for v, size in zip(rounded, array.shape)):
        return 0  # outside the input: the zero padding
    return array[tuple(rounded)]
