"""A person's convolution or pooling backward, checked against the derived gradients, its mistake named.

The contracts (cs231n's naive layers, with the forward's inputs in place of the cache):

    conv2d, conv1d:    fn(x, w, b, dout, stride, pad) -> (dx, dw, db)
    maxpool, avgpool:  fn(x, dout, kernel, stride) -> dx        (kernel = (kh, kw))

The function is called at seeded points chosen so that every catalogued mistake shows (stride 2,
padding 0 and 2 where K - 1 = 2p would hide a wrong border, F != C, a max-pool tie). Where its
outputs differ from the derived ones, each mistake of derive/convolution/mistakes.py is evaluated at
the same points, and those that reproduce every output are named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from checks.diagnose.layer_verdict import ContractError, closing_line
from checks.convolution.check import default_point
from checks.diagnose.time_limit import TimeUp, time_limit
from derive.convolution import numeric
from derive.convolution.derivation import LayerGradients, derive_convolution
from derive.convolution.layer import ConvolutionLayer, make_layer
from derive.convolution.mistakes import CATALOGUE, planted
from derive.convolution.routes import matrix_route

DEFAULT_TOLERANCE = 1e-9  # of each output's largest derived entry; rounding is ~1e-15
DEFAULT_TIMEOUT = 30.0
# (batch, channels, size, kernel, stride, padding, filters) per layer kind
POINTS = {
    "conv2d": ((2, 3, (7, 7), (3, 3), 2, 1, 4), (1, 2, (6, 5), (3, 3), 1, 0, 3), (2, 2, (5, 6), (3, 3), 2, 2, 3)),
    "conv1d": ((2, 3, (9,), (3,), 2, 1, 4), (1, 2, (8,), (3,), 1, 0, 3), (2, 2, (7,), (3,), 2, 2, 3)),
    "maxpool": ((2, 3, (6, 6), (2, 2), 2, 0, 1), (1, 2, (7, 7), (3, 3), 2, 0, 1)),
    "avgpool": ((2, 3, (6, 6), (2, 2), 2, 0, 1), (1, 2, (7, 7), (3, 3), 2, 0, 1)),
}


@dataclass(frozen=True)
class PointResult:
    layer: ConvolutionLayer
    errors: dict  # output -> worst |fn - derived| / max |derived|, inf for a wrong shape
    shapes: dict  # output -> the shape fn returned


@dataclass(frozen=True)
class Verdict:
    name: str
    kind: str
    tolerance: float
    points: tuple[PointResult, ...]
    mistakes: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> bool:
        return all(e <= self.tolerance for p in self.points for e in p.errors.values())

    def text(self) -> str:
        from checks.convolution.check import describe_layer

        contract = "fn(x, w, b, dout, stride, pad) -> (dx, dw, db)" if self.kind in ("conv2d", "conv1d") \
            else "fn(x, dout, kernel, stride) -> dx"
        lines = [f"verify {self.name} as {self.kind}'s backward: {contract}",
                 f"tolerance {self.tolerance:g} of each output's largest derived entry"]
        for index, point in enumerate(self.points):
            figures = ", ".join(f"{o} {e:.1e}" if math.isfinite(e) else f"{o} shape {point.shapes[o]}"
                                for o, e in point.errors.items())
            wrong = [o for o, e in point.errors.items() if e > self.tolerance]
            lines.append(f"  point {index} ({describe_layer(point.layer)}): {figures}"
                         + (f"  DIFFERS: {', '.join(wrong)}" if wrong else ""))
        lines.append(closing_line(self.passed, self.mistakes))
        return "\n".join(lines)


def call_function(fn, layer: ConvolutionLayer, point, timeout: float | None) -> dict:
    """fn's outputs as float64 arrays (any shape: a wrong shape is a finding, not an error)."""
    try:
        with time_limit(timeout):
            if layer.is_convolution:
                result = fn(point.x.copy(), point.w.copy(), point.b.copy(), point.g.copy(), layer.stride, layer.padding)
            else:
                result = fn(point.x.copy(), point.g.copy(), tuple(layer.kernel), layer.stride)
    except TimeUp:
        raise ContractError(f"the function ran past the time limit of {timeout:g} s (--timeout)") from None
    except SystemExit as error:
        raise ContractError(f"the function called sys.exit({error.code!r})") from None
    except Exception as error:  # the user's code: report it as bad input, do not crash
        raise ContractError(f"the function raised {type(error).__name__}: {error}") from None
    names = ("dX", "dW", "db") if layer.is_convolution else ("dX",)
    if layer.is_convolution and (not isinstance(result, (tuple, list)) or len(result) != 3):
        raise ContractError(f"the function must return three arrays (dx, dw, db), got {type(result).__name__}")
    values = result if layer.is_convolution else (result,)
    outputs = {}
    for name, value in zip(names, values):
        try:
            outputs[name] = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ContractError(f"{name.lower()} is not an array of numbers") from None
    return outputs


