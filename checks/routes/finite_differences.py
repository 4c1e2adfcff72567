"""Gradient checking by central finite differences over parameters unrolled into one vector."""

# NumPy and the standard library only: this is part of the route independent of the derivation.

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np

FLOAT64_EPSILON = float(np.finfo(np.float64).eps)  # 2.2e-16, the spacing of float64 around 1

# The central difference (J(t + h) - J(t - h)) / 2h has a truncation error h^2/6 |J'''| and a
# rounding error about eps |J| / h. For J and J''' of order 1 their sum is smallest at
# h = (3 eps)^(1/3) ~ eps^(1/3) ~ 6.1e-6, where both are ~ eps^(2/3) ~ 4e-11.
# (Ng uses 1e-4, torch.autograd.gradcheck 1e-6; both are within a factor ~20 of this optimum.)
CENTRAL_STEP = FLOAT64_EPSILON ** (1.0 / 3.0)

# An entry agrees when |analytic - numeric| <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * scale,
# scale = max(|analytic|, |numeric|). At CENTRAL_STEP the expected error is ~ eps^(2/3) ~ 4e-11
# times the size of J and J''' (a sum over m examples and K outputs, with weights of order 1):
# 1e-7 absolute leaves a factor ~1000 of room for costs and third derivatives up to ~100, and
# 1e-5 relative covers large gradients, whose J is large too. A wrong formula (a missing
# transpose, a flipped sign, f'(a) for f'(z)) is wrong by a factor of order 1, far outside both.
ABSOLUTE_TOLERANCE = 1e-7
RELATIVE_TOLERANCE = 1e-5

# Ng's relative difference ||a - b|| / ||a + b|| over the whole unrolled gradient, reported next to
# the per-entry verdict but never the verdict alone: its denominator is the gradient's own size, so
# near a stationary point rounding alone drives it up. Measured over ~1000 random small nets
# (test_numpy_backprop's strategy): median 2.6e-11, 99th percentile 1.6e-9, and 7.5e-7 for one net
# whose whole gradient had norm 3e-5 while every entry was within 2.4e-11 of central differences.
# 1e-7 is Ng's "very small" with the margin above, for gradients of order 1.
# The entry tolerances assume |J| up to ~1e3 (rounding eps |J| / h = 4e-8 there); for larger costs
# pass a larger absolute_tolerance, or use reduction "mean".
RELATIVE_DIFFERENCE_TOLERANCE = 1e-7

# The random-direction mode: two cost evaluations per direction instead of two per parameter.
# A wrong gradient g' != g passes one random unit direction u only if (g' - g) . u ~ 0, which for
# a continuous random u happens with probability 0; a few directions guard against near misses.
DIRECTION_COUNT = 3

_NAME = re.compile(r"^([A-Za-z_]+)(\d+)$")


def parameter_order(names) -> tuple[str, ...]:
    """The stable order of parameter names: by layer number, W before b (W1, b1, W2, b2, ...).

    >>> parameter_order(["b2", "W2", "W1", "b1", "W10"])
    ('W1', 'b1', 'W2', 'b2', 'W10')
    """
    def key(name: str):
        match = _NAME.match(name)
        if match is None:
            raise ValueError(f"parameter name {name!r} is not a letter and a layer number like W1 or b1")
        letter, layer = match.groups()
        return (int(layer), letter != "W", letter)

    return tuple(sorted(names, key=key))


def unroll(params: Mapping[str, np.ndarray]) -> np.ndarray:
    """One vector holding every parameter, in parameter_order, each flattened row by row.

    Ng's thetaVec = [Theta1(:); Theta2(:)] does the same column by column; any fixed order works
    as long as roll inverts it.

    >>> unroll({"W2": np.array([[5.0]]), "W1": np.array([[1.0, 2.0], [3.0, 4.0]])}).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0]
    """
    return np.concatenate([np.asarray(params[name], dtype=np.float64).ravel()
                           for name in parameter_order(params)])


