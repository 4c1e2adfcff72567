"""The three-route numeric verdict for an RNN or LSTM, cs231n's gradient check style.

- derived: the gradients derive_recurrence found, run step by step in float64 (derive/recurrence);
- hand-written: checks/recurrence/reference.py, cs231n's rnn_layers written out (NumPy only);
- finite differences: central differences of the whole sequence's cost J, every entry.

Each pair is compared with cs231n's rel_error per gradient. The default point is cs231n's RNN check
(N = 2 sequences, D = 3, H = 5, T = 10, everything randn). With truncation k, the truncated
gradients of the derived and the hand-written routes are compared too, and their distance from
full backprop through time is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from checks.recurrence import reference

ROUTES = ("derived", "hand_written", "finite_differences")
ROUTE_TITLES = {"derived": "derived", "hand_written": "hand-written", "finite_differences": "finite differences"}
PAIRS = (("derived", "hand_written"), ("derived", "finite_differences"), ("hand_written", "finite_differences"))
# analytic routes differ by rounding (~1e-14 measured); cs231n expects 1e-8 or better from its
# finite differences at h = 1e-5 and calls below 1e-7 probably right
ANALYTIC_TOLERANCE = 1e-9
DIFFERENCE_TOLERANCE = 1e-6


class SequenceInputError(ValueError):
    """A point file or option the recurrent check cannot use."""


@dataclass(frozen=True)
class SequencePoint:
    """Where the gradients are compared, in the reference's layout: x N x T x D, h0 (and c0) N x H,
    targets N x T x M (half-SSE) or N x T classes (cross-entropy); params in the layer's own form."""

    kind: str
    convention: str
    activation: str
    cost: str
    params: dict
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None
    targets: np.ndarray
    description: str

    @property
    def steps(self) -> int:
        return self.x.shape[1]


def parameter_shapes(kind: str, convention: str, inputs: int, hidden: int, outputs: int) -> dict:
    """The layer's parameters in its own form (derive/recurrence/forward.py), biases 2-D."""
    column = convention == "column"
    def weight(rows, cols):
        return (rows, cols) if column else (cols, rows)
    bias = (lambda width: (width, 1)) if column else (lambda width: (1, width))
    if kind == "rnn":
        return {"W_xh": weight(hidden, inputs), "W_hh": (hidden, hidden), "b": bias(hidden),
                "W_hy": weight(outputs, hidden), "c": bias(outputs)}
    shapes = {}
    for gate in "ifog":
        shapes.update({f"W_x{gate}": weight(hidden, inputs), f"W_h{gate}": (hidden, hidden), f"b_{gate}": bias(hidden)})
    shapes.update({"W_hy": weight(outputs, hidden), "b_y": bias(outputs)})
    return shapes


def cs231n_point(kind="rnn", convention="column", activation="tanh", cost="half_sse", examples=2, steps=10,
                 inputs=3, hidden=5, outputs=4, seed=0, scale=1.0) -> SequencePoint:
    rng = np.random.default_rng(seed)
    params = {name: scale * rng.standard_normal(shape)
              for name, shape in parameter_shapes(kind, convention, inputs, hidden, outputs).items()}
    x = rng.standard_normal((examples, steps, inputs))
    h0 = rng.standard_normal((examples, hidden))
    c0 = rng.standard_normal((examples, hidden)) if kind == "lstm" else None
    targets = (rng.standard_normal((examples, steps, outputs)) if cost == "half_sse"
               else rng.integers(0, outputs, (examples, steps)))
    return SequencePoint(kind, convention, activation, cost, params, x, h0, c0, targets,
                         f"cs231n's RNN check: N = {examples}, T = {steps}, D = {inputs}, H = {hidden}, M = {outputs}, "
                         f"randn (seed {seed})")


