"""A person's batch-norm (or layer-norm) backward, checked against the derived gradients.

The contract is cs231n's batchnorm_backward with the forward's inputs in place of its cache:

    fn(x, gamma, beta, dout, eps) -> (dx, dgamma, dbeta)

x and dout are N x D float64 arrays, gamma and beta have shape (D,), eps is a float; dx must have
x's shape, dgamma and dbeta D entries each. The function is called at seeded random points, and
at each point its outputs are compared with the derived gradients (derive_normalization evaluated
in float64). When they differ, every catalogued mistake (derive/normalization/mistakes.py, each an
edit of the derived formula) is evaluated at the same points, and those that reproduce the
function's numbers are named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.diagnose.layer_verdict import ContractError, closing_line
from checks.diagnose.time_limit import TimeUp, time_limit

# relative to each output's largest entry: rounding in a correct float64 backward is ~1e-15; a
# catalogued mistake moves an output by far more than 1e-9 of its scale at these points
DEFAULT_TOLERANCE = 1e-9
# Points: (N, D, x scale, epsilon). Small spread with a large epsilon makes eps visible (eps / var
# ~ 0.1 to 1), the cs231n point (x = 5 randn + 12, eps = 1e-5) is the classic one; N != D so that a
# sum along the wrong axis cannot broadcast by accident.
POINTS = ((4, 5, 5.0, 1e-5), (6, 3, 0.3, 0.05), (3, 7, 1.0, 0.5), (5, 4, 2.0, 0.1))
OUTPUTS = ("dx", "dgamma", "dbeta")
# seconds one call of the user's function may take, as for the network `verify` (DEFAULT_TIMEOUT in
# checks/diagnose/user_function.py): a backward of a 7 x 7 batch takes microseconds, so only a hang reaches it
DEFAULT_TIMEOUT = 30.0
_DERIVED_NAMES = {"dx": "dX", "dgamma": "dgamma", "dbeta": "dbeta"}


@dataclass(frozen=True)
class PointResult:
    index: int
    shape: tuple[int, int]
    epsilon: float
    errors: dict  # output -> worst |fn - derived| / max |derived|


@dataclass(frozen=True)
class LayerVerdict:
    name: str
    kind: str
    unbiased: bool
    tolerance: float
    points: tuple[PointResult, ...]
    mistakes: tuple[tuple[str, str], ...]  # (name, what was done) of every mistake that reproduces fn

    @property
    def passed(self) -> bool:
        return all(e <= self.tolerance for p in self.points for e in p.errors.values())

    def text(self) -> str:
        layer = "batch norm" if self.kind == "batch" else "layer norm"
        lines = [f"verify {self.name} as {layer}'s backward: fn(x, gamma, beta, dout, eps) -> (dx, dgamma, dbeta)",
                 f"tolerance {self.tolerance:g} of each output's largest derived entry"]
        for point in self.points:
            figures = ", ".join(f"{o} {point.errors[o]:.1e}" for o in OUTPUTS)
            wrong = [o for o in OUTPUTS if point.errors[o] > self.tolerance]
            lines.append(f"  point {point.index} (N x D = {point.shape[0]} x {point.shape[1]}, eps = {point.epsilon:g}): "
                         f"{figures}" + (f"  DIFFERS: {', '.join(wrong)}" if wrong else ""))
        lines.append(closing_line(self.passed, self.mistakes))
        return "\n".join(lines)


def draw_point(N: int, D: int, scale: float, seed: int):
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal((N, D)) + 3.0
    return x, rng.standard_normal(D), rng.standard_normal(D), rng.standard_normal((N, D))


def call_function(fn, x, gamma, beta, dout, epsilon: float, timeout: float | None = DEFAULT_TIMEOUT) -> dict:
    """fn's three outputs as float64 arrays of the derived shapes.

    Raises:
        ContractError: fn raised, exited, ran past `timeout` seconds, or returned something that is
            not three arrays of the right sizes.
    """
    try:
        with time_limit(timeout):
            result = fn(x.copy(), gamma.copy(), beta.copy(), dout.copy(), epsilon)
    except TimeUp:
        raise ContractError(f"the function ran past the time limit of {timeout:g} s (--timeout)") from None
    except SystemExit as error:
        raise ContractError(f"the function called sys.exit({error.code!r})") from None
    except Exception as error:  # the user's code: report it as bad input, do not crash
        raise ContractError(f"the function raised {type(error).__name__}: {error}") from None
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise ContractError("the function must return three arrays (dx, dgamma, dbeta), "
                            f"got {type(result).__name__}")
    N, D = x.shape
    expected = {"dx": (N, D), "dgamma": (D,), "dbeta": (D,)}
    outputs = {}
    for name, value in zip(OUTPUTS, result):
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ContractError(f"{name} is not an array of numbers") from None
        if array.size != int(np.prod(expected[name])) or (name == "dx" and array.shape != (N, D)):
            raise ContractError(f"{name} has shape {array.shape}, expected {expected[name]} "
                                f"(x is {N} x {D})")
        outputs[name] = array.reshape(expected[name])
    return outputs


def _errors(outputs: dict, reference: dict) -> dict:
    errors = {}
    for name in OUTPUTS:
        expected = reference[_DERIVED_NAMES[name]]
        scale = max(float(np.max(np.abs(expected))), 1e-300)
        difference = np.abs(outputs[name] - expected)
        errors[name] = float(np.max(difference)) / scale if np.all(np.isfinite(difference)) else float("inf")
    return errors


def verify_layer_function(fn, kind: str = "batch", unbiased: bool = False, points: int = 3, seed: int = 0,
                          tolerance: float = DEFAULT_TOLERANCE, name: str = "fn",
                          timeout: float | None = DEFAULT_TIMEOUT) -> LayerVerdict:
    """fn at `points` seeded points (cycling through POINTS), against the derived gradients.

    Raises:
        ContractError: fn does not fit the contract at some point.
    """
    from derive.normalization import derive_normalization, evaluate_gradients
    from derive.normalization.mistakes import CATALOGUE

    gradients = derive_normalization(kind, unbiased)
    results, calls = [], []
    for index in range(points):
        N, D, scale, epsilon = POINTS[index % len(POINTS)]
        x, gamma, beta, dout = draw_point(N, D, scale, seed + index)
        outputs = call_function(fn, x, gamma, beta, dout, epsilon, timeout)
        derived = evaluate_gradients(gradients, x, gamma, dout, epsilon)
        results.append(PointResult(index, (N, D), epsilon, _errors(outputs, derived)))
        calls.append((x, gamma, dout, epsilon, outputs))
    mistakes = []
    if not all(e <= tolerance for p in results for e in p.errors.values()):
        for mistake_name, what, edit in CATALOGUE:
            try:
                planted = edit(gradients)
            except ValueError:  # not plantable here (1/(M-1) when the forward already uses it)
                continue
            if all(e <= tolerance for x, gamma, dout, epsilon, outputs in calls
                   for e in _errors(outputs, evaluate_gradients(planted, x, gamma, dout, epsilon)).values()):
                if (mistake_name, what) not in mistakes:
                    mistakes.append((mistake_name, what))
    return LayerVerdict(name, kind, unbiased, tolerance, tuple(results), tuple(mistakes))
