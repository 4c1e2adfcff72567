"""The calling contract of a person's backprop function: what it is given, what it returns, the tolerances."""

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

import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence


from checks.diagnose import formula_program
from checks.handwritten.network import check_spec, parameter_shapes
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
    unrolled: Unrolled | None = None  # fn takes and returns Ng's unrolled parameters

    @property
    def arguments(self) -> tuple[str, ...]:
        return ("X", "y") + tuple(parameter_shapes(self.spec))

    def argument_shapes(self) -> dict[str, tuple[int, int]]:
        m, spec = self.spec.m, self.spec
        shapes = {"X": _oriented(spec, m, spec.sizes[0]), "y": _oriented(spec, m, spec.sizes[-1])}
        shapes.update(parameter_shapes(spec))
        return shapes

    def _argument_text(self, name: str, shape: tuple[int, int], form: CallingForm) -> str:
        """One argument as the function receives it (calling.py): an example at a time with
        --per-example, y as integer labels with --labels."""
        examples = 1 if form.per_example else self.spec.m
        if name == "y" and form.labels is not None:
            return f"y ({examples},) class labels from {form.labels}"
        if name in ("X", "y") and form.per_example:
            shape = _oriented(self.spec, 1, shape[1] if self.spec.convention == "row" else shape[0])
            name = name.lower()
        return f"{name} {shape}"

    def expected_shape(self, output: str) -> tuple[int, ...]:
        name, entry = formula_program.split_entry(output)
        if name == "cost" or entry is not None:
            return ()
        if name.startswith("delta"):
            return _oriented(self.spec, self.spec.m, self.spec.sizes[int(name[5:]) - 1])
        return parameter_shapes(self.spec)[name]

    def describe(self, form: CallingForm | None = None, data_only: bool = False) -> str:
        """How the function is called and what it must return, in the calling form given; data_only:
        a bound method that takes (X, y) and reads its weights from its object.

        >>> from derive.network.spec import XOR_SPEC
        >>> contract(XOR_SPEC).describe()
        'fn(X (4, 2), y (4, 1), W1 (2, 3), W2 (3, 1)) -> (dJ/dW1 (2, 3), dJ/dW2 (3, 1))'
        >>> contract(XOR_SPEC).describe(CallingForm(per_example=True, names=(("weights[0]", "W1"),)), True)
        "fn(x (1, 2), y (1, 1)) with W1 as the object's weights[0], W2 as its W2 -> (dJ/dW1 (2, 3), dJ/dW2 (3, 1)), once per example, summed over the 4 examples"
        """
        form = form or CallingForm()
        if self.unrolled is not None:
            return self._describe_unrolled()
        shapes = self.argument_shapes()
        if data_only:
            shapes = {name: shapes[name] for name in ("X", "y")}
        arguments = ", ".join(self._argument_text(name, shape, form) for name, shape in shapes.items())
        attributes = (" with " + ", ".join(f"{ours} as " + ("the object's " if i == 0 else "its ") + form.user_name(ours)
                                           for i, ours in enumerate(self.arguments[2:]))) if data_only else ""
        results = ", ".join(output_label(o) + (f" {self.expected_shape(o)}" if self.expected_shape(o) else " (a number)")
                            for o in self.outputs)
        per_example = f", once per example, summed over the {self.spec.m} examples" if form.per_example else ""
        return (f"fn({arguments}){attributes} -> " + (f"({results})" if len(self.outputs) > 1 else results)
                + per_example)

    def _describe_unrolled(self) -> str:
        """fn(nn_params (44,) = [Theta1(:); Theta2(:)] in F order, input_layer_size 3, ...) -> (J, grad (44,))"""
        shapes = parameter_shapes(self.spec)
        count = sum(rows * columns for rows, columns in shapes.values())
        thetas = "; ".join(f"Theta{name[1:]}(:)" for name in shapes)
        sizes = self.spec.sizes
        results = ", ".join("J (a number)" if o == "cost" else f"grad ({count},)" for o in self.outputs
                            if o == "cost" or o == "W1")
        return (f"fn(nn_params ({count},) = [{thetas}] in {self.unrolled.order} order "
                f"({', '.join(f'Theta{n[1:]} {s}' for n, s in shapes.items())}), input_layer_size {sizes[0]}, "
                f"hidden_layer_size {sizes[1]}, num_labels {sizes[2]}, X ({self.spec.m}, {sizes[0]}), "
                f"y ({self.spec.m} examples), lambda {self.unrolled.l2:g}) -> "
                + (f"({results})" if "," in results else results))


@dataclass(frozen=True)
class Unrolled:
    """Ng's ex4 calling form: nnCostFunction(nn_params, input_layer_size, hidden_layer_size,
    num_labels, X, y, lambda) with every Theta unrolled into one vector, returning (J, grad) with
    grad unrolled the same way (checks/diagnose/unrolled.py does the call).

    order: "F" unrolls each Theta column by column, as MATLAB's [Theta1(:); Theta2(:)] and
        np.reshape(..., order="F") do; "C" row by row, as NumPy's default ravel() and reshape do.
    l2: the lambda passed as the last argument (the spec's --l2, before any --l2-convention).
    """

    order: str
    l2: float = 0.0


