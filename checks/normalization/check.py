"""The three-route numeric verdict for batch norm and layer norm, cs231n's gradient check style.

Three routes give dX, dgamma and dbeta at the same point:
- derived: the matrix forms derive_normalization found, evaluated in float64 (derive/);
- hand-written: checks/handwritten/normalization.py, the staged graph walked backwards (NumPy only);
- finite differences: checks/handwritten/normalization.py's five-point central differences of J = sum(G * Y).

Each pair is compared with cs231n's rel_error, max |a - b| / max(1e-8, |a| + |b|) entry by entry.
The default point is cs231n's batch-norm gradient check (BatchNormalization.ipynb): N = 4, D = 5,
x = 5 randn + 12, gamma = randn, beta = randn, dout = randn, epsilon = 1e-5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from checks.handwritten import normalization as reference
ROUTES = ("derived", "hand_written", "finite_differences")
ROUTE_TITLES = {"derived": "derived", "hand_written": "hand-written", "finite_differences": "finite differences"}
PAIRS = (("derived", "hand_written"), ("derived", "finite_differences"), ("hand_written", "finite_differences"))
GRADIENTS = ("dX", "dgamma", "dbeta")
# Two analytic routes differ by rounding only: ~1e-15 measured at cs231n's point; 1e-9 is cs231n's
# own "or better" for its gradient check, far above rounding and far below any wrong term.
ANALYTIC_TOLERANCE = 1e-9
# The five-point differences at h = 1e-3 agree to ~1e-10 here (see norm_reference.py); cs231n calls
# a relative error below 1e-7 "probably right".
DIFFERENCE_TOLERANCE = 1e-7
DEFAULT_EXAMPLES, DEFAULT_FEATURES, DEFAULT_EPSILON = 4, 5, 1e-5
LAYER_KIND = {"batchnorm": "batch", "layernorm": "layer"}


class NormCheckInputError(ValueError):
    """A point file or option the check cannot use."""


@dataclass(frozen=True)
class Point:
    """Where the gradients are compared: x (N x D), gamma and beta (D,), dout = G = dJ/dY (N x D)."""

    x: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    dout: np.ndarray
    epsilon: float
    description: str


def cs231n_point(examples: int = DEFAULT_EXAMPLES, features: int = DEFAULT_FEATURES,
                 epsilon: float = DEFAULT_EPSILON, seed: int = 0) -> Point:
    """cs231n's batch-norm gradient check point, drawn from NumPy's default_rng(seed)."""
    rng = np.random.default_rng(seed)
    x = 5 * rng.standard_normal((examples, features)) + 12
    gamma, beta = rng.standard_normal(features), rng.standard_normal(features)
    dout = rng.standard_normal((examples, features))
    return Point(x, gamma, beta, dout, epsilon,
                 f"cs231n's gradient check: x = 5 randn + 12, gamma, beta, dout = randn (seed {seed})")


def read_point(path: str | Path, epsilon: float) -> Point:
    """A point from JSON {"x": [[...]], "gamma": [...], "beta": [...], "dout": [[...]]}.

    Raises:
        NormCheckInputError: unreadable file, missing key, or entries that are not numbers.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NormCheckInputError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or set(data) != {"x", "gamma", "beta", "dout"}:
        raise NormCheckInputError(f"{path} must hold a JSON object with exactly the keys x, gamma, beta, dout")
    arrays = {}
    for key in ("x", "gamma", "beta", "dout"):
        try:
            arrays[key] = np.asarray(data[key], dtype=float)
        except (TypeError, ValueError):
            raise NormCheckInputError(f"{path}: {key} is not an array of numbers") from None
        if not np.all(np.isfinite(arrays[key])):
            raise NormCheckInputError(f"{path}: {key} holds a number that is not finite")
    return Point(arrays["x"], arrays["gamma"], arrays["beta"], arrays["dout"], epsilon, str(path))


@dataclass(frozen=True)
class GradientComparison:
    """One gradient: cs231n's relative error for each pair of routes (PAIRS order)."""

    name: str
    errors: tuple[float, ...]
    agree: bool
    scaled_errors: tuple[float, ...] = ()  # max |a - b| over the gradient's largest entry


