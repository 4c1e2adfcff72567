"""Calling a person's backprop function under its contract: where it is evaluated, how it is called,
and what it returned, unpacked and checked."""

from __future__ import annotations

import inspect
import re
import traceback
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from checks.diagnose.intermediates import split_intermediates
from checks.diagnose.bias_unit_shapes import bias_unit_reasoning, returned_gradient_reasoning
from checks.diagnose.shape_reasoning import shape_reasoning
from checks.diagnose.unrolled import ARGUMENTS as UNROLLED_ARGUMENTS, split_unrolled, unrolled_arguments
from checks.inputs.data import random_data, random_params, xor_data
from checks.diagnose.time_limit import TimeUp, time_limit
from checks.handwritten.network import parameter_shapes
from derive.network.spec import NetworkSpec
from checks.diagnose.contract import (CallingForm, Contract, ContractError, DEFAULT_POINTS, DEFAULT_TIMEOUT,
                                      FunctionTimeout, PLAIN, USER_NAME, canonical_output, output_label)


# The key under which a call's values hold the intermediates it exposed (never an output's name).
INTERMEDIATES = "intermediates"

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
    arguments = UNROLLED_ARGUMENTS if terms.unrolled is not None else terms.arguments
    if terms.unrolled is None and getattr(fn, "__self__", None) is not None and _binds(fn, 2):
        return
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: the call itself will tell
        return
    try:
        signature.bind(*arguments)
    except TypeError:
        raise ContractError(
            f"{name} takes {signature} but the contract calls it with ({', '.join(arguments)}); "
            f"for this spec: {terms.describe(form)}") from None


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
        raise ContractError(f"{name}: reading what it returned {_raised(error, fn, terms.spec, point.params)} (at {point.label})") from None


def takes_data_only(fn, terms: Contract) -> bool:
    """A bound method that takes (X, y) and reads its weights from its object (Welch, Nielsen)."""
    return terms.unrolled is None and getattr(fn, "__self__", None) is not None and _binds(fn, 2) \
        and not _binds(fn, len(terms.arguments))


def _one_call(fn, terms, form, point, name, X, Y, params) -> tuple[dict[str, np.ndarray], bool]:
    data_only = takes_data_only(fn, terms)
    if data_only:
        _set_attributes(fn.__self__, terms, form, params)
    if terms.unrolled is not None:  # Ng's nnCostFunction(nn_params, sizes..., X, y, lambda)
        arguments = unrolled_arguments(terms, X, Y, params)
    else:
        arguments = [X, Y] + ([] if data_only else [p.copy() for p in params])
    try:
        result = fn(*arguments)
    except (Exception, SystemExit, KeyboardInterrupt) as error:
        raise ContractError(f"{name} {_raised(error, fn, terms.spec, point.params)} (called as "
                            f"{terms.describe(form, data_only)}, "
                            f"at {point.label})") from None
    shown = None
    if form.intermediates is not None:
        result, shown = split_intermediates(result, fn, form.intermediates, name)
    values = split_unrolled(result, terms, name) if terms.unrolled is not None else _unpack(result, terms, name, form)
    low = any(_is_low_precision(v) for v in values)
    checked = {output: _checked(value, output, index, terms, name)
               for index, (output, value) in enumerate(zip(terms.outputs, values))}
    if shown is not None:
        checked[INTERMEDIATES] = {key: _real_array(value, f"{name}: intermediate {key}") for key, value in shown.items()}
    return checked, low


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
        match = USER_NAME.match(form.user_name(ours))
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


def _raised(error: BaseException, fn: Callable, spec: NetworkSpec | None = None,
            params: Mapping[str, np.ndarray] | None = None) -> str:
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
    return what + where + shape_reasoning(error, own) + bias_unit_reasoning(error, own, spec, params)


def _unpack(result, terms: Contract, name: str, form: CallingForm = PLAIN) -> list:
    count = len(terms.outputs)
    expected = ", ".join(output_label(o) for o in terms.outputs)
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
        keys["cost" if text in ("J", "cost", "loss") else canonical_output(text)] = value
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
    where = f"output {index + 1} of {len(terms.outputs)} ({output_label(output)})" if len(terms.outputs) > 1 \
        else f"the output ({output_label(output)})"
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
        hint = hint or returned_gradient_reasoning(terms.spec, output, array.shape)
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


