"""The three-route numeric verdict for convolution and pooling, cs231n's gradient check style.

Three routes give dX (and dW, db for a convolution) at the same point:
- derived: the matrix forms found from the forward pass, evaluated by im2col / col2im (derive/);
  for a convolution, dX also by the rotated-kernel full correlation, the other explanation;
- hand-written: checks/convolution/reference.py's loops (NumPy only);
- finite differences: central differences of J = sum(G * Y), Y from the hand-written forward.

Each pair is compared with cs231n's rel_error, max |a - b| / max(1e-8, |a| + |b|), entry by entry.
Max pooling's point has a tie of two in its first window: there the circuit's rule (split equally)
and the central difference (slope 1 one way, 0 the other: 1/2) must agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.convolution import reference
from derive.convolution.layer import ConvolutionLayer
from derive.convolution.routes import matrix_route, rotated_dx

ROUTES = ("derived", "hand_written", "finite_differences")
ROUTE_TITLES = {"derived": "derived", "hand_written": "hand-written", "finite_differences": "finite differences"}
PAIRS = (("derived", "hand_written"), ("derived", "finite_differences"), ("hand_written", "finite_differences"))
# two analytic routes differ by rounding (~1e-15 measured); cs231n's "1e-9 or better" is far above that
ANALYTIC_TOLERANCE = 1e-9
# J is linear in each of X, W, b (piecewise linear for pooling), so a central difference has no
# truncation error, only rounding: ~1e-12 at h = 1e-3; cs231n calls below 1e-7 "probably right"
DIFFERENCE_TOLERANCE = 1e-7
STEP = 1e-3


@dataclass(frozen=True)
class Point:
    layer: ConvolutionLayer
    x: np.ndarray
    g: np.ndarray
    w: np.ndarray | None = None
    b: np.ndarray | None = None
    description: str = ""


def _spread_apart(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distinct values at least 4 h apart, so that a step h never changes which entry is largest."""
    flat = np.sort(rng.choice(np.arange(values.size) * 4 * STEP * 10, size=values.size, replace=False))
    return rng.permutation(flat - flat.mean()).reshape(values.shape)


def default_point(layer: ConvolutionLayer, seed: int = 0) -> Point:
    """X, W, b, G standard normal from default_rng(seed); max pooling's X spread apart with one tie of two."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(layer.input_shape)
    w = rng.standard_normal(layer.weight_shape) if layer.is_convolution else None
    b = rng.standard_normal(layer.filters) if layer.is_convolution else None
    g = rng.standard_normal(layer.output_shape)
    text = f"X, W, b, G standard normal, seed {seed}"
    if layer.kind == "maxpool" and layer.kernel[0] * layer.kernel[1] > 1:  # a 1 x 1 window has no tie
        x = _spread_apart(x, rng)
        window = x[0, 0, :layer.kernel[0], :layer.kernel[1]]
        order = np.argsort(window, axis=None)
        largest, second = np.unravel_index(order[-1], window.shape), np.unravel_index(order[-2], window.shape)
        window[second] = window[largest]  # a view: the first window of X now has a tie of two
        text = (f"X distinct (steps of {40 * STEP:g}) with a tie of two in the first window, G standard normal, "
                f"seed {seed}")
    return Point(layer, x, g, w, b, text)


def derived(point: Point) -> dict[str, np.ndarray]:
    return matrix_route(point.layer, point.x, point.g, point.w)


def hand_written(point: Point) -> dict[str, np.ndarray]:
    layer = point.layer
    if layer.is_convolution:
        dx, dw, db = reference.conv_backward(point.g, point.x, point.w, point.b, layer.stride, layer.padding)
        return {"dX": dx, "dW": dw, "db": db}
    mode = "max" if layer.kind == "maxpool" else "avg"
    return {"dX": reference.pool_backward(point.g, point.x, layer.kernel, layer.stride, mode)}


def _cost(point: Point, x, w, b) -> float:
    layer = point.layer
    if layer.is_convolution:
        y = reference.conv_forward(x, w, b, layer.stride, layer.padding)
    else:
        y = reference.pool_forward(x, layer.kernel, layer.stride, "max" if layer.kind == "maxpool" else "avg")
    return float(np.sum(point.g * y))


def finite_differences(point: Point) -> dict[str, np.ndarray]:
    """(J(v + h) - J(v - h)) / 2h for every entry of X, W and b."""
    arrays = {"dX": point.x, "dW": point.w, "db": point.b}
    names = ("dX", "dW", "db") if point.layer.is_convolution else ("dX",)
    result = {}
    for name in names:
        gradient = np.zeros_like(arrays[name])
        for index in np.ndindex(*gradient.shape):
            values = []
            for step in (STEP, -STEP):
                moved = {k: (None if v is None else v.copy()) for k, v in arrays.items()}
                moved[name][index] += step
                values.append(_cost(point, moved["dX"], moved["dW"], moved["db"]))
            gradient[index] = (values[0] - values[1]) / (2 * STEP)
        result[name] = gradient
    return result


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """cs231n's relative error, worst entry."""
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


