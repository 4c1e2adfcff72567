"""Checking a person's backprop function against the derived gradients: contract, comparison, verdict."""

# The calling contract (row form shown; column form passes and expects every array transposed,
# exactly as checks/handwritten/network.py documents the shapes):
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
import traceback
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from checks.diagnose import formula_program, l2_conventions, mistakes
from checks.diagnose.shape_reasoning import shape_reasoning
from checks.inputs.data import random_data, random_params, xor_data
from checks.routes.derived import derived_gradient_function
from checks.diagnose.time_limit import TimeUp, time_limit
from checks.routes.three_routes import check_finite_values
from checks.handwritten.network import Backprop, backprop, check_spec, parameter_shapes
from derive.network.spec import NetworkSpec, SpecError, parse_spec

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

# float32 code (eps 1.2e-7) sums a few thousand terms per entry: its errors reach ~1e-5 of an
# output's scale, so a function returning float32 is judged at 1e-4 (and its numbers matched to the
# catalogue at 1e-4), still three orders of magnitude below a catalogue mistake's factor of order 1.
FLOAT32_TOLERANCE = 1e-4

# How long one call of the function may take, in seconds. A hand-written backprop of a net small
# enough to check by hand returns in milliseconds; 30 s leaves room for a slow, shared machine and
# still ends a function that never returns. Enforced with SIGALRM (see checks/diagnose/time_limit.py): POSIX, main
# thread only, and only between Python bytecodes (a single long C call is not interrupted).
DEFAULT_TIMEOUT = 30.0

# The hand-written NumPy route (checks/handwritten/network.py) must agree with the derived formulas to
# this relative tolerance at every point, or the tool itself is wrong and says so.
ROUTE_AGREEMENT = 1e-9

_ALIAS = re.compile(r"^(?:d|dJ_?d|grad_?)([Wb]\d+)$")


class ContractError(ValueError):
    """The function does not fit the calling contract: the message says what and what was expected."""


