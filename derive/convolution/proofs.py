"""Three proofs that the derived backward pass of convolution or pooling is right, each able to fail.

- entrywise: at a tiny layer, with every entry of X, W, b, G a SymPy symbol, the derived index form
  and the found matrix form equal SymPy's `diff` of J = sum G * Y entry by entry (max pooling: at a
  rational point with a tie of two, where SymPy's d max = Heaviside(0) = 1/2 is the tie rule);
- randomized: at realistic sizes, exactly in GF(2^61 - 1), <derived gradient, random direction>
  equals the forward pass's derivative along it, computed by a second forward pass (the kernel
  offsets one by one, dual numbers for max) that shares no code with the backward;
- index level: at symbolic sizes, the found matrix form written back in indices (its product's
  entry, then col2im's chain rule) collapses to the same sum as the chain rule on the forward pass.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import sympy as sp

from derive.proofs.result import LayerProof

from derive.convolution import numeric
from derive.convolution.derivation import LayerGradients, collapse_terms
from derive.convolution.forward import G, STRIDE, S, SymbolicLayer, W, X
from derive.convolution.index_calculus import Term, fresh, same_terms
from derive.convolution.layer import ConvolutionLayer
from derive.convolution.matrix_form import MatrixGradient, Weighted, find_matrix_forms
from derive.proofs.modular import PRIME, inverse, scalar


ProofResult = LayerProof  # the families' proofs share one result kind (derive/proofs/result.py)


def _symbols(name: str, shape) -> np.ndarray:
    cells = [sp.Symbol(f"{name}_{'_'.join(map(str, index))}") for index in np.ndindex(*shape)]
    return np.array(cells, dtype=object).reshape(shape)


def _selector_full(layer: ConvolutionLayer, x: np.ndarray, one) -> np.ndarray:
    """S[n, c, i, j, u, v] from the pooling weights P[c, (u, v), (n, i, j)]."""
    (kh, kw), _, _, (oh, ow) = numeric.geometry(layer)
    weights = numeric.max_selector(layer, x, one)
    full = weights.reshape(layer.channels, kh, kw, layer.batch, oh, ow).transpose(3, 0, 4, 5, 1, 2)
    return full.reshape((layer.batch, layer.channels) + layer.out_size + layer.kernel)


def _tied_point(layer: ConvolutionLayer) -> np.ndarray:
    """Distinct rationals except one window whose two largest entries are equal."""
    count = int(np.prod(layer.input_shape))
    values = np.array([sp.Rational(v, 7) for v in random.Random(1).sample(range(1, 10 * count), count)], dtype=object)
    x = values.reshape(layer.input_shape)
    flat = x.reshape(-1)
    window = numeric.windows(layer, x)[0, 0, :, :, 0, 0].reshape(-1)
    if len(window) < 2:  # a 1 x 1 window has no tie
        return x
    top = sorted(window, reverse=True)[:2]
    first = int(np.flatnonzero(flat == top[0])[0])
    flat[int(np.flatnonzero(flat == top[1])[0])] = flat[first]  # the first window now has a tie of two
    return flat.reshape(layer.input_shape)


def prove_entrywise(gradients: LayerGradients, layer: ConvolutionLayer) -> ProofResult:
    """Derived index form and matrix form against SymPy's diff of J, entry by entry."""
    symbolic = gradients.layer
    g = _symbols("G", layer.output_shape)
    arrays = {"G": g}
    if layer.is_convolution:
        x, w, b = _symbols("X", layer.input_shape), _symbols("W", layer.weight_shape), _symbols("b", (layer.filters,))
        arrays.update({"X": x, "W": w, "b": b})
        cost = sp.Add(*(g * numeric.forward(layer, x, w, b)).ravel())
        variables, point = {"X": x, "W": w, "b": b}, {}
    else:
        x = _symbols("X", layer.input_shape)
        arrays["X"] = x
        windows = numeric.windows(layer, x)
        (kh, kw), _, _, _ = numeric.geometry(layer)
        outputs = np.empty(windows.shape[:2] + windows.shape[4:], dtype=object)
        for index in np.ndindex(*outputs.shape):
            cells = windows[index[0], index[1], :, :, index[2], index[3]].ravel()
            outputs[index] = sp.Max(*cells) if layer.kind == "maxpool" else sp.Add(*cells) / (kh * kw)
        cost = sp.Add(*(g * outputs.reshape(layer.output_shape)).ravel())
        variables = {"X": x}
        if layer.kind == "maxpool":
            values = _tied_point(layer)
            point = dict(zip(x.ravel(), values.ravel()))
            arrays["S"] = _selector_full(layer, values, lambda t: sp.Rational(1, t))
            arrays["P"] = numeric.max_selector(layer, values, lambda t: sp.Rational(1, t))
        else:
            point = {}
            arrays["P"] = numeric.pool_weights(layer, x, lambda t: sp.Rational(1, t))
    forms = {m.name: m for m in find_matrix_forms(layer.is_convolution)}
    # J is a sum over Y's entries: d J / d v needs only the entries v appears in (the rest give 0)
    containing = {}
    for part in sp.Add.make_args(sp.expand(cost) if layer.kind != "maxpool" else cost):
        for symbol in part.free_symbols:
            containing.setdefault(symbol, []).append(part)
    for gradient in gradients.gradients:
        variable = variables[gradient.variable]
        by_index = numeric.evaluate_index(gradient, symbolic, layer, arrays, variable.shape, number=lambda v: v)
        by_matrix = numeric.evaluate_matrix(forms[gradient.name], layer, arrays)
        for index in np.ndindex(*variable.shape):
            oracle = sp.diff(sp.Add(*containing.get(variable[index], ())), variable[index])
            oracle = oracle.xreplace(point) if point else oracle
            for route, derived in (("index form", by_index), ("matrix form", by_matrix)):
                if sp.expand(derived[index] - oracle) != 0:
                    return ProofResult("entrywise", False, (), f"{gradient.name} ({route}) at d J / d "
                                       f"{variable[index]} differs from SymPy's diff: {derived[index]} vs {oracle}")
    return ProofResult("entrywise", True, tuple(g.name for g in gradients.gradients))