def _errors(outputs: dict, expected: dict) -> dict:
    errors = {}
    for name, value in expected.items():
        if outputs[name].shape != value.shape:
            errors[name] = math.inf
            continue
        scale = max(float(np.max(np.abs(value))), 1e-300)
        difference = np.abs(outputs[name] - value)
        errors[name] = float(np.max(difference)) / scale if np.all(np.isfinite(difference)) else math.inf
    return errors


def _planted_outputs(gradients: LayerGradients, layer: ConvolutionLayer, point, derived: dict, mistake) -> dict:
    """The derived outputs with the mistake's gradient replaced by what the mistake computes."""
    edited = planted(gradients, mistake).by_name(mistake.gradient)
    arrays = {"X": point.x, "G": point.g}
    if layer.is_convolution:
        arrays.update({"W": point.w, "b": point.b})
    elif layer.kind == "maxpool":
        arrays["S"] = _selector(layer, point.x)
    sizes = gradients.layer.sizes(layer)
    shape = tuple(int(upper.xreplace(sizes)) + 1 for _, upper in edited.entry)
    value = numeric.evaluate_index(edited, gradients.layer, layer, arrays, shape)
    return {**derived, mistake.gradient: value}


def _selector(layer: ConvolutionLayer, x: np.ndarray) -> np.ndarray:
    (kh, kw), _, _, (oh, ow) = numeric.geometry(layer)
    weights = numeric.max_selector(layer, x)
    full = weights.reshape(layer.channels, kh, kw, layer.batch, oh, ow).transpose(3, 0, 4, 5, 1, 2)
    return full.reshape((layer.batch, layer.channels) + layer.out_size + layer.kernel)


def verify_function(fn, kind: str, seed: int = 0, tolerance: float = DEFAULT_TOLERANCE, name: str = "fn",
                    timeout: float | None = DEFAULT_TIMEOUT, points: int | None = None) -> Verdict:
    """fn at `points` seeded points cycling through the geometries of POINTS[kind] (default: each once,
    which every catalogued mistake needs to show), against the derived gradients.

    Raises:
        ContractError: fn raised, ran too long or returned something that is not the contract's arrays.
    """
    gradients = derive_convolution(kind)
    results, calls = [], []
    geometries = POINTS[kind]
    for index in range(len(geometries) if points is None else points):
        batch, channels, size, kernel, stride, padding, filters = geometries[index % len(geometries)]
        layer = make_layer(kind, batch, channels, size, kernel, stride, padding, filters)
        point = default_point(layer, seed + index)
        outputs = call_function(fn, layer, point, timeout)
        derived = matrix_route(layer, point.x, point.g, point.w)
        results.append(PointResult(layer, _errors(outputs, derived), {k: v.shape for k, v in outputs.items()}))
        calls.append((layer, point, derived, outputs))
    mistakes = []
    if not all(e <= tolerance for p in results for e in p.errors.values()):
        for mistake in CATALOGUE:
            if kind not in mistake.kinds:
                continue
            if all(e <= tolerance for layer, point, derived, outputs in calls
                   for e in _errors(outputs, _planted_outputs(gradients, layer, point, derived, mistake)).values()):
                mistakes.append((mistake.name, mistake.what))
    return Verdict(name, kind, tolerance, tuple(results), tuple(mistakes))
