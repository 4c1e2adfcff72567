"""Checking a person's backprop function against the derived gradients: contract, comparison, verdict."""

# The calling contract (row form shown; column form passes and expects every array transposed,
# exactly as checks/numpy_backprop.py documents the shapes):
#
#   fn(X, y, W1, [b1,] W2, [b2,] ...)      X (m, n_1), y (m, n_L), W(l) (n_l, n_{l+1}), b(l) (1, n_{l+1})
#
# with the parameters in the order W1, b1, W2, b2, ... (b only with --bias vector; with --bias unit
# W(l) has one more row, the bias unit's). What fn returns is chosen by `returns`:
#   "gradients" (default)  a tuple (dJ/dW1, dJ/db1, dJ/dW2, ...) in the parameter order, or a dict
#                          keyed by parameter name ("W1" or "dW1" or "dJ_dW1")
#   "cost"                 J as a number
#   "delta2" ("deltas")    one delta (every delta, delta2 first), delta(l) = dJ/dz(l), shaped like z(l)
#   "W2[0, 0]"             one entry of one gradient, as a number (seed 004 updates one weight)
# or several of these, comma-separated, returned as a tuple in that order. J is the spec's cost:
# sum or mean over the m examples of the loss, plus lambda/2 sum W^2 over the non-bias weights.
# The function gets fresh copies of every array on every call, so it may modify them.

from __future__ import annotations

import inspect
import math
import re
import signal
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from checks import formula_program, mistakes
from checks.data import random_data, random_params, xor_data
from checks.derived_route import derived_gradient_function
from checks.verify import check_finite_values
from checks.numpy_backprop import Backprop, backprop, check_spec, parameter_shapes
from derive.spec import NetworkSpec, SpecError, parse_spec

DEFAULT_POINTS = 3

# The function and the derived formulas compute the same sums in float64, perhaps in another
# order: each entry's rounding error is a few ulps (2.2e-16) times the number of summed terms
# (m n, a few thousand at most for nets checked by hand), relative to the output's largest entry.
# 1e-9 of that scale leaves room for orders and stable forms (log1p, a fused yhat - y), and is
# still 8 orders of magnitude below what any catalogue mistake changes (a factor of order 1).
VERDICT_TOLERANCE = 1e-9
# The accepted tolerances. Below 1e-15 (about 5 ulps of float64) a correct function that merely
# sums in another order is judged wrong; above 1e-3 the check stops telling a right function from
# one off by a small factor, and inf or NaN would pass anything. float32 code (eps 1.2e-7, errors
# ~1e-6 after a few thousand terms) still fits under 1e-3.
TOLERANCE_RANGE = (1e-15, 1e-3)

# How long one call of the function may take, in seconds. A hand-written backprop of a net small
# enough to check by hand returns in milliseconds; 30 s leaves room for a slow, shared machine and
# still ends a function that never returns. Enforced with SIGALRM (see _time_limit): POSIX, main
# thread only, and only between Python bytecodes (a single long C call is not interrupted).
DEFAULT_TIMEOUT = 30.0

# The hand-written NumPy route (checks/numpy_backprop.py) must agree with the derived formulas to
# this relative tolerance at every point, or the tool itself is wrong and says so.
ROUTE_AGREEMENT = 1e-9

_ALIAS = re.compile(r"^(?:d|dJ_?d|grad_?)([Wb]\d+)$")


class ContractError(ValueError):
    """The function does not fit the calling contract: the message says what and what was expected."""


class FunctionTimeout(ContractError):
    """The function did not return within the time limit."""


class _Alarm(BaseException):
    # BaseException, not Exception: a bare `except Exception` in the user's code does not swallow it
    pass


def check_tolerance(tolerance) -> float:
    """The tolerance as a float, or ValueError when it is not a number in TOLERANCE_RANGE."""
    low, high = TOLERANCE_RANGE
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) \
            or not math.isfinite(tolerance) or not low <= tolerance <= high:
        raise ValueError(f"the tolerance must be a number from {low:g} to {high:g} (relative to each "
                         f"output's scale; default {VERDICT_TOLERANCE:g}), got {tolerance!r}")
    return float(tolerance)