# ---------------------------------------------------------------- GF(p)

_mod = np.frompyfunc(lambda v: int(v) % PRIME, 1, 1)


def _random(generator: random.Random, shape) -> np.ndarray:
    return np.array([generator.randrange(1, PRIME) for _ in range(int(np.prod(shape)))], dtype=object).reshape(shape)


def forward_by_offsets(layer: ConvolutionLayer, x, w, b):
    """Y = sum over kernel offsets (u, v) of W[:, :, u, v] times the input shifted by (u, v): a
    forward pass that shares no code with im2col / col2im."""
    (kh, kw), (sh, sw), _, (oh, ow) = numeric.geometry(layer)
    padded = numeric.pad(layer, numeric.as_2d(layer, x))
    w4 = w.reshape(layer.filters, layer.channels, kh, kw)
    y = np.zeros((layer.batch, layer.filters, oh, ow), dtype=object)
    for u, v in itertools.product(range(kh), range(kw)):
        shifted = padded[:, :, u:u + sh * oh:sh, v:v + sw * ow:sw]
        y = y + np.einsum("fc,nchw->nfhw", w4[:, :, u, v], shifted, dtype=object)
    return y.reshape(layer.output_shape) + b.reshape((1, -1) + (1,) * layer.spatial)


def _pool_tangent(layer: ConvolutionLayer, x, dx):
    """d/dt pool(x + t dx) at t = 0 by dual numbers: max takes the tangent of its largest entry."""
    cols, tangents = numeric.windows(layer, x), numeric.windows(layer, dx)
    n, ch, kh, kw, oh, ow = cols.shape
    flat = cols.reshape(n, ch, kh * kw, oh, ow)
    dflat = tangents.reshape(n, ch, kh * kw, oh, ow)
    if layer.kind == "avgpool":
        return _mod(dflat.sum(axis=2) * inverse(kh * kw)).reshape(layer.output_shape)
    winner = np.argmax(flat, axis=2)  # Python ints compared exactly; the point has no ties
    return np.take_along_axis(dflat, winner[:, :, None], axis=2)[:, :, 0].reshape(layer.output_shape)