@dataclass(frozen=True)
class Comparison:
    name: str
    errors: tuple[float, ...]  # one per pair in PAIRS


@dataclass(frozen=True)
class Verdict:
    point: Point
    comparisons: tuple[Comparison, ...]
    rotated_error: float | None  # dX by the rotated kernel vs by col2im (convolution)
    shape_errors: tuple[str, ...] = ()

    @property
    def agree(self) -> bool:
        bounds = (ANALYTIC_TOLERANCE, DIFFERENCE_TOLERANCE, DIFFERENCE_TOLERANCE)
        ok = all(e <= bound for c in self.comparisons for e, bound in zip(c.errors, bounds))
        return ok and not self.shape_errors and (self.rotated_error is None or self.rotated_error <= ANALYTIC_TOLERANCE)


def check_layer(point: Point, routes: dict | None = None) -> Verdict:
    """The three routes compared pairwise. routes: a replacement for any route (tests plant bugs)."""
    found = {"derived": derived(point), "hand_written": hand_written(point),
             "finite_differences": finite_differences(point)}
    found.update(routes or {})
    comparisons, shapes = [], []
    for name in found["derived"]:
        errors = []
        for a, b in PAIRS:
            first, second = found[a][name], found[b][name]
            if first.shape != second.shape:
                shapes.append(f"{name}: {ROUTE_TITLES[a]} {first.shape} vs {ROUTE_TITLES[b]} {second.shape}")
                errors.append(float("inf"))
            else:
                errors.append(rel_error(first, second))
        comparisons.append(Comparison(name, tuple(errors)))
    rotated = None
    if point.layer.is_convolution:
        rotated = rel_error(rotated_dx(point.layer, point.w, point.g), found["derived"]["dX"])
    return Verdict(point, tuple(comparisons), rotated, tuple(shapes))


def describe_layer(layer: ConvolutionLayer) -> str:
    size = "x".join(map(str, layer.input_shape))
    kernel = "x".join(map(str, layer.kernel))
    if layer.is_convolution:
        return (f"{layer.kind}: input {size}, {layer.filters} filters of {kernel}, stride {layer.stride}, "
                f"padding {layer.padding}")
    return f"{layer.kind}: input {size}, window {kernel}, stride {layer.stride}"


def verdict_text(verdict: Verdict) -> str:
    lines = [f"check {describe_layer(verdict.point.layer)}",
             f"point: {verdict.point.description}",
             "cs231n relative error, worst entry:",
             "  " + "  ".join(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]}" for a, b in PAIRS)]
    for comparison in verdict.comparisons:
        lines.append(f"  {comparison.name}: " + ", ".join(f"{e:.1e}" for e in comparison.errors))
    if verdict.rotated_error is not None:
        lines.append(f"  dX by the rotated kernel (full correlation of the dilated G) vs col2im(W_col^T G_col): "
                     f"{verdict.rotated_error:.1e}")
    lines += [f"  shape: {s}" for s in verdict.shape_errors]
    lines.append("verdict: " + ("the three routes agree" if verdict.agree else "the routes DISAGREE"))
    return "\n".join(lines) + "\n"