def check_timeout(timeout) -> float | None:
    """The time limit per call in seconds (None: no limit), or ValueError when it is not a positive number."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"the timeout must be a finite number of seconds greater than 0 (default "
                         f"{DEFAULT_TIMEOUT:g}), got {timeout!r}")
    return float(timeout)


def as_spec(spec) -> NetworkSpec:
    """A NetworkSpec, or one parsed from a spec string such as "2-3-1" (sigmoid throughout).

    Raises:
        ValueError: neither a NetworkSpec nor a string parse_spec accepts.
    """
    if isinstance(spec, NetworkSpec):
        return spec
    if isinstance(spec, str):
        return parse_spec(spec)
    raise SpecError(f"spec must be a derive.spec.NetworkSpec or a spec string such as \"2-3-1\" "
                        f"(derive.spec.parse_spec builds one with other activations), got a "
                        f"{type(spec).__name__}")


@dataclass(frozen=True)
class Contract:
    """What the function is called with and what it must return, for one spec."""

    spec: NetworkSpec
    outputs: tuple[str, ...]  # "W1", "b1", "cost", "delta2", "W2[0, 0]"

    @property
    def arguments(self) -> tuple[str, ...]:
        return ("X", "y") + tuple(parameter_shapes(self.spec))

    def argument_shapes(self) -> dict[str, tuple[int, int]]:
        m, spec = self.spec.m, self.spec
        shapes = {"X": _oriented(spec, m, spec.sizes[0]), "y": _oriented(spec, m, spec.sizes[-1])}
        shapes.update(parameter_shapes(spec))
        return shapes

    def expected_shape(self, output: str) -> tuple[int, ...]:
        name, entry = formula_program.split_entry(output)
        if name == "cost" or entry is not None:
            return ()
        if name.startswith("delta"):
            return _oriented(self.spec, self.spec.m, self.spec.sizes[int(name[5:]) - 1])
        return parameter_shapes(self.spec)[name]

    def describe(self) -> str:
        """fn(X (4, 2), y (4, 1), W1 (2, 3), W2 (3, 1)) -> (dJ/dW1 (2, 3), dJ/dW2 (3, 1))"""
        arguments = ", ".join(f"{name} {shape}" for name, shape in self.argument_shapes().items())
        results = ", ".join(_label(o) + (f" {self.expected_shape(o)}" if self.expected_shape(o) else " (a number)")
                            for o in self.outputs)
        return f"fn({arguments}) -> " + (f"({results})" if len(self.outputs) > 1 else results)


def _oriented(spec: NetworkSpec, m: int, units: int) -> tuple[int, int]:
    return (m, units) if spec.convention == "row" else (units, m)


def _label(output: str) -> str:
    name, entry = formula_program.split_entry(output)
    if name == "cost":
        return "J"
    if name.startswith("delta"):
        return output
    return f"dJ/d{name}" + (f"[{entry[0]}, {entry[1]}]" if entry else "")


def contract(spec: NetworkSpec, returns: str | Sequence[str] = "gradients") -> Contract:
    """The contract for `returns`: "gradients", "deltas", "cost", a name, an entry, or several.

    Raises:
        ValueError: the spec cannot be evaluated numerically, or an output name it does not have.

    >>> from derive.spec import XOR_SPEC
    >>> contract(XOR_SPEC, "delta2, W2[1,0]").outputs
    ('delta2', 'W2[1, 0]')
    """
    check_spec(spec)
    parts = [p.strip() for p in (returns.split(",") if isinstance(returns, str) else returns) if p.strip()]
    # "W2[0, 1]" was split at its comma: join the halves of an entry back together
    joined: list[str] = []
    for part in parts:
        if joined and "[" in joined[-1] and "]" not in joined[-1]:
            joined[-1] += ", " + part
        else:
            joined.append(part)
    parameters = tuple(parameter_shapes(spec))
    deltas = tuple(f"delta{layer}" for layer in range(2, len(spec.sizes) + 1))
    shapes = {**parameter_shapes(spec),
              **{d: _oriented(spec, spec.m, spec.sizes[int(d[5:]) - 1]) for d in deltas}}
    outputs: list[str] = []
    for part in joined:
        if part == "gradients":
            outputs += parameters
        elif part == "deltas":
            outputs += deltas
        elif part in ("cost", "J"):
            outputs.append("cost")
        else:
            outputs.append(_output_name(part, shapes))
    if not outputs:
        raise ValueError("nothing to check: returns is empty; accepted: gradients, deltas, cost, "
                         "a parameter or delta name, or an entry like W2[0, 0]")
    if len(set(outputs)) != len(outputs):
        raise ValueError(f"an output is named twice in {', '.join(outputs)}")
    return Contract(spec, tuple(outputs))


def _output_name(part: str, shapes: Mapping[str, tuple[int, int]]) -> str:
    match = re.fullmatch(r"([A-Za-z_]\w*)\s*(?:\[\s*(\d+)\s*,\s*(\d+)\s*\])?", part)
    name = _canonical(match.group(1)) if match else None
    if name not in shapes:
        raise ValueError(f"unknown output {part!r}; accepted: gradients, deltas, cost, "
                         f"{', '.join(shapes)}, or an entry like {next(iter(shapes))}[0, 0]")
    if match.group(2) is None:
        return name
    (row, column), (rows, columns) = (int(match.group(2)), int(match.group(3))), shapes[name]
    if row >= rows or column >= columns:
        raise ValueError(f"{part} is outside {name}, which is {rows} x {columns}")
    return f"{name}[{row}, {column}]"


def _canonical(name: str) -> str:
    match = _ALIAS.match(name)
    return match.group(1) if match else name


# ---------------------------------------------------------------------------------------------
# Where the function is evaluated.


@dataclass(frozen=True)
class Point:
    """One evaluation point: inputs, targets and parameters, with a label for the report."""

    label: str
    X: np.ndarray
    Y: np.ndarray
    params: dict[str, np.ndarray]


def own_data(spec: NetworkSpec, seed: int = 0) -> Point | None:
    """The spec's own data: seed 000's XOR examples when the spec is a 2-n-1 net with m = 4."""
    if spec.sizes[0] != 2 or spec.sizes[-1] != 1 or spec.m != 4 or spec.output_activation == "softmax":
        return None
    X, Y = xor_data(spec.convention)
    return Point(f"XOR data of seed 000 with weights from seed {seed}", X, Y, random_params(spec, seed))


def evaluation_points(spec: NetworkSpec, count: int = DEFAULT_POINTS, seed: int = 0,
                      data: Sequence[Point] = ()) -> tuple[Point, ...]:
    """The given data points (or the spec's own data), then `count` seeded random points.

    Random point k draws parameters (checks.data.random_params) and then data
    (checks.data.random_data, m = spec.m) from numpy's default_rng(seed + k), k = 1..count.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"the number of random points must be an integer >= 0, got {count!r}")
    points = list(data)
    if not points:
        own = own_data(spec, seed)
        points += [own] if own is not None else []
    for k in range(1, count + 1):
        rng = np.random.default_rng(seed + k)
        params = random_params(spec, rng)
        X, Y = random_data(spec, spec.m, rng)
        points.append(Point(f"random point (seed {seed + k})", X, Y, params))
    if not points:
        raise ValueError("no points to evaluate at: give data or at least one random point")
    return tuple(points)


# ---------------------------------------------------------------------------------------------
# Calling the function under the contract.


def check_signature(fn: Callable, terms: Contract, name: str) -> None:
    """Raises ContractError when fn cannot be called as fn(X, y, W1, ...)."""
    if not callable(fn):
        raise ContractError(f"{name} is not a function (it is a {type(fn).__name__})")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: the call itself will tell
        return
    try:
        signature.bind(*terms.arguments)
    except TypeError:
        raise ContractError(
            f"{name} takes {signature} but the contract calls it with ({', '.join(terms.arguments)}); "
            f"for this spec: {terms.describe()}") from None


def call(fn: Callable, terms: Contract, point: Point, name: str = "the function",
         timeout: float | None = DEFAULT_TIMEOUT) -> dict[str, np.ndarray]:
    """Calls fn at one point and returns its outputs by name, checked against the contract.

    Raises:
        ContractError: fn raised (SystemExit and KeyboardInterrupt included), or returned the
            wrong number of values, something that is not an array of real numbers, or an array
            of the wrong shape (the message says which, where and what was expected).
        FunctionTimeout: fn did not return within `timeout` seconds.
    """
    arguments = [point.X, point.Y] + [point.params[p] for p in terms.arguments[2:]]
    arrays = [np.array(a, dtype=np.float64) for a in arguments]
    # Reading what fn returned runs its code too (__array__, __len__, a Mapping's items): all of
    # it is under the same time limit and the same "any exception is a contract error" rule.
    try:
        with _time_limit(timeout):
            try:
                result = fn(*arrays)
            except (Exception, SystemExit, KeyboardInterrupt) as error:
                raise ContractError(f"{name} {_raised(error, fn)} (called as {terms.describe()}, "
                                    f"at {point.label})") from None
            values = _unpack(result, terms, name)
            return {output: _checked(value, output, index, terms, name)
                    for index, (output, value) in enumerate(zip(terms.outputs, values))}
    except _Alarm:
        raise FunctionTimeout(f"{name} did not return within {timeout:g} s at {point.label}; a function "
                              f"that never returns cannot be checked (raise the limit with --timeout, or "
                              f"timeout= in the API)") from None
    except ContractError:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # the returned object's own code
        raise ContractError(f"{name}: reading what it returned {_raised(error, fn)} (at {point.label})") from None


def _raised(error: BaseException, fn: Callable) -> str:
    """ "raised ValueError: bad (at mine.py:12)", "called sys.exit(0) (at mine.py:3)" """
    if isinstance(error, SystemExit):
        what = f"called sys.exit({error.code!r}), which is not a result"
    elif isinstance(error, KeyboardInterrupt):
        what = "raised KeyboardInterrupt (interrupted)"
    else:
        what = f"raised {type(error).__name__}" + (f": {error}" if str(error) else "")
    frames = traceback.extract_tb(error.__traceback__)
    own = getattr(getattr(fn, "__code__", None), "co_filename", None)
    # the line in the user's own file that raised, else the innermost line anywhere
    mine = [frame for frame in frames if frame.filename == own] or frames[-1:]
    return what + (f" (at {mine[-1].filename}:{mine[-1].lineno})" if mine else "")


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raises _Alarm in the main thread when the body runs longer than `seconds`.

    A thread cannot be stopped from outside, and a subprocess would need fn to be importable by
    name (a lambda or closure is not): so SIGALRM. Its limits: POSIX only, the main thread only
    (elsewhere, and with seconds None, there is no limit), and the alarm is seen between Python
    bytecodes, so one long C call (a huge matrix product) finishes first. It repeats every
    second after the first, so a function that catches it once still ends.
    """
    if seconds is None or not hasattr(signal, "setitimer") \
            or threading.current_thread() is not threading.main_thread():
        yield
        return

    running = [True]

    def on_alarm(signum, frame):
        if running[0]:  # an alarm arriving while the limit is being lifted is ignored
            raise _Alarm()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        running[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _unpack(result, terms: Contract, name: str) -> list:
    count = len(terms.outputs)
    expected = ", ".join(_label(o) for o in terms.outputs)
    if isinstance(result, Mapping):
        keys = {(_canonical(str(k)) if str(k) not in ("J", "cost") else "cost"): v for k, v in result.items()}
        missing = [o for o in terms.outputs if o not in keys]
        if missing:
            raise ContractError(f"{name} returned a dict with keys {', '.join(map(str, result))}; "
                                f"expected keys {', '.join(terms.outputs)}")
        return [keys[o] for o in terms.outputs]
    if count == 1:
        if isinstance(result, tuple) and len(result) == 1:
            return [result[0]]
        if isinstance(result, tuple):
            raise ContractError(f"{name} returned {len(result)} values; expected 1: {expected}")
        return [result]
    if not isinstance(result, (tuple, list)):
        raise ContractError(f"{name} returned one {type(result).__name__}; expected {count} values in "
                            f"this order: {expected}")
    if len(result) != count:
        raise ContractError(f"{name} returned {len(result)} value{'s' if len(result) != 1 else ''}; "
                            f"expected {count} in this order: {expected}")
    return list(result)


def _checked(value, output: str, index: int, terms: Contract, name: str) -> np.ndarray:
    where = f"output {index + 1} of {len(terms.outputs)} ({_label(output)})" if len(terms.outputs) > 1 \
        else f"the output ({_label(output)})"
    array = _real_array(value, f"{name}: {where}")
    expected = terms.expected_shape(output)
    if expected == ():
        if array.size != 1:
            raise ContractError(f"{name}: {where} has shape {array.shape}; expected a single number")
        return array.reshape(())
    if array.shape != expected:
        hint = ""
        if array.shape == expected[::-1]:
            other = "column" if terms.spec.convention == "row" else "row"
            hint = f" (the transpose: is the function written for {other} form?)"
        raise ContractError(f"{name}: {where} has shape {array.shape}; expected {expected} in "
                            f"{terms.spec.convention} form{hint}")
    return array


def _real_array(value, where: str) -> np.ndarray:
    """value as a float64 array, refusing what float64 conversion would silently change:
    None (it becomes NaN), complex numbers (the imaginary part is dropped), strings ("1.5")."""
    if value is None:
        raise ContractError(f"{where} is None; expected numbers (did the function forget to return?)")
    try:
        raw = np.asarray(value)
        if raw.dtype == object:  # a list holding None, strings or arrays of other shapes
            kinds = {type(entry).__name__ for entry in raw.ravel()
                     if entry is None or isinstance(entry, (str, bytes, complex))}
            if kinds:
                raise ContractError(f"{where} holds {', '.join(sorted(kinds))}; expected real numbers only")
        elif raw.dtype.kind == "c":
            raise ContractError(f"{where} is complex; expected real numbers (float64): the gradient of a "
                                f"real cost is real, and dropping the imaginary part would hide a mistake")
        elif raw.dtype.kind not in "biuf":
            raise ContractError(f"{where} is not an array of numbers (got {type(value).__name__})")
        return np.asarray(raw, dtype=np.float64)
    except ContractError:
        raise
    except (TypeError, ValueError):
        raise ContractError(f"{where} is not an array of numbers (got {type(value).__name__})") from None


# ---------------------------------------------------------------------------------------------
# Comparing and diagnosing.


@dataclass(frozen=True)
class OutputVerdict:
    """One output over every point: whether it agrees, and its worst entry."""

    output: str
    agree: bool
    point: str  # the label of the point where the worst entry is
    entry: tuple[int, ...]
    function_value: float
    derived_value: float
    absolute_error: float
    relative_error: float

    def line(self) -> str:
        where = f" entry {list(self.entry)}" if self.entry else ""
        errors = f"absolute error {self.absolute_error:.3g}, relative error {self.relative_error:.3g}"
        if self.agree:
            return f"{_label(self.output)}: ok (worst{where} at {self.point}: {errors})"
        return (f"{_label(self.output)}: WRONG at{where or ' its value'}, {self.point}: function "
                f"{self.function_value:.10g}, derived {self.derived_value:.10g} ({errors})")


@dataclass(frozen=True)
class Verdict:
    """verify_function's answer: per-output verdicts, and a diagnosis when something is wrong."""

    name: str
    contract: Contract
    points: tuple[str, ...]
    outputs: tuple[OutputVerdict, ...]
    explanations: tuple[mistakes.Explanation, ...]
    search_complete: bool
    hints: tuple[str, ...]
    tolerance: float

    @property
    def passed(self) -> bool:
        return all(o.agree for o in self.outputs)

    @property
    def failures(self) -> tuple[OutputVerdict, ...]:
        return tuple(o for o in self.outputs if not o.agree)

    def diagnosis(self) -> str:
        """The likely mistakes, in one paragraph ('' when the function passed)."""
        if self.passed:
            return ""
        lines = []
        reproduced = f"the numbers are reproduced (to {mistakes.MATCH_TOLERANCE:g}) by"
        if len(self.explanations) == 1 and len(self.explanations[0].mistakes) == 1:
            lines += [f"{reproduced} this mistake from the catalogue:", f"  - {self.explanations[0]}"]
        elif len(self.explanations) == 1:
            mistaken = self.explanations[0].mistakes
            lines.append(f"{reproduced} these {len(mistaken)} mistakes from the catalogue, made together:")
            lines += [f"  - {m}" for m in mistaken]
        elif self.explanations:
            lines.append(f"{reproduced} each of these {len(self.explanations)} explanations from the catalogue "
                         f"(they give the same numbers here):")
            for number, explanation in enumerate(self.explanations, 1):
                lines.append(f"  {number}. " + "\n     and ".join(str(m) for m in explanation.mistakes))
        else:
            searched = "" if self.search_complete else " (the search for combinations stopped at its time limit)"
            lines.append(f"no mistake in the catalogue, alone or up to {mistakes.MAX_COMBINED} together, "
                         f"reproduces the numbers{searched}")
        lines += self.hints
        return "\n".join(lines)

    def report(self) -> str:
        spec = self.contract.spec
        lines = [f"check of {self.name} against the derived {spec.slug} network "
                 f"({'/'.join(spec.activations)}, {spec.cost} ({spec.reduction}), bias {spec.bias}, "
                 f"{spec.convention} form, m = {spec.m}" + (f", l2 = {spec.l2:g}" if spec.l2 else "") + ")",
                 f"contract: {self.contract.describe()}",
                 f"points: {'; '.join(self.points)}"]
        lines += [o.line() for o in self.outputs]
        if not self.passed:
            lines.append("diagnosis: " + self.diagnosis())
        failed = len(self.failures)
        lines.append("verdict: PASS: every output agrees with the derivation (tolerance "
                     f"{self.tolerance:g} of each output's scale)" if self.passed else
                     f"verdict: WRONG: {failed} of {len(self.outputs)} output{'s' if len(self.outputs) > 1 else ''}"
                     f" disagree{'s' if failed == 1 else ''} with the derivation")
        return "\n".join(lines)


def _excess(observed: np.ndarray, derived: np.ndarray, tolerance: float) -> np.ndarray:
    scale = float(np.max(np.abs(derived))) if derived.size else 0.0
    allowed = tolerance * (scale + np.maximum(np.abs(observed), np.abs(derived))) + 1e-300
    with np.errstate(invalid="ignore"):
        excess = np.abs(observed - derived) / allowed
    return np.where(np.isnan(excess), np.inf, excess)


def reference_value(result: Backprop, output: str) -> np.ndarray:
    """An output ("cost", "W1", "delta2", "W2[0, 0]") read from a Backprop result."""
    name, entry = formula_program.split_entry(output)
    if name == "cost":
        return np.array(result.cost)
    value = result.deltas[int(name[5:])] if name.startswith("delta") else result.gradients[name]
    return value[entry] if entry is not None else value


def _cross_check(spec: NetworkSpec, point: Point, derived: Backprop, env: dict) -> None:
    """The derived route against the hand-written NumPy backprop and against the catalogue's
    baseline (the formula set, evaluated here): all three must agree, or the tool is wrong."""
    hand = backprop(spec, point.params, point.X, point.Y)
    outputs = ["cost"] + list(derived.gradients) + [f"delta{layer}" for layer in derived.deltas]
    for output in outputs:
        for other, route in ((reference_value(hand, output), "checks/numpy_backprop.py"),
                             (formula_program.output_values(env, output), "the catalogue's formula set")):
            if not mistakes.agree(other, reference_value(derived, output), ROUTE_AGREEMENT):
                raise RuntimeError(f"the derived route and {route} disagree on {output} at {point.label}: "
                                   f"a bug in this tool, not in the function checked")


def verify_function(fn: Callable, spec: NetworkSpec, returns: str | Sequence[str] = "gradients",
                    points: int = DEFAULT_POINTS, seed: int = 0, data: Sequence[Point] = (),
                    tolerance: float = VERDICT_TOLERANCE, diagnose: bool = True,
                    name: str | None = None, timeout: float | None = DEFAULT_TIMEOUT) -> Verdict:
    """Checks fn's outputs against the derived gradients (or deltas, or cost) of `spec`.

    The derived values come from checks.derived_route (the derivation's formulas as NumPy code),
    cross-checked at every point against checks/numpy_backprop.py. Each entry agrees when |function - derived| <= tolerance * (s + max(|function|, |derived|)),
    s the largest |derived| entry of that output at that point.

    Args:
        fn: the function, called as fn(X, y, W1, [b1,] W2, ...) (see the contract at the top).
        spec: the network: a NetworkSpec, or a spec string such as "2-3-1" (sigmoid throughout).
        returns: what fn returns: "gradients", "deltas", "cost", names, entries, comma-separated.
        points: how many seeded random points, after the given data or the spec's own data.
        seed: random point k uses numpy's default_rng(seed + k).
        data: evaluation points to use instead of the spec's own data.
        tolerance: see VERDICT_TOLERANCE; a number in TOLERANCE_RANGE.
        diagnose: search the catalogue of mistakes when an output disagrees.
        name: how the report names fn.
        timeout: seconds each call of fn may take (see DEFAULT_TIMEOUT); None for no limit.

    Returns:
        The Verdict; verdict.passed, verdict.report().

    Raises:
        ContractError: fn does not fit the contract (signature, count, shapes, real numbers), raised
            or exited (SystemExit), or did not return in time (FunctionTimeout).
        NotFinite: the inputs are finite but the derived values overflow float64 (a ValueError).
        ValueError: a bad spec, `returns`, tolerance or timeout.
    """
    name = name or getattr(fn, "__name__", "the function")
    spec = as_spec(spec)
    tolerance, timeout = check_tolerance(tolerance), check_timeout(timeout)
    terms = contract(spec, returns)
    check_signature(fn, terms, name)
    chosen = evaluation_points(spec, points, seed, data)
    route, formulas = derived_gradient_function(spec), formula_program.formula_set(spec)
    envs, observed, derived = [], [], []
    for point in chosen:
        env = formula_program.point_env(spec, point.X, point.Y, point.params)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # judged just below
            result = route(point.params, point.X, point.Y)
        check_finite_values(spec, route, point.params, point.X, point.Y, result, where=point.label)
        _cross_check(spec, point, result, formula_program.run(formulas.formulas, env))
        envs.append(env)
        derived.append({o: reference_value(result, o) for o in terms.outputs})
        observed.append(call(fn, terms, point, name, timeout))
    verdicts = tuple(_output_verdict(o, chosen, observed, derived, tolerance) for o in terms.outputs)
    explanations, complete, hints = (), True, ()
    if diagnose and not all(v.agree for v in verdicts):
        search = mistakes.explain(spec, envs, observed, terms.outputs)
        explanations, complete = search.explanations, search.complete
        hints = _hints(terms, verdicts, observed, derived)
    return Verdict(name, terms, tuple(p.label for p in chosen), verdicts, explanations, complete, hints, tolerance)


def _output_verdict(output, chosen, observed, derived, tolerance) -> OutputVerdict:
    worst = None
    for point, seen, expected in zip(chosen, observed, derived):
        excess = _excess(seen[output], expected[output], tolerance)
        index = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.ndim else ()
        if worst is None or excess[index] > worst[0]:
            worst = (float(excess[index]), point.label, index, float(seen[output][index]),
                     float(expected[output][index]))
    excess, label, index, value, reference = worst
    absolute = abs(value - reference)
    scale = max(abs(value), abs(reference))
    return OutputVerdict(output, excess <= 1.0, label, tuple(int(i) for i in index), value, reference,
                         absolute, absolute / scale if scale else 0.0)


def _hints(terms: Contract, verdicts, observed, derived) -> tuple[str, ...]:
    """What the right and wrong outputs say about where the mistake is."""
    hints = []
    wrong = {v.output for v in verdicts if not v.agree}
    layers = sorted({int(re.sub(r"\D", "", o.split("[")[0])) for o in terms.outputs
                     if o[0] in "Wb"}, reverse=True)
    right_above = [layer for layer in layers if not any(o.startswith((f"W{layer}", f"b{layer}")) for o in wrong)]
    first_wrong = next((layer for layer in layers if layer not in right_above), None)
    if first_wrong is not None and any(layer > first_wrong for layer in right_above):
        hints.append(f"the gradients above layer {first_wrong} are right and dJ/dW{first_wrong} is not: the "
                     f"mistake is in delta{first_wrong + 1} or in dJ/dW{first_wrong}'s own formula, "
                     f"not in the forward pass or the output delta")
    for output in sorted(wrong, key=terms.outputs.index):
        ratios = []
        for seen, expected in zip(observed, derived):
            d, s = np.ravel(expected[output]), np.ravel(seen[output])
            keep = np.abs(d) > 1e-12 * (np.max(np.abs(d)) if d.size else 0)
            ratios += list(s[keep] / d[keep])
        if ratios and np.allclose(ratios, ratios[0], rtol=1e-6) and ratios[0] not in (0.0, 1.0):
            hints.append(f"every entry of {_label(output)} is {ratios[0]:.6g} times the derived value: "
                         f"a constant factor (a learning rate or 1/m folded in, or a sign)")
    return tuple(hints)