def read_sequences(path, kind, convention, activation, cost, hidden, outputs, seed=0) -> SequencePoint:
    """Sequences from JSON {"x": [[[...] per step] per sequence], "h0": [[...]] (optional),
    "targets": [...] (optional)}; the parameters are drawn (seed).

    Raises:
        SequenceInputError: unreadable, ragged lengths, or widths that do not fit.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SequenceInputError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict) or "x" not in data or not isinstance(data["x"], list) or not data["x"]:
        raise SequenceInputError(f"{path} must hold a JSON object with x: a list of sequences, each a list of steps")
    lengths = [len(sequence) if isinstance(sequence, list) else -1 for sequence in data["x"]]
    if len(set(lengths)) != 1:
        raise SequenceInputError(f"{path}: the sequences have ragged lengths {lengths}: every sequence in x must "
                                 "have the same number of steps T")
    try:
        x = np.asarray(data["x"], dtype=float)
    except (TypeError, ValueError):
        raise SequenceInputError(f"{path}: x is not a list of sequences of equal-width steps of numbers") from None
    if x.ndim != 3 or x.shape[1] < 1 or not np.all(np.isfinite(x)):
        raise SequenceInputError(f"{path}: x must be sequences x steps x width of finite numbers, got shape {x.shape}")
    point = cs231n_point(kind, convention, activation, cost, x.shape[0], x.shape[1], x.shape[2], hidden, outputs, seed)
    h0 = point.h0
    if "h0" in data:
        h0 = np.asarray(data["h0"], dtype=float)
        if h0.ndim != 2 or h0.shape[1] != hidden or h0.shape[0] != x.shape[0]:
            from derive.recurrence.errors import WidthError
            raise WidthError("h0", h0.shape[-1] if h0.ndim else 0, hidden, f"hidden width H (one row of {hidden} "
                             f"per sequence, {x.shape[0]} sequences)")
    return SequencePoint(point.kind, convention, activation, cost, point.params, x, h0, point.c0, point.targets,
                         f"{path} (N = {x.shape[0]}, T = {x.shape[1]}, D = {x.shape[2]}), parameters randn (seed {seed})")


# ------------------------------------------------------------------ layouts


def to_reference(point: SequencePoint) -> dict:
    """The layer's parameters in the reference's row layout (LSTM gates stacked i, f, o, g)."""
    column = point.convention == "column"
    row = {name: (array.T if column else array) for name, array in point.params.items()}
    row = {name: (array.ravel() if name.startswith(("b", "c")) else array) for name, array in row.items()}
    if point.kind == "rnn":
        return row
    return {"Wx": np.hstack([row[f"W_x{g}"] for g in reference.GATE_ORDER]),
            "Wh": np.hstack([row[f"W_h{g}"] for g in reference.GATE_ORDER]),
            "b": np.concatenate([row[f"b_{g}"] for g in reference.GATE_ORDER]), "W_hy": row["W_hy"], "b_y": row["b_y"]}


def from_reference(point: SequencePoint, gradients: dict) -> dict:
    """Reference-layout gradients under the layer's names and shapes."""
    column = point.convention == "column"
    H = point.h0.shape[1]
    named = dict(gradients)
    if point.kind == "lstm":
        for stacked, stem in (("Wx", "W_x"), ("Wh", "W_h"), ("b", "b_")):
            for n, gate in enumerate(reference.GATE_ORDER):
                named[f"{stem}{gate}"] = gradients[stacked][..., n * H:(n + 1) * H]
        for stacked in ("Wx", "Wh", "b"):
            del named[stacked]
    result = {}
    for name, array in named.items():
        if name in point.params:
            shape = point.params[name].shape
            array = array.reshape(1, -1) if array.ndim == 1 else array
            result[name] = array.T if column else array
            assert result[name].shape == shape, (name, result[name].shape, shape)
        else:
            result[name] = array
    return result


# ------------------------------------------------------------------ the three routes


def derived_route(point: SequencePoint, truncate=None, derivation=None) -> dict:
    from derive.recurrence.costs import cost_gradient
    from derive.recurrence.derivation import derive_recurrence
    from derive.recurrence.evaluate import float_functions, run_backward, run_forward

    derivation = derivation or derive_recurrence(point.kind, point.convention, point.activation)
    column = point.convention == "column"
    xs = [point.x[:, s, :].T if column else point.x[:, s, :] for s in range(point.steps)]
    initial = {"h": point.h0.T if column else point.h0}
    if point.kind == "lstm":
        initial["c"] = point.c0.T if column else point.c0
    functions = float_functions()
    forward = run_forward(derivation, point.params, xs, initial, functions)
    M = point.params["W_hy"].shape[0 if column else 1]
    gradient = cost_gradient(point.cost, M)
    dys = []
    for s in range(point.steps):
        y = forward.values["y"][s + 1].T if column else forward.values["y"][s + 1]
        target = point.targets[:, s] if point.cost == "half_sse" else np.eye(M)[point.targets[:, s]]
        dy = gradient(y, target)
        dys.append(dy.T if column else dy)
    found = run_backward(derivation, point.params, forward, dys, functions, truncate)
    result = {name: found[name] for name in point.params}
    for name in ("h_0", "c_0"):
        if name in found:
            result[name] = found[name].T if column else found[name]
    result["x"] = np.stack([g.T if column else g for g in found["x"]], axis=1)
    return result


def hand_written_route(point: SequencePoint, truncate=None) -> dict:
    params = to_reference(point)
    return from_reference(point, reference.backward(point.kind, params, point.x, point.h0, point.c0, point.targets,
                                                    point.cost, point.activation, truncate))


def finite_difference_route(point: SequencePoint) -> dict:
    params = to_reference(point)
    x, h0 = point.x.copy(), point.h0.copy()
    c0 = None if point.c0 is None else point.c0.copy()

    def cost():
        return reference.forward_cost(point.kind, params, x, h0, c0, point.targets, point.cost, point.activation)

    found = {name: reference.numerical_gradient(cost, array) for name, array in params.items()}
    found["h_0"] = reference.numerical_gradient(cost, h0)
    if c0 is not None:
        found["c_0"] = reference.numerical_gradient(cost, c0)
    found["x"] = reference.numerical_gradient(cost, x)
    return from_reference(point, found)