@dataclass(frozen=True)
class CallingForm:
    """How published code takes and returns its arrays, beyond the plain contract.

    labels: None passes y as the contract's targets; 0 or 1 passes integer class labels (the
        index of each one-hot row, counted from 0, cs231n, or from 1, Ng's ex4) as a 1-D array.
    per_example: fn takes one example (x, y as columns or rows of one) and the tool sums its
        outputs over the batch (Nielsen's backprop(x, y), which update_mini_batch sums).
    names: the user's name -> ours ("Theta1" -> "W1", "weights[0]" -> "W1"): for returned dict
        keys, and for the attributes set on a bound method's object before each call.
    intermediates: None, or the function also exposes intermediates (z2, a2, delta3, ...: a dict
        returned last, or checks.diagnose.intermediates.record), with the user's names -> ours
        ("d3" -> "delta3"); () when it uses ours.
    unrolled: None, or fn takes Ng's unrolled parameters (see Unrolled).
    """

    labels: int | None = None
    per_example: bool = False
    names: tuple[tuple[str, str], ...] = ()
    intermediates: tuple[tuple[str, str], ...] | None = None
    unrolled: Unrolled | None = None

    def user_name(self, ours: str) -> str:
        return next((user for user, name in self.names if name == ours), ours)


PLAIN = CallingForm()
USER_NAME = re.compile(r"^([A-Za-z_]\w*)(?:\[(\d+)\])?$")


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
        if not USER_NAME.match(user) or not re.fullmatch(r"[Wb]\d+", ours):
            raise ValueError(f"a name mapping is USER=OURS, comma-separated, with USER a name or an entry "
                             f"like weights[0] and OURS one of W1, b1, W2, ...; got {user}={ours}")
        result.append((user, ours))
    return tuple(result)


def _oriented(spec: NetworkSpec, m: int, units: int) -> tuple[int, int]:
    return (m, units) if spec.convention == "row" else (units, m)


def output_label(output: str) -> str:
    name, entry = formula_program.split_entry(output)
    if name == "cost":
        return "J"
    if name.startswith("delta"):
        return output
    return f"dJ/d{name}" + (f"[{entry[0]}, {entry[1]}]" if entry else "")


def contract(spec: NetworkSpec, returns: str | Sequence[str] = "gradients",
             unrolled: Unrolled | None = None) -> Contract:
    """The contract for `returns`: "gradients", "deltas", "cost", a name, an entry, or several.

    With `unrolled` (Ng's nnCostFunction), only the cost and the gradients as a whole can be returned.

    Raises:
        ValueError: the spec cannot be evaluated numerically, or an output name it does not have;
            with `unrolled`, a spec or output Ng's signature does not have.

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
    if unrolled is not None:
        _check_unrolled(spec, tuple(outputs), parameters, unrolled)
    return Contract(spec, tuple(outputs), unrolled)


def _check_unrolled(spec: NetworkSpec, outputs: tuple[str, ...], parameters: tuple[str, ...],
                    unrolled: Unrolled) -> None:
    """Ng's signature has three layer sizes and Theta(l) (units of l+1, units of l + 1): one hidden
    layer, column form, a bias unit; it returns J, grad or (J, grad)."""
    if unrolled.order not in ("F", "C"):
        raise ValueError(f"the unrolling order is F (MATLAB's Theta1(:), column by column) or C (NumPy's "
                         f"ravel(), row by row), got {unrolled.order!r}")
    if len(spec.sizes) != 3 or spec.bias != "unit" or spec.convention != "column":
        raise ValueError(f"--unrolled calls Ng's nnCostFunction(nn_params, input_layer_size, hidden_layer_size, "
                         f"num_labels, X, y, lambda), whose Theta1 is (hidden, inputs + 1) with the bias unit's "
                         f"weights in column 0: it needs one hidden layer, --bias unit and --convention column "
                         f"(got {spec.slug}, bias {spec.bias}, {spec.convention} form)")
    if outputs not in (("cost",) + parameters, parameters, ("cost",)):
        raise ValueError(f"with --unrolled the function returns (J, grad), grad or J (--returns cost,gradients, "
                         f"gradients or cost), got {', '.join(outputs)}")


def _output_name(part: str, shapes: Mapping[str, tuple[int, int]]) -> str:
    match = re.fullmatch(r"([A-Za-z_]\w*)\s*(?:\[\s*(\d+)\s*,\s*(\d+)\s*\])?", part)
    name = canonical_output(match.group(1)) if match else None
    if name not in shapes:
        raise ValueError(f"unknown output {part!r}; accepted: gradients, deltas, cost, "
                         f"{', '.join(shapes)}, or an entry like {next(iter(shapes))}[0, 0]")
    if match.group(2) is None:
        return name
    (row, column), (rows, columns) = (int(match.group(2)), int(match.group(3))), shapes[name]
    if row >= rows or column >= columns:
        raise ValueError(f"{part} is outside {name}, which is {rows} x {columns}")
    return f"{name}[{row}, {column}]"


def canonical_output(name: str) -> str:
    match = _ALIAS.match(name)
    return match.group(1) if match else name