def roll(vector: np.ndarray, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The inverse of unroll: cuts the vector into arrays of the given shapes, in parameter_order.

    Raises:
        ValueError: the vector's length is not the total size of the shapes.
    """
    vector = np.asarray(vector, dtype=np.float64)
    sizes = {name: int(np.prod(shapes[name])) for name in shapes}
    if vector.ndim != 1 or vector.size != sum(sizes.values()):
        raise ValueError(f"the unrolled vector has shape {vector.shape}; expected ({sum(sizes.values())},)"
                         f" for parameters {dict(shapes)}")
    params, start = {}, 0
    for name in parameter_order(shapes):
        params[name] = vector[start:start + sizes[name]].reshape(shapes[name]).copy()
        start += sizes[name]
    return params


def _shapes(params: Mapping[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    return {name: np.shape(params[name]) for name in params}


def finite_difference_gradient(cost_fn: Callable[[dict[str, np.ndarray]], float],
                               params: Mapping[str, np.ndarray],
                               step: float = CENTRAL_STEP,
                               progress: Callable[[Iterable[int], str, int], Iterable[int]] | None = None,
                               ) -> dict[str, np.ndarray]:
    """Central differences over every parameter: two cost evaluations per entry.

    dJ/dtheta_i ~ (J(theta + h e_i) - J(theta - h e_i)) / (2 h), e_i the i-th unit vector of the
    unrolled parameters.

    Args:
        cost_fn: the cost as a function of a parameter dict.
        params: the point, by name.
        step: h.
        progress: wraps the loop over the entries to show progress, called as
            progress(entries, description, total); derive.progress.progress fits. Passed in
            rather than imported because this route imports NumPy only (tests/test_numpy_backprop).

    Returns:
        The numeric gradient, by name, shaped like params.

    >>> fd = finite_difference_gradient(lambda p: float(np.sum(p["W1"] ** 3)), {"W1": np.array([[2.0]])})
    >>> round(float(fd["W1"][0, 0]), 6)
    12.0
    """
    shapes = _shapes(params)
    theta = unroll(params)
    gradient = np.empty_like(theta)
    entries = range(theta.size)
    if progress is not None:
        entries = progress(entries, "finite differences", theta.size)
    for i in entries:
        plus, minus = theta.copy(), theta.copy()
        plus[i] += step
        minus[i] -= step
        gradient[i] = (cost_fn(roll(plus, shapes)) - cost_fn(roll(minus, shapes))) / (2.0 * step)
    return roll(gradient, shapes)


def relative_difference(a, b) -> float:
    """Ng's relative difference ||a - b|| / ||a + b|| (0 when a = b, inf when a = -b != 0).

    >>> relative_difference([1.0, 2.0], [1.0, 2.0])
    0.0
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    numerator, denominator = np.linalg.norm(a - b), np.linalg.norm(a + b)
    if numerator == 0.0:
        return 0.0
    return float(numerator / denominator) if denominator > 0.0 else float("inf")


def entry_errors(analytic, numeric) -> tuple[np.ndarray, np.ndarray]:
    """Per-entry absolute error |a - n| and relative error |a - n| / max(|a|, |n|) (0 where both are 0)."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    absolute = np.abs(analytic - numeric)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    relative = np.divide(absolute, scale, out=np.zeros_like(absolute), where=scale > 0)
    return absolute, relative


@dataclass(frozen=True)
class ParameterComparison:
    """One parameter's comparison: per-entry errors and its worst entry (the one furthest past tolerance)."""

    name: str
    agree: bool
    absolute_errors: np.ndarray
    relative_errors: np.ndarray
    relative_difference: float
    worst_index: tuple[int, ...]
    worst_analytic: float
    worst_numeric: float
    worst_absolute_error: float
    worst_relative_error: float


@dataclass(frozen=True)
class GradientComparison:
    """Two gradients compared entry by entry, by parameter, and as Ng's relative difference."""

    agree: bool
    relative_difference: float
    parameters: dict[str, ParameterComparison]

    @property
    def disagreeing(self) -> tuple[str, ...]:
        """The names of the parameters with an entry outside tolerance, in parameter_order."""
        return tuple(name for name, comparison in self.parameters.items() if not comparison.agree)


def compare_gradients(analytic: Mapping[str, np.ndarray], numeric: Mapping[str, np.ndarray],
                      absolute_tolerance: float = ABSOLUTE_TOLERANCE,
                      relative_tolerance: float = RELATIVE_TOLERANCE) -> GradientComparison:
    """Compares two gradients entry by entry.

    An entry agrees when |a - n| <= absolute_tolerance + relative_tolerance * max(|a|, |n|).

    Raises:
        ValueError: the two gradients do not have the same names and shapes.
    """
    if set(analytic) != set(numeric):
        raise ValueError(f"the gradients name different parameters: {sorted(analytic)} and {sorted(numeric)}")
    parameters = {}
    for name in parameter_order(analytic):
        a, n = np.asarray(analytic[name], dtype=np.float64), np.asarray(numeric[name], dtype=np.float64)
        if a.shape != n.shape:
            raise ValueError(f"gradient {name} has shape {a.shape} on one side and {n.shape} on the other")
        absolute, relative = entry_errors(a, n)
        allowed = absolute_tolerance + relative_tolerance * np.maximum(np.abs(a), np.abs(n))
        excess = absolute / allowed
        worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.size else ()
        parameters[name] = ParameterComparison(
            name=name, agree=bool(np.all(excess <= 1.0)), absolute_errors=absolute,
            relative_errors=relative, relative_difference=relative_difference(a, n),
            worst_index=tuple(int(i) for i in worst),
            worst_analytic=float(a[worst]) if a.size else 0.0,
            worst_numeric=float(n[worst]) if a.size else 0.0,
            worst_absolute_error=float(absolute[worst]) if a.size else 0.0,
            worst_relative_error=float(relative[worst]) if a.size else 0.0)
    return GradientComparison(
        agree=all(comparison.agree for comparison in parameters.values()),
        relative_difference=relative_difference(unroll(analytic), unroll(numeric)),
        parameters=parameters)


@dataclass(frozen=True)
class DirectionalCheck:
    """Random unit directions u, the numeric derivative of J along each, and gradient . u."""

    directions: np.ndarray
    numeric: np.ndarray
    analytic: np.ndarray
    absolute_errors: np.ndarray
    relative_errors: np.ndarray
    agree: bool


def directional_check(cost_fn: Callable[[dict[str, np.ndarray]], float],
                      params: Mapping[str, np.ndarray], gradients: Mapping[str, np.ndarray],
                      count: int = DIRECTION_COUNT, rng: np.random.Generator | int | None = 0,
                      step: float = CENTRAL_STEP,
                      absolute_tolerance: float = ABSOLUTE_TOLERANCE,
                      relative_tolerance: float = RELATIVE_TOLERANCE) -> DirectionalCheck:
    """Checks a gradient along a few random unit directions: two cost evaluations each.

    dJ/du ~ (J(theta + h u) - J(theta - h u)) / (2 h), compared with sum_i g_i u_i.

    Args:
        cost_fn: the cost as a function of a parameter dict.
        params: the point.
        gradients: the gradient to check, by name.
        count: how many directions.
        rng: a numpy Generator or a seed.
        step: h.
        absolute_tolerance, relative_tolerance: as for compare_gradients.

    Raises:
        ValueError: count < 1, or the gradient names differ from the parameter names.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count, the number of random directions, must be an integer >= 1, got {count!r}")
    if set(params) != set(gradients):
        raise ValueError(f"the gradient names {sorted(gradients)} differ from the parameters {sorted(params)}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    shapes = _shapes(params)
    theta, g = unroll(params), unroll(gradients)
    directions = rng.standard_normal((count, theta.size))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    numeric = np.array([(cost_fn(roll(theta + step * u, shapes)) - cost_fn(roll(theta - step * u, shapes)))
                        / (2.0 * step) for u in directions])
    analytic = directions @ g
    absolute, relative = entry_errors(analytic, numeric)
    allowed = absolute_tolerance + relative_tolerance * np.maximum(np.abs(analytic), np.abs(numeric))
    return DirectionalCheck(directions=directions, numeric=numeric, analytic=analytic,
                            absolute_errors=absolute, relative_errors=relative,
                            agree=bool(np.all(absolute <= allowed)))