def _untied(layer: ConvolutionLayer, generator: random.Random) -> np.ndarray:
    """A point of distinct values (no window has a tie, so d max is the argmax's tangent)."""
    values = generator.sample(range(1, PRIME), int(np.prod(layer.input_shape)))
    return np.array(values, dtype=object).reshape(layer.input_shape)


def prove_randomized(gradients: LayerGradients, layer: ConvolutionLayer, trials: int = 1, seed: int = 0,
                     index_form: bool = True) -> ProofResult:
    """Exact random-point test in GF(2^61 - 1) of every gradient, every entry of every parameter moving.

    index_form: also evaluate the index form entry by entry (slow in Python at 28 x 28; the matrix
    form is always evaluated)."""
    generator = random.Random(seed)
    forms = {m.name: m for m in find_matrix_forms(layer.is_convolution)}
    modular = lambda value: scalar(value, {})  # noqa: E731 (a SymPy constant in GF(p))
    for trial in range(trials):
        g = _random(generator, layer.output_shape)
        if layer.is_convolution:
            x, w, b = (_random(generator, s) for s in (layer.input_shape, layer.weight_shape, (layer.filters,)))
            arrays = {"X": x, "W": w, "b": b, "G": g}
            directions = {v: _random(generator, a.shape) for v, a in (("X", x), ("W", w), ("b", b))}
            zero = {v: np.zeros(a.shape, dtype=object) for v, a in (("X", x), ("W", w), ("b", b))}
        else:
            x = _untied(layer, generator)
            arrays = {"X": x, "G": g, "P": numeric.pool_weights(layer, x, lambda t: inverse(t))}
            if layer.kind == "maxpool":
                arrays["S"] = _selector_full(layer, x, lambda t: inverse(t))
            directions = {"X": _random(generator, x.shape)}
        for gradient in gradients.gradients:
            direction = directions[gradient.variable]
            if layer.is_convolution:
                moved = {v: (direction if v == gradient.variable else zero[v]) for v in ("X", "W", "b")}
                tangent = (forward_by_offsets(layer, moved["X"], w, moved["b"])
                           + forward_by_offsets(layer, x, moved["W"], zero["b"]))
            else:
                tangent = _pool_tangent(layer, x, direction)
            expected = int(_mod((g * _mod(tangent)).sum()))
            routes = [("matrix form", numeric.evaluate_matrix(forms[gradient.name], layer, arrays))]
            if index_form:
                routes.append(("index form", numeric.evaluate_index(gradient, gradients.layer, layer, arrays,
                                                                    direction.shape, number=modular)))
            for route, derived in routes:
                got = int(_mod((_mod(derived) * direction).sum()))
                if got != expected:
                    return ProofResult("randomized GF(p)", False, (), f"{gradient.name} ({route}): <derived, "
                                       f"direction> = {got} but the forward pass's derivative is {expected} "
                                       f"(trial {trial})")
    return ProofResult("randomized GF(p)", True, tuple(g.name for g in gradients.gradients))


# ---------------------------------------------------------------- symbolic sizes


class SlotMismatch(ValueError):
    """A flat array entry whose indices are of the wrong kinds: a transpose read wrongly."""


def _array_entry(symbolic: SymbolicLayer, base: str, indices: tuple) -> sp.Expr:
    """A flat entry as the layer's arrays. Each flat index is tagged with its kind: ("f", f),
    ("c", c), ("k", (c, u, v)) or ("q", (n, i, j)); a kind in the wrong slot is refused."""
    kinds = tuple(kind for kind, _ in indices)
    expected = {"W_col": (("f",),), "G_col": (("f", "c"), ("q",)), "A": (("k",), ("q",)),
                "P": (("c",), ("k",), ("q",))}[base]
    if base == "W_col":
        expected = (("f",), ("k",))
    if len(kinds) != len(expected) or any(kind not in allowed for kind, allowed in zip(kinds, expected)):
        raise SlotMismatch(f"{base} indexed by ({', '.join(kinds)})")
    values = [value for _, value in indices]
    if base == "W_col":
        return W[(values[0],) + tuple(values[1])]
    if base == "G_col":
        n0, *positions = values[1]
        return G[(n0, values[0]) + tuple(positions)]
    if base == "A":
        (c0, *kernel), (n0, *positions) = values
        return X[(n0, c0) + tuple(i * STRIDE + u - symbolic.padding for i, u in zip(positions, kernel))]
    if symbolic.kind == "avgpool":
        return 1 / symbolic.kernel_count()
    (_, *kernel), (n0, *positions) = values[1], values[2]
    return S[(n0, values[0]) + tuple(positions) + tuple(kernel)]


