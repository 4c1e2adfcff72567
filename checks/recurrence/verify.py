"""A person's backprop through time, checked against the derived one, its mistake named.

The contract is cs231n's rnn_forward + rnn_backward (lstm_forward + lstm_backward) in one call:

    fn(x, h0, Wx, Wh, b, dh) -> (dx, dh0, dWx, dWh, db)

row convention with a batch: x is N x T x D, h0 N x H, Wx D x H (LSTM: D x 4H, gates stacked i, f,
o, g), Wh H x H (H x 4H), b H (4H), dh N x T x H the gradient each h_t gets from above (from its
output); the LSTM's c0 is 0 as in cs231n. The derived route gets the same upstream gradient by an
identity output layer (W_hy = I, c = 0, dy_t = dh_t). When the numbers differ, every catalogued
mistake (derive/recurrence/mistakes.py, each an edit of the derived backward) is run at the same
points, and those that reproduce the function's numbers are named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.diagnose.layer_verdict import ContractError, closing_line
from checks.recurrence import reference
from checks.diagnose.time_limit import TimeUp, time_limit

DEFAULT_TOLERANCE = 1e-9
DEFAULT_TIMEOUT = 30.0
# (N sequences, T steps, D, H): T >= 3 so that a cut recursion, a missing sum over time and h_t for
# h_{t-1} all move the numbers; D != H so that a transposed weight cannot broadcast by accident
POINTS = ((2, 4, 3, 5), (3, 5, 4, 3), (1, 6, 2, 4))
OUTPUTS = ("dx", "dh0", "dWx", "dWh", "db")


@dataclass(frozen=True)
class PointResult:
    index: int
    sizes: tuple[int, int, int, int]
    errors: dict


@dataclass(frozen=True)
class SequenceFunctionVerdict:
    name: str
    kind: str
    tolerance: float
    points: tuple[PointResult, ...]
    mistakes: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> bool:
        return all(e <= self.tolerance for p in self.points for e in p.errors.values())

    def text(self) -> str:
        layer = "RNN" if self.kind == "rnn" else "LSTM"
        lines = [f"verify {self.name} as the {layer}'s backprop through time: fn(x, h0, Wx, Wh, b, dh) -> "
                 "(dx, dh0, dWx, dWh, db)", f"tolerance {self.tolerance:g} of each output's largest derived entry"]
        for point in self.points:
            N, T, D, H = point.sizes
            figures = ", ".join(f"{o} {point.errors[o]:.1e}" for o in OUTPUTS)
            wrong = [o for o in OUTPUTS if point.errors[o] > self.tolerance]
            lines.append(f"  point {point.index} (N = {N}, T = {T}, D = {D}, H = {H}): {figures}"
                         + (f"  DIFFERS: {', '.join(wrong)}" if wrong else ""))
        lines.append(closing_line(self.passed, self.mistakes, "the derived backprop through time"))
        return "\n".join(lines)


def draw_point(kind, N, T, D, H, seed):
    rng = np.random.default_rng(seed)
    width = H if kind == "rnn" else 4 * H
    return (rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), 0.5 * rng.standard_normal((D, width)),
            0.5 * rng.standard_normal((H, width)), rng.standard_normal(width), rng.standard_normal((N, T, H)))


def call_function(fn, arrays, timeout):
    x, h0, Wx, Wh, b, dh = arrays
    try:
        with time_limit(timeout):
            result = fn(*(a.copy() for a in arrays))
    except TimeUp:
        raise ContractError(f"the function ran past the time limit of {timeout:g} s (--timeout)") from None
    except SystemExit as error:
        raise ContractError(f"the function called sys.exit({error.code!r})") from None
    except Exception as error:  # the user's code: bad input, not a crash
        raise ContractError(f"the function raised {type(error).__name__}: {error}") from None
    if not isinstance(result, (tuple, list)) or len(result) != 5:
        raise ContractError(f"the function must return five arrays (dx, dh0, dWx, dWh, db), got {type(result).__name__}")
    expected = dict(zip(OUTPUTS, (x.shape, h0.shape, Wx.shape, Wh.shape, b.shape)))
    outputs = {}
    for name, value in zip(OUTPUTS, result):
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ContractError(f"{name} is not an array of numbers") from None
        if array.size != int(np.prod(expected[name])):
            raise ContractError(f"{name} has shape {array.shape}, expected {expected[name]}")
        outputs[name] = array.reshape(expected[name])
    return outputs


def derived_outputs(derivation, kind, arrays) -> dict:
    """The derived backward at the contract's point: row convention, identity output layer."""
    from derive.recurrence.evaluate import float_functions, run_backward, run_forward

    x, h0, Wx, Wh, b, dh = arrays
    N, T, _ = x.shape
    H = h0.shape[1]
    identity = {"W_hy": np.eye(H), ("c" if kind == "rnn" else "b_y"): np.zeros((1, H))}
    if kind == "rnn":
        params = {"W_xh": Wx, "W_hh": Wh, "b": b.reshape(1, -1), **identity}
        initial = {"h": h0}
    else:
        params = dict(identity)
        for n, gate in enumerate(reference.GATE_ORDER):
            part = slice(n * H, (n + 1) * H)
            params.update({f"W_x{gate}": Wx[:, part], f"W_h{gate}": Wh[:, part], f"b_{gate}": b[part].reshape(1, -1)})
        initial = {"h": h0, "c": np.zeros_like(h0)}
    functions = float_functions()
    forward = run_forward(derivation, params, [x[:, s, :] for s in range(T)], initial, functions)
    found = run_backward(derivation, params, forward, [dh[:, s, :] for s in range(T)], functions)
    if kind == "rnn":
        dWx, dWh, db = found["W_xh"], found["W_hh"], found["b"].ravel()
    else:
        dWx = np.hstack([found[f"W_x{g}"] for g in reference.GATE_ORDER])
        dWh = np.hstack([found[f"W_h{g}"] for g in reference.GATE_ORDER])
        db = np.concatenate([found[f"b_{g}"].ravel() for g in reference.GATE_ORDER])
    return {"dx": np.stack(found["x"], axis=1), "dh0": found["h_0"], "dWx": dWx, "dWh": dWh, "db": db}