class FunctionTimeout(ContractError):
    """The function did not return within the time limit."""


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
    raise SpecError(f"spec must be a derive.network.spec.NetworkSpec or a spec string such as \"2-3-1\" "
                        f"(derive.network.spec.parse_spec builds one with other activations), got a "
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


@dataclass(frozen=True)
class CallingForm:
    """How published code takes and returns its arrays, beyond the plain contract.

    labels: None passes y as the contract's targets; 0 or 1 passes integer class labels (the
        index of each one-hot row, counted from 0, cs231n, or from 1, Ng's ex4) as a 1-D array.
    per_example: fn takes one example (x, y as columns or rows of one) and the tool sums its
        outputs over the batch (Nielsen's backprop(x, y), which update_mini_batch sums).
    names: the user's name -> ours ("Theta1" -> "W1", "weights[0]" -> "W1"): for returned dict
        keys, and for the attributes set on a bound method's object before each call.
    """

    labels: int | None = None
    per_example: bool = False
    names: tuple[tuple[str, str], ...] = ()

    def user_name(self, ours: str) -> str:
        return next((user for user, name in self.names if name == ours), ours)


PLAIN = CallingForm()
_USER_NAME = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")


def parse_names(text: str | Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """("Theta1", "W1"), ... from "Theta1=W1,Theta2=W2" or a dict {"Theta1": "W1"}.

    The left side is the user's name: an identifier, or a list entry like weights[0]; the right
    side is ours: W1, b1, W2, ...

    Raises:
        ValueError: a pair that is not USER=OURS, or a name of the wrong form.
    """
    if text is None:
        return ()
    pairs = list(text.items()) if isinstance(text, Mapping) else \
        [tuple(part.split("=", 1)) if "=" in part else (part, "") for part in text.split(",") if part.strip()]
    result = []
    for user, ours in pairs:
        user, ours = str(user).strip(), str(ours).strip()
        if not _USER_NAME.match(user) or not re.fullmatch(r"[Wb]\d+", ours):
            raise ValueError(f"a name mapping is USER=OURS, comma-separated, with USER a name or an entry "
                             f"like weights[0] and OURS one of W1, b1, W2, ...; got {user}={ours}")
        result.append((user, ours))
    return tuple(result)


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

    >>> from derive.network.spec import XOR_SPEC
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
                      data: Sequence[Point] = (), one_hot: bool = False) -> tuple[Point, ...]:
    """The given data points (or the spec's own data), then `count` seeded random points.

    Random point k draws parameters (checks.inputs.data.random_params) and then data
    (checks.inputs.data.random_data, m = spec.m) from numpy's default_rng(seed + k), k = 1..count; with
    one_hot, one-hot targets from the same generator (for code that takes class labels).
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
        if one_hot:  # label-based code (--labels): each example belongs to one class
            classes = np.eye(spec.sizes[-1])[rng.integers(0, spec.sizes[-1], size=spec.m)]
            Y = classes if spec.convention == "row" else classes.T.copy()
        points.append(Point(f"random point (seed {seed + k})", X, Y, params))
    if not points:
        raise ValueError("no points to evaluate at: give data or at least one random point")
    return tuple(points)


# ---------------------------------------------------------------------------------------------
# Calling the function under the contract.


def check_signature(fn: Callable, terms: Contract, name: str, form: CallingForm = PLAIN) -> None:
    """Raises ContractError when fn cannot be called as fn(X, y, W1, ...), or as fn(X, y) when it
    is a bound method whose object holds the weights."""
    if not callable(fn):
        raise ContractError(f"{name} is not a function (it is a {type(fn).__name__})")
    if getattr(fn, "__self__", None) is not None and _binds(fn, 2):
        return
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
         timeout: float | None = DEFAULT_TIMEOUT, form: CallingForm = PLAIN) -> dict[str, np.ndarray]:
    """Calls fn at one point and returns its outputs by name, checked against the contract.

    Raises:
        ContractError: fn raised (SystemExit and KeyboardInterrupt included), or returned the
            wrong number of values, something that is not an array of real numbers, or an array
            of the wrong shape (the message says which, where and what was expected).
        FunctionTimeout: fn did not return within `timeout` seconds.
    """
    return call_with_precision(fn, terms, point, name, timeout, form)[0]


def call_with_precision(fn: Callable, terms: Contract, point: Point, name: str = "the function",
                        timeout: float | None = DEFAULT_TIMEOUT,
                        form: CallingForm = PLAIN) -> tuple[dict[str, np.ndarray], bool]:
    """call(...), and whether any output came back in float32 (or float16)."""
    Y = _labels(point.Y, terms.spec, form.labels) if form.labels is not None else point.Y
    params = [np.array(point.params[p], dtype=np.float64) for p in terms.arguments[2:]]
    X = np.array(point.X, dtype=np.float64)
    # Reading what fn returned runs its code too (__array__, __len__, a Mapping's items): all of
    # it is under the same time limit and the same "any exception is a contract error" rule.
    try:
        with time_limit(timeout):
            if form.per_example:
                examples = X.shape[0] if terms.spec.convention == "row" else X.shape[1]
                total, low = None, False
                for n in range(examples):
                    x_n, y_n = _example(X, n, terms.spec), _example(Y, n, terms.spec)
                    values, low_n = _one_call(fn, terms, form, point, name, x_n, y_n, params)
                    total = values if total is None else {o: total[o] + values[o] for o in total}
                    low = low or low_n
                return total, low
            return _one_call(fn, terms, form, point, name, X, np.array(Y), params)
    except TimeUp:
        raise FunctionTimeout(f"{name} did not return within {timeout:g} s at {point.label}; a function "
                              f"that never returns cannot be checked (raise the limit with --timeout, or "
                              f"timeout= in the API)") from None
    except ContractError:
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # the returned object's own code
        raise ContractError(f"{name}: reading what it returned {_raised(error, fn)} (at {point.label})") from None


def _one_call(fn, terms, form, point, name, X, Y, params) -> tuple[dict[str, np.ndarray], bool]:
    owner = getattr(fn, "__self__", None)
    takes_data_only = owner is not None and _binds(fn, 2) and not _binds(fn, len(terms.arguments))
    if takes_data_only:  # a bound method reading its weights from its object (Welch, Nielsen)
        _set_attributes(owner, terms, form, params)
    arguments = [X, Y] + ([] if takes_data_only else [p.copy() for p in params])
    try:
        result = fn(*arguments)
    except (Exception, SystemExit, KeyboardInterrupt) as error:
        raise ContractError(f"{name} {_raised(error, fn)} (called as {terms.describe()}, "
                            f"at {point.label})") from None
    values = _unpack(result, terms, name, form)
    low = any(_is_low_precision(v) for v in values)
    return {output: _checked(value, output, index, terms, name)
            for index, (output, value) in enumerate(zip(terms.outputs, values))}, low


def _binds(fn: Callable, count: int) -> bool:
    try:
        inspect.signature(fn).bind(*range(count))
        return True
    except TypeError:
        return False
    except ValueError:  # no signature
        return True


def _set_attributes(owner, terms: Contract, form: CallingForm, params: list[np.ndarray]) -> None:
    """Sets W1, b1, ... (or the user's names: Theta1, weights[0]) on the bound method's object."""
    lists: dict[str, dict[int, np.ndarray]] = {}
    for ours, value in zip(terms.arguments[2:], params):
        match = _USER_NAME.match(form.user_name(ours))
        if match.group(2) is None:
            setattr(owner, match.group(1), value.copy())
        else:
            lists.setdefault(match.group(1), {})[int(match.group(2))] = value.copy()
    for attribute, entries in lists.items():
        setattr(owner, attribute, [entries[i] for i in sorted(entries)])


def _example(array: np.ndarray, n: int, spec: NetworkSpec) -> np.ndarray:
    """Example n of a batch as the batch's own orientation: a 1 x k row or a k x 1 column."""
    if array.ndim == 1:  # labels
        return array[n:n + 1]
    return array[n:n + 1, :].copy() if spec.convention == "row" else array[:, n:n + 1].copy()


def _labels(Y: np.ndarray, spec: NetworkSpec, base: int) -> np.ndarray:
    """The class of each one-hot target, counted from `base`, as a 1-D integer array."""
    rows = Y if spec.convention == "row" else Y.T
    if not np.all((rows == 0) | (rows == 1)):
        raise ValueError("integer labels need 0/1 targets; these are not (use --cost "
                         "categorical_cross_entropy, or data whose y is one-hot)")
    if spec.sizes[-1] == 1:
        return rows[:, 0].astype(np.int64) + base
    if not np.all(rows.sum(axis=1) == 1):
        raise ValueError("integer labels need one-hot targets (one 1 per example); these targets are not "
                         "(use --cost categorical_cross_entropy, or data whose y is one-hot)")
    return np.argmax(rows, axis=1).astype(np.int64) + base


def _is_low_precision(value) -> bool:
    try:
        if isinstance(value, Mapping):
            return any(_is_low_precision(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return any(_is_low_precision(v) for v in value)
        dtype = getattr(value, "dtype", None)
        return dtype is not None and np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize < 8
    except TypeError:
        return False


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
    where = (f" (at {mine[-1].filename}:{mine[-1].lineno})" if mine else "") + \
        (f" in `{mine[-1].line}`" if mine and mine[-1].line else "")
    return what + where + shape_reasoning(error, own)


def _unpack(result, terms: Contract, name: str, form: CallingForm = PLAIN) -> list:
    count = len(terms.outputs)
    expected = ", ".join(_label(o) for o in terms.outputs)
    if isinstance(result, Mapping):
        keys = _keyed(result, form)
        missing = [o for o in terms.outputs if o not in keys]
        if missing:
            raise ContractError(f"{name} returned a dict with keys {', '.join(map(str, result))}; "
                                f"expected keys {', '.join(terms.outputs)}"
                                + ("" if form.names else " (map your own names with --names, e.g. Theta1=W1)"))
        return [keys[o] for o in terms.outputs]
    published = _published_containers(result, terms, form)
    if published is not None:
        return published
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


def _keyed(result: Mapping, form: CallingForm) -> dict:
    """A returned dict by our output names: "dW1", "dJ_dW1", "grad_W1", the user's mapped names."""
    mapped = dict(form.names)
    keys = {}
    for key, value in result.items():
        text = str(key)
        text = mapped.get(text, mapped.get(re.sub(r"^(?:d|dJ_?d|grad_?)|_?grad$", "", text), text))
        keys["cost" if text in ("J", "cost", "loss") else _canonical(text)] = value
    return keys


def _published_containers(result, terms: Contract, form: CallingForm) -> list | None:
    """The outputs from containers published code returns, or None when there are none:
    (loss, grads) with grads a dict (cs231n); (nabla_b, nabla_w) lists of per-layer arrays,
    either order (Nielsen returns biases first); a cost next to such lists."""
    if not isinstance(result, (tuple, list)) or not any(
            isinstance(item, Mapping) or _layer_list(item, terms) for item in result):
        return None
    found: dict[str, object] = {}
    for item in result:
        if isinstance(item, Mapping):
            found.update({k: v for k, v in _keyed(item, form).items() if k in terms.outputs})
        elif _layer_list(item, terms):
            kind = _layer_list(item, terms)
            found.update({f"{kind}{layer}": value for layer, value in enumerate(item, 1)})
        else:
            following = next((o for o in terms.outputs if o not in found), None)
            if following is None:
                return None
            found[following] = item
    if not all(o in found for o in terms.outputs):
        return None
    return [found[o] for o in terms.outputs]


def _layer_list(item, terms: Contract) -> str:
    """ "b" or "W" for a list of one array per layer with those shapes (a 1-D bias counts), else ""."""
    layers = len(terms.spec.sizes) - 1
    if not isinstance(item, list) or len(item) != layers or not all(hasattr(v, "shape") for v in item):
        return ""
    shapes = parameter_shapes(terms.spec)
    if terms.spec.bias == "vector" and all(_fits(v.shape, shapes[f"b{layer}"]) for layer, v in enumerate(item, 1)):
        return "b"
    if all(tuple(v.shape) == shapes[f"W{layer}"] for layer, v in enumerate(item, 1)):
        return "W"
    return ""


def _fits(shape, expected) -> bool:
    """A bias of (1, n) or (n, 1) given as it is or as a 1-D vector of n."""
    return tuple(shape) == tuple(expected) or (len(shape) == 1 and 1 in expected and shape[0] == max(expected))


def _checked(value, output: str, index: int, terms: Contract, name: str) -> np.ndarray:
    where = f"output {index + 1} of {len(terms.outputs)} ({_label(output)})" if len(terms.outputs) > 1 \
        else f"the output ({_label(output)})"
    array = _real_array(value, f"{name}: {where}")
    expected = terms.expected_shape(output)
    if expected == ():
        if array.size != 1:
            raise ContractError(f"{name}: {where} has shape {array.shape}; expected a single number")
        return array.reshape(())
    if array.ndim == 1 and _fits(array.shape, expected):  # a 1-D bias (cs231n keeps them so)
        array = array.reshape(expected)
    if array.shape != expected:
        hint = ""
        if array.shape == expected[::-1]:
            # one output transposed says little about the form: name both causes
            other = "column" if terms.spec.convention == "row" else "row"
            hint = f" (the transpose: a transpose missing in this output, or code written for {other} form)"
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
class FunctionVerdict:
    """verify_function's answer: per-output verdicts, and a diagnosis when something is wrong."""

    name: str
    contract: Contract
    points: tuple[str, ...]
    outputs: tuple[OutputVerdict, ...]
    explanations: tuple[mistakes.Explanation, ...]
    search_complete: bool
    hints: tuple[str, ...]
    tolerance: float
    penalty: tuple[str, ...] = ()  # what the numbers say about the L2 term (checks/diagnose/l2_conventions.py)
    search_note: str = ""  # why the catalogue was not searched, or how the search ended
    l2_convention: str = ""  # the penalty checked, e.g. "lambda sum W^2 (cs231n)"
    float32: bool = False  # an output came back in float32: judged at FLOAT32_TOLERANCE

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
            if self.search_note:
                lines.append(self.search_note)
            else:
                searched = "" if self.search_complete else \
                    " (a beam search: combinations beyond the closest few were not tried)"
                lines.append(f"no mistake in the catalogue, alone or up to {mistakes.MAX_COMBINED} together, "
                             f"reproduces the numbers{searched}")
        lines += self.penalty
        lines += self.hints
        return "\n".join(lines)

    def text(self) -> str:
        spec = self.contract.spec
        lines = [f"check of {self.name} against the derived {spec.slug} network "
                 f"({'/'.join(spec.activations)}, {spec.cost} ({spec.reduction}), bias {spec.bias}, "
                 f"{spec.convention} form, m = {spec.m}" + (f", l2 = {spec.l2:g}" if spec.l2 else "")
                 + (f", penalty {self.l2_convention}" if self.l2_convention else "") + ")",
                 f"contract: {self.contract.describe()}",
                 f"points: {'; '.join(self.points)}"]
        if self.float32:
            lines.append(f"float32 outputs: judged at tolerance {self.tolerance:g} (float32 rounds at 1.2e-7 "
                         f"per operation)")
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
    outputs = ["cost"] + list(derived.gradients) + [f"delta{layer}" for layer in derived.deltas]
    for output in outputs:
        for other, route in ((formula_program.output_values(env, output), "the catalogue's formula set"),):
            if not mistakes.agree(other, reference_value(derived, output), ROUTE_AGREEMENT):
                raise RuntimeError(f"the derived route and {route} disagree on {output} at {point.label}: "
                                   f"a bug in this tool, not in the function checked")


def verify_function(fn: Callable, spec: NetworkSpec, returns: str | Sequence[str] = "gradients",
                    points: int = DEFAULT_POINTS, seed: int = 0, data: Sequence[Point] = (),
                    tolerance: float = VERDICT_TOLERANCE, diagnose: bool = True,
                    name: str | None = None, timeout: float | None = DEFAULT_TIMEOUT,
                    l2_convention: str | None = None, form: CallingForm = PLAIN) -> FunctionVerdict:
    """Checks fn's outputs against the derived gradients (or deltas, or cost) of `spec`.

    The derived values come from checks.routes.derived (the derivation's formulas as NumPy code),
    cross-checked at every point against checks/handwritten/network.py (and, when fn disagrees, against
    the catalogue's formula set, which is built only then: a passing check derives once). Each entry agrees when |function - derived| <= tolerance * (s + max(|function|, |derived|)),
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
        l2_convention: the L2 penalty fn follows, by name (checks/diagnose/l2_conventions.py: "half-mean"
            or "ng", "half" or "welch", "full" or "cs231n", "full-mean", each with "+biases");
            spec.l2 is its lambda. None: the spec's own, (lambda/2) sum W^2, divided by m for a mean.
        form: labels, one example per call, the user's names (see CallingForm).

    Returns:
        The FunctionVerdict; verdict.passed, verdict.text().

    Raises:
        ContractError: fn does not fit the contract (signature, count, shapes, real numbers), raised
            or exited (SystemExit), or did not return in time (FunctionTimeout).
        NotFinite: the inputs are finite but the derived values overflow float64 (a ValueError).
        ValueError: a bad spec, `returns`, tolerance or timeout.
    """
    name = name or getattr(fn, "__name__", "the function")
    spec = as_spec(spec)
    tolerance, timeout = check_tolerance(tolerance), check_timeout(timeout)
    convention = l2_conventions.spec_convention(spec) if l2_convention is None \
        else l2_conventions.l2_convention(l2_convention)
    user_l2 = spec.l2
    if l2_convention is not None:  # the convention's k on the weights, as the spec's own lambda
        spec = replace(spec, l2=l2_conventions.spec_l2_for(convention, user_l2, spec))
    terms = contract(spec, returns)
    check_signature(fn, terms, name, form)
    chosen = evaluation_points(spec, points, seed, data, one_hot=form.labels is not None)
    route = derived_gradient_function(spec)
    k = convention.coefficient(user_l2, spec.m)
    observed, derived, full, low_precision = [], [], [], False
    for point in chosen:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # judged just below
            result = route(point.params, point.X, point.Y)
        check_finite_values(spec, route, point.params, point.X, point.Y, result, where=point.label)
        _cross_check_by_hand(spec, point, result)
        if convention.biases:
            result = l2_conventions.with_bias_penalty(spec, result, point.params, k)
        full.append(result)
        derived.append({o: reference_value(result, o) for o in terms.outputs})
        values, low = call_with_precision(fn, terms, point, name, timeout, form)
        observed.append(values)
        low_precision = low_precision or low
    if low_precision:
        tolerance = max(tolerance, FLOAT32_TOLERANCE)
    verdicts = tuple(_output_verdict(o, chosen, observed, derived, tolerance) for o in terms.outputs)
    explanations, complete, hints, penalty, note = (), True, (), (), ""
    if diagnose and not all(v.agree for v in verdicts):
        failing = [v.output for v in verdicts if not v.agree]
        findings, penalty, explained = _penalty_diagnosis(spec, user_l2, convention, terms, chosen, observed,
                                                          full, failing, verdicts)
        unexplained = [o for o in failing if o not in explained]
        if findings:  # one catalogue-style mistake per kind of L2 finding, all made together
            grouped: dict[str, list] = {}
            for finding in findings:
                grouped.setdefault(finding.key, []).append(finding)
            penalty_mistakes = tuple(mistakes.Mistake(key, group[0].title, "; ".join(f.detail for f in group), ())
                                     for key, group in grouped.items())
            if not unexplained:
                explanations = (mistakes.Explanation(penalty_mistakes),)
            else:
                penalty = tuple(f"{m}" for m in penalty_mistakes) + tuple(penalty)
        if unexplained and spec.parameter_count > CATALOGUE_PARAMETER_LIMIT:
            note = (f"the catalogue search was left out: it evaluates edited symbolic formulas at the full "
                    f"batch, which takes minutes past {CATALOGUE_PARAMETER_LIMIT:,} parameters (this net has "
                    f"{spec.parameter_count:,}); check a smaller net of the same form to name the mistake")
        elif unexplained:
            envs = _catalogue_envs(spec, chosen, full)
            search = mistakes.explain(spec, envs, observed, unexplained,
                                      tolerance=max(mistakes.MATCH_TOLERANCE, tolerance if low_precision else 0))
            explanations, complete = search.explanations, search.complete
        hints = _hints(terms, verdicts, observed, derived)
    return FunctionVerdict(name, terms, tuple(p.label for p in chosen), verdicts, explanations, complete, hints,
                   tolerance, tuple(penalty), note,
                   f"{convention.formula} ({convention.name})" if l2_convention is not None else "",
                   low_precision)


# The catalogue (checks/diagnose/mistakes.py) edits symbolic formulas built at the full batch size m: about
# 25 s for a 100-50-10 net with m = 200, minutes for cs231n's 3072-50-10. Past this many parameters
# a failing check is diagnosed by what needs no symbolic work (the L2 reading, shapes, constant
# factors) and says the catalogue was left out.
CATALOGUE_PARAMETER_LIMIT = 2000


def _cross_check_by_hand(spec: NetworkSpec, point: Point, derived: Backprop) -> None:
    """The derived route against the hand-written NumPy backprop: they must agree, or the tool is wrong."""
    hand = backprop(spec, point.params, point.X, point.Y)
    outputs = ["cost"] + list(derived.gradients) + [f"delta{layer}" for layer in derived.deltas]
    for output in outputs:
        if not mistakes.agree(reference_value(hand, output), reference_value(derived, output), ROUTE_AGREEMENT):
            raise RuntimeError(f"the derived route and checks/handwritten/network.py disagree on {output} at "
                               f"{point.label}: a bug in this tool, not in the function checked")


def _catalogue_envs(spec: NetworkSpec, chosen, full) -> list[dict]:
    """The catalogue's starting values at each point, its formula set checked against the derived route."""
    formulas = formula_program.formula_set(spec)
    envs = []
    for point, result in zip(chosen, full):
        env = formula_program.point_env(spec, point.X, point.Y, point.params)
        _cross_check(spec, point, result, formula_program.run(formulas.formulas, env))
        envs.append(env)
    return envs


def _penalty_diagnosis(spec, user_l2, convention, terms, chosen, observed, full, failing, verdicts):
    """What each failing output's numbers say about its L2 term (nothing when lambda is 0)."""
    if user_l2 == 0:
        return [], [], set()
    k = convention.coefficient(user_l2, spec.m)
    readings = {}
    for output in failing:
        if output != "cost" and (output[0] not in "Wb" or "[" in output):
            continue
        reading = l2_conventions.read_penalty(
            spec, k, convention.biases, output, [p.params for p in chosen], [o[output] for o in observed],
            [reference_value(r, output) for r in full])
        if reading is not None:
            readings[output] = reading
    cost_agrees = any(v.output == "cost" and v.agree for v in verdicts)
    unit = None
    if spec.bias == "unit":
        unit = "row 0" if spec.convention == "row" else "column 0"
    return l2_conventions.describe_penalties(user_l2, spec.m, convention, readings, failing, unit, cost_agrees)


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
        named = [_label(o) for o in terms.outputs if o in wrong and o.startswith((f"W{first_wrong}", f"b{first_wrong}"))]
        # a wrong bias gradient alone points at its own sum, not at delta (which W shares)
        where = f"delta{first_wrong + 1} or in {' and '.join(named)}'s own formula" \
            if any(o.startswith(f"W{first_wrong}") for o in wrong) else f"{' and '.join(named)}'s own formula"
        hints.append(f"the gradients above layer {first_wrong} are right and {' and '.join(named)} "
                     f"{'is' if len(named) == 1 else 'are'} not: the mistake is in {where}, not in the forward "
                     f"pass or the output delta")
    factors: dict[float, list[str]] = {}
    for output in sorted(wrong, key=terms.outputs.index):
        ratios = []
        for seen, expected in zip(observed, derived):
            d, s = np.ravel(expected[output]), np.ravel(seen[output])
            keep = np.abs(d) > 1e-12 * (np.max(np.abs(d)) if d.size else 0)
            ratios += list(s[keep] / d[keep])
        # a ratio of 1 (to float32 rounding) is no constant factor: the output is wrong elsewhere
        if ratios and np.allclose(ratios, ratios[0], rtol=1e-6) and ratios[0] != 0 \
                and not np.isclose(ratios[0], 1.0, rtol=FLOAT32_TOLERANCE):
            factors.setdefault(round(float(ratios[0]), 9), []).append(_label(output))
    m = terms.spec.m
    for factor, outputs in factors.items():
        cause = (f"1/m missing (m = {m})" if np.isclose(factor, m) else f"1/m extra (m = {m})"
                 if np.isclose(factor, 1 / m) else "the sign flipped" if np.isclose(factor, -1)
                 else "a learning rate or another constant folded in")
        hints.append(f"every entry of {', '.join(outputs)} is {factor:.6g} times the derived value: a constant "
                     f"factor ({cause})")
    cost = next((v for v in verdicts if v.output == "cost"), None)
    if cost is not None and cost.agree and wrong:
        hints.append("the cost is right: the mistake is in the code of the gradients alone")
    return tuple(hints)