def _form_entry(symbolic: SymbolicLayer, form, row, col, summed) -> sp.Expr:
    """Entry (row, col) of the found form; summed: the tagged index its product runs over."""
    if isinstance(form, Weighted):
        channel = ("c", row[1][0])
        weight = _array_entry(symbolic, form.weight, (channel, row, col))
        return weight * _array_entry(symbolic, form.operand, (channel, col))

    def slot(name, transposed, a, b):
        return _array_entry(symbolic, name, (b, a) if transposed else (a, b))
    left = slot(form.left, form.left_transposed, row, summed)
    right = sp.Integer(1) if form.right is None else slot(form.right, form.right_transposed, summed, col)
    return left * right


def matrix_form_in_indices(symbolic: SymbolicLayer, gradient: MatrixGradient) -> tuple[Term, ...]:
    """The found form written back in the layer's indices, before collapsing; dX through col2im's
    chain rule: dX[e] = sum_{k, q} (flat gradient)[k, q] d A[k, q] / d X[e]."""
    axes = symbolic.axes
    n0 = fresh("n", symbolic.entry("X")[0][1])
    positions = [fresh(a[3], a[1] - 1) for a in axes]
    q = ("q", (n0.symbol,) + tuple(i.symbol for i in positions))
    if gradient.name == "dX":
        c0 = fresh("c", symbolic.entry("X")[1][1])
        kernel = [fresh(a[4], a[2] - 1) for a in axes]
        k = ("k", (c0.symbol,) + tuple(u.symbol for u in kernel))
        summed = fresh("f", symbolic.entry("W")[0][1]) if symbolic.is_convolution else None
        value = _form_entry(symbolic, gradient.form, k, q, ("f", summed.symbol) if summed else None)
        target = X[tuple(letter for letter, _ in symbolic.entry("X"))]
        gathered = _array_entry(symbolic, "A", (k, q))
        indices = ((summed,) if summed is not None else ()) + (c0, *kernel, n0, *positions)
        return (Term(value * sp.diff(gathered, target), indices),)
    letters = [letter for letter, _ in symbolic.entry(gradient.name[1:])]
    row = ("f", letters[0])
    col = ("k", tuple(letters[1:])) if gradient.name == "dW" else None
    return (Term(_form_entry(symbolic, gradient.form, row, col, q), (n0, *positions)),)


def prove_index_level(gradients: LayerGradients) -> ProofResult:
    """At symbolic sizes: chain rule on the forward pass and the found matrix form collapse to one sum."""
    symbolic = gradients.layer
    forms = {m.name: m for m in find_matrix_forms(symbolic.is_convolution)}
    for gradient in gradients.gradients:
        try:
            written = matrix_form_in_indices(symbolic, forms[gradient.name])
        except SlotMismatch as mismatch:
            return ProofResult("index level", False, (), f"{gradient.name}: {forms[gradient.name].latex()} "
                               f"does not fit the layer's indices ({mismatch})")
        collapsed = list(collapse_terms(written, gradient.entry))
        if not same_terms(list(gradient.collapsed), collapsed):
            return ProofResult("index level", False, (), f"{gradient.name}: the chain rule gives "
                               f"{[t.coefficient for t in gradient.collapsed]} but the matrix form "
                               f"{forms[gradient.name].latex()} gives {[t.coefficient for t in collapsed]}")
    return ProofResult("index level", True, tuple(g.name for g in gradients.gradients))


def prove_all(gradients: LayerGradients, tiny: ConvolutionLayer,
              realistic: ConvolutionLayer) -> tuple[ProofResult, ...]:
    return (prove_entrywise(gradients, tiny), prove_randomized(gradients, realistic), prove_index_level(gradients))