def scaled_error(a, b) -> float:
    """max |a - b| / max |a|, |b|: cs231n's entrywise figure blows up on an entry that is exactly 0
    (dbeta of a column of G summing to 0), where finite differences leave ~1e-13 of rounding and
    1e-13 / 1e-8 = 1e-5 would read as a disagreement; a pair agrees when either figure is small."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-300)
    return float(np.max(np.abs(a - b))) / scale


@dataclass(frozen=True)
class NormVerdict:
    kind: str
    unbiased: bool
    point: Point
    gradients: dict  # route -> {"dX": ..., "dgamma": ..., "dbeta": ...}
    comparisons: tuple[GradientComparison, ...]

    @property
    def agree(self) -> bool:
        return all(c.agree for c in self.comparisons)

    @property
    def thresholds(self) -> tuple[float, ...]:
        return tuple(DIFFERENCE_TOLERANCE if "finite_differences" in pair else ANALYTIC_TOLERANCE for pair in PAIRS)


def check_layer(kind: str, point: Point, unbiased: bool = False, gradients=None) -> NormVerdict:
    """The three routes at `point`, compared pairwise.

    gradients: the derived route's NormalizationGradients (default: derive_normalization(kind,
    unbiased)); pass a planted mistake to see the check fail.

    Raises:
        NormalizationInputError: the layer is undefined at this point (N = 1 batch norm, D = 1
            layer norm, gamma or beta of the wrong shape, dout not of x's shape).
    """
    from derive.normalization import derive_normalization, evaluate_gradients
    from derive.normalization.errors import check_parameter_shape

    gradients = derive_normalization(kind, unbiased) if gradients is None else gradients
    derived = evaluate_gradients(gradients, point.x, point.gamma, point.dout, point.epsilon)  # checks shapes
    check_parameter_shape("beta", np.shape(point.beta), point.x.shape[1])
    _, cache = reference.forward(kind, point.x, point.gamma, point.beta, point.epsilon, unbiased)
    hand = dict(zip(GRADIENTS, reference.backward(point.dout, cache)))
    differences = dict(zip(GRADIENTS, reference.finite_difference_gradients(
        kind, point.x, point.gamma, point.beta, point.dout, point.epsilon, unbiased)))
    routes = {"derived": derived, "hand_written": hand, "finite_differences": differences}
    comparisons = []
    limits = tuple(DIFFERENCE_TOLERANCE if "finite_differences" in pair else ANALYTIC_TOLERANCE for pair in PAIRS)
    for name in GRADIENTS:
        errors = tuple(reference.rel_error(routes[a][name], routes[b][name]) for a, b in PAIRS)
        scaled = tuple(scaled_error(routes[a][name], routes[b][name]) for a, b in PAIRS)
        agree = all(min(e, c) <= t for e, c, t in zip(errors, scaled, limits))
        comparisons.append(GradientComparison(name, errors, agree, scaled))
    return NormVerdict(kind, unbiased, point, routes, tuple(comparisons))


_CS231N_NAMES = {"dX": "dx", "dgamma": "dgamma", "dbeta": "dbeta"}


def verdict_text(verdict: NormVerdict) -> str:
    """What `backprop check --layer` prints: the routes, cs231n's figure, the verdict."""
    from checks.handwritten.normalization import FINITE_DIFFERENCE_STEP

    name = "batch norm" if verdict.kind == "batch" else "layer norm"
    variance = "unbiased variance (1/(M-1))" if verdict.unbiased else "biased variance (1/M)"
    N, D = verdict.point.x.shape
    lines = [f"check {name}, {variance}, N x D = {N} x {D}, epsilon = {verdict.point.epsilon:g}",
             f"point: {verdict.point.description}", "routes:",
             "  derived: the matrix forms derive_normalization found, evaluated in float64",
             "  hand-written: checks/handwritten/normalization.py, the staged graph walked backwards (NumPy only)",
             f"  finite differences: five-point central, every entry, h = {FINITE_DIFFERENCE_STEP:g}", "",
             "cs231n's gradient check (rel_error = max |a - b| / max(1e-8, |a| + |b|)):"]
    for comparison in verdict.comparisons:
        figures = ", ".join(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]} {e:.2e}"
                            + (f" ({c:.1e} of the largest entry)" if e > t else "")
                            for (a, b), e, c, t in zip(PAIRS, comparison.errors, comparison.scaled_errors,
                                                       verdict.thresholds))
        lines.append(f"  {_CS231N_NAMES[comparison.name]} error: {figures}"
                     + ("" if comparison.agree else "  DISAGREE"))
    lines.append(f"tolerances: analytic routes {ANALYTIC_TOLERANCE:g}, finite differences {DIFFERENCE_TOLERANCE:g}, "
                 "by cs231n's figure or of the gradient's largest entry (cs231n: below 1e-7 is probably right, "
                 "around 1e-9 or better is expected)")
    if verdict.agree:
        lines.append("verdict: agree -- derived, hand-written and finite differences give the same gradients")
    else:
        where = ", ".join(c.name for c in verdict.comparisons if not c.agree)
        lines.append(f"verdict: DISAGREE at {where}")
    return "\n".join(lines) + "\n"


def gradient_check_figure(verdict: NormVerdict) -> str:
    """cs231n's figure as an SVG bar chart: log10 of each relative error, with the tolerances.

    Plain SVG text (no Matplotlib), so the same verdict gives the same bytes.
    """
    width, height, left, top, row = 720, 60 + 26 * 9, 240, 40, 26
    low, high = -17, 0  # log10 range drawn

    def x_of(value: float) -> float:
        exponent = np.log10(max(value, 10.0 ** low))
        return left + (exponent - low) / (high - low) * (width - left - 20)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<text x="{left}" y="20">cs231n gradient check: relative error (log scale)</text>']
    y = top
    colours = {PAIRS[0]: "#4477aa", PAIRS[1]: "#ee6677", PAIRS[2]: "#228833"}
    for comparison in verdict.comparisons:
        for pair, error in zip(PAIRS, comparison.errors):
            label = f"{_CS231N_NAMES[comparison.name]}: {ROUTE_TITLES[pair[0]]} vs {ROUTE_TITLES[pair[1]]}"
            parts.append(f'<text x="4" y="{y + 14}" font-size="10">{label}</text>')
            parts.append(f'<rect x="{left}" y="{y + 3}" width="{x_of(error) - left:.1f}" height="16" '
                         f'fill="{colours[pair]}"/>')
            shown = f"{error:.1e}" if error > 0 else "0 (identical)"
            parts.append(f'<text x="{x_of(error) + 4:.1f}" y="{y + 15}" font-size="10">{shown}</text>')
            y += row
    for tolerance in (ANALYTIC_TOLERANCE, DIFFERENCE_TOLERANCE):
        parts.append(f'<line x1="{x_of(tolerance):.1f}" y1="{top}" x2="{x_of(tolerance):.1f}" y2="{y}" '
                     'stroke="#888" stroke-dasharray="4 3"/>')
        parts.append(f'<text x="{x_of(tolerance) + 2:.1f}" y="{y + 14}" font-size="10">{tolerance:g}</text>')
    for exponent in range(low + 1, high + 1, 4):
        parts.append(f'<text x="{x_of(10.0 ** exponent) - 10:.1f}" y="{top - 4}" font-size="9">1e{exponent}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