def scaled_error(a, b) -> float:
    """max |a - b| over the larger of the two gradients' largest entries (for entries that are 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b))) / max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-300)


@dataclass(frozen=True)
class Comparison:
    name: str
    errors: tuple[float, ...]
    scaled: tuple[float, ...]
    agree: bool


@dataclass(frozen=True)
class Truncation:
    """BPTT(k): derived vs hand-written truncated gradients, and how far each is from full BPTT."""

    steps: int
    agreement: tuple[tuple[str, float], ...]  # (gradient, rel_error derived vs hand-written truncated)
    distance: tuple[tuple[str, float], ...]  # (gradient, |truncated - full| / |full|, Frobenius)

    @property
    def agree(self) -> bool:
        return all(e <= ANALYTIC_TOLERANCE for _, e in self.agreement)


@dataclass(frozen=True)
class SequenceVerdict:
    point: SequencePoint
    routes: dict
    comparisons: tuple[Comparison, ...]
    truncation: Truncation | None = None

    @property
    def agree(self) -> bool:
        return all(c.agree for c in self.comparisons) and (self.truncation is None or self.truncation.agree)


def compare(routes: dict) -> tuple[Comparison, ...]:
    limits = tuple(DIFFERENCE_TOLERANCE if "finite_differences" in pair else ANALYTIC_TOLERANCE for pair in PAIRS)
    comparisons = []
    for name in routes["derived"]:
        errors = tuple(reference.rel_error(routes[a][name], routes[b][name]) for a, b in PAIRS)
        scaled = tuple(scaled_error(routes[a][name], routes[b][name]) for a, b in PAIRS)
        comparisons.append(Comparison(name, errors, scaled, all(min(e, c) <= t for e, c, t in zip(errors, scaled, limits))))
    return tuple(comparisons)


def check_sequence(point: SequencePoint, truncate=None, derivation=None) -> SequenceVerdict:
    """The three routes at `point`; with truncate = k, BPTT(k) by two routes and its distance from full."""
    routes = {"derived": derived_route(point, None, derivation), "hand_written": hand_written_route(point),
              "finite_differences": finite_difference_route(point)}
    truncation = None
    if truncate is not None:
        derived, hand = derived_route(point, truncate, derivation), hand_written_route(point, truncate)
        agreement = tuple((name, reference.rel_error(derived[name], hand[name])) for name in derived)
        distance = tuple((name, float(np.linalg.norm(derived[name] - routes["derived"][name])
                                      / max(np.linalg.norm(routes["derived"][name]), 1e-300))) for name in derived)
        truncation = Truncation(truncate, agreement, distance)
    return SequenceVerdict(point, routes, compare(routes), truncation)


def verdict_text(verdict: SequenceVerdict) -> str:
    point = verdict.point
    N, T, D = point.x.shape
    layer = "Elman RNN" if point.kind == "rnn" else "LSTM"
    activation = f", {point.activation}" if point.kind == "rnn" else ""
    lines = [f"check {layer}{activation}, {point.convention} convention, {point.cost} per step, N = {N} sequences, "
             f"T = {T}, D = {D}, H = {point.h0.shape[1]}",
             f"point: {point.description}", "routes:",
             "  derived: the gradients derive_recurrence found, run step by step in float64",
             "  hand-written: checks/recurrence/reference.py, cs231n's rnn_layers (NumPy only)",
             f"  finite differences: central, every entry, h = {reference.FINITE_DIFFERENCE_STEP:g}", "",
             "cs231n's gradient check (rel_error = max |a - b| / max(1e-8, |a| + |b|)):"]
    limits = tuple(DIFFERENCE_TOLERANCE if "finite_differences" in pair else ANALYTIC_TOLERANCE for pair in PAIRS)
    for comparison in verdict.comparisons:
        figures = ", ".join(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]} {e:.2e}"
                            + (f" ({c:.1e} of the largest entry)" if e > t else "")
                            for (a, b), e, c, t in zip(PAIRS, comparison.errors, comparison.scaled, limits))
        lines.append(f"  d{comparison.name}: {figures}" + ("" if comparison.agree else "  DISAGREE"))
    lines.append(f"tolerances: analytic routes {ANALYTIC_TOLERANCE:g}, finite differences {DIFFERENCE_TOLERANCE:g}, "
                 "by cs231n's figure or of the gradient's largest entry")
    if verdict.truncation is not None:
        k = verdict.truncation.steps
        lines.append(f"truncated backprop through time, k = {k} of T = {T} steps (each step's cost carried back k steps):")
        for (name, error), (_, distance) in zip(verdict.truncation.agreement, verdict.truncation.distance):
            lines.append(f"  d{name}: derived vs hand-written {error:.2e}; differs from full BPTT by {distance:.2e} "
                         "(|truncated - full| / |full|)")
    if verdict.agree:
        lines.append("verdict: agree -- derived, hand-written and finite differences give the same gradients")
    else:
        where = [c.name for c in verdict.comparisons if not c.agree]
        if verdict.truncation is not None and not verdict.truncation.agree:
            where.append(f"truncated k = {verdict.truncation.steps}")
        lines.append(f"verdict: DISAGREE at {', '.join(where)}")
    return "\n".join(lines) + "\n"
