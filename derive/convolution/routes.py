"""The derived backward pass as NumPy routes at a concrete layer (float64).

- `matrix_route`: the forms find_matrix_forms read off the flat forward pass, evaluated with
  im2col / col2im (dX = col2im(W_col^T G_col), dW = G_col im2col(X)^T, db = G_col 1);
- `rotated_dx`: the other explanation, the full correlation of the stride-dilated G with the
  kernel rotated by 180 degrees, the border K - 1 - p (index form: u -> K - 1 - u' in the
  collapsed sum).
"""

from __future__ import annotations

import itertools

import numpy as np

from derive.convolution import numeric
from derive.convolution.layer import ConvolutionLayer
from derive.convolution.matrix_form import MatrixGradient, find_matrix_forms

_FORMS = {True: find_matrix_forms(True), False: find_matrix_forms(False)}


def matrix_route(layer: ConvolutionLayer, x: np.ndarray, g: np.ndarray, w: np.ndarray | None = None,
                 forms: tuple[MatrixGradient, ...] | None = None) -> dict[str, np.ndarray]:
    """dX (and dW, db for a convolution) by the found matrix forms."""
    forms = _FORMS[layer.is_convolution] if forms is None else forms
    arrays = {"X": x, "G": g}
    if layer.is_convolution:
        arrays["W"] = w
    else:
        arrays["P"] = numeric.pool_weights(layer, x)
    named = numeric.operands(layer, arrays, forms)
    return {form.name: numeric.evaluate_matrix(form, layer, arrays, named) for form in forms}


def dilate(layer: ConvolutionLayer, g: np.ndarray) -> np.ndarray:
    """G with s - 1 zeros between neighbours along each axis: the stride, undone."""
    (_, _), (sh, sw), _, (oh, ow) = numeric.geometry(layer)
    g4 = numeric.as_2d(layer, g)
    dilated = np.zeros(g4.shape[:2] + ((oh - 1) * sh + 1, (ow - 1) * sw + 1), dtype=g4.dtype)
    dilated[:, :, ::sh, ::sw] = g4
    return dilated


def rotated_dx(layer: ConvolutionLayer, w: np.ndarray, g: np.ndarray) -> np.ndarray:
    """dX[n, c, i, j] = sum_{f, u', v'} Ĝ[n, f, i + u' - (K_h - 1 - p), j + v' - (K_w - 1 - p)] rot(W)[f, c, u', v']."""
    (kh, kw), _, (ph, pw), _ = numeric.geometry(layer)
    dilated = dilate(layer, g)
    x_shape = numeric.as_2d(layer, np.zeros(layer.input_shape, dtype=np.int8)).shape
    h, wd = x_shape[2], x_shape[3]
    border_h, border_w = kh - 1 - ph, kw - 1 - pw  # the "full" border
    # Ĝ placed in a zero field of H + K_h - 1 rows: field row t holds Ĝ row t - border
    field = np.zeros(dilated.shape[:2] + (h + kh - 1, wd + kw - 1))
    rows = range(max(0, border_h), min(field.shape[2], border_h + dilated.shape[2]))
    cols = range(max(0, border_w), min(field.shape[3], border_w + dilated.shape[3]))
    field[:, :, rows.start:rows.stop, cols.start:cols.stop] = \
        dilated[:, :, rows.start - border_h:rows.stop - border_h, cols.start - border_w:cols.stop - border_w]
    rotated = w.reshape(layer.filters, layer.channels, kh, kw)[:, :, ::-1, ::-1]
    dx = np.zeros(x_shape)
    for u, v in itertools.product(range(kh), range(kw)):
        dx += np.einsum("nfhw,fc->nchw", field[:, :, u:u + h, v:v + wd], rotated[:, :, u, v])
    return dx.reshape(layer.input_shape)