def _errors(outputs: dict, expected: dict) -> dict:
    errors = {}
    for name in OUTPUTS:
        scale = max(float(np.max(np.abs(expected[name]))), 1e-300)
        difference = np.abs(outputs[name] - expected[name])
        errors[name] = float(np.max(difference)) / scale if np.all(np.isfinite(difference)) else float("inf")
    return errors


def verify_sequence_function(fn, kind="rnn", points=3, seed=0, tolerance=DEFAULT_TOLERANCE, name="fn",
                             timeout=DEFAULT_TIMEOUT) -> SequenceFunctionVerdict:
    """fn at `points` seeded points (cycling through POINTS), against the derived backward.

    Raises:
        ContractError: fn does not fit the contract at some point.
    """
    from derive.recurrence.derivation import derive_recurrence
    from derive.recurrence.mistakes import CATALOGUE, NotApplicable

    derivation = derive_recurrence(kind, "row", "tanh")
    results, calls = [], []
    for index in range(points):
        sizes = POINTS[index % len(POINTS)]
        arrays = draw_point(kind, *sizes, seed + index)
        outputs = call_function(fn, arrays, timeout)
        results.append(PointResult(index, sizes, _errors(outputs, derived_outputs(derivation, kind, arrays))))
        calls.append((arrays, outputs))
    mistakes = []
    if not all(e <= tolerance for p in results for e in p.errors.values()):
        for mistake, what, edit in CATALOGUE:
            try:
                planted = edit(derivation)
            except NotApplicable:
                continue
            if all(e <= tolerance for arrays, outputs in calls
                   for e in _errors(outputs, derived_outputs(planted, kind, arrays)).values()):
                mistakes.append((mistake, what))
    return SequenceFunctionVerdict(name, kind, tolerance, tuple(results), tuple(mistakes))
