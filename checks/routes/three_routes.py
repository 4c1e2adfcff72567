"""verify(spec): the derived rule, a hand-written NumPy backprop and finite differences, one verdict."""

# The routes (see issue 3):
#   derived            checks.routes.derived: the matrix formulas derive_rule found, lambdified;
#   hand_written       checks.handwritten.network.backprop (or any function with its signature);
#   finite_differences central differences of the hand-written cost J (checks.routes.finite_differences),
#                      over every parameter entry for small nets, along random directions within
#                      each parameter for large ones;
#   entrywise          SymPy's diff of J written out in full, lambdified (small nets only).
# Every pair of routes is compared entry by entry; a parameter agrees when every pair does.

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from typing import Callable, Mapping

import numpy as np

from checks.routes import finite_differences as fd
from checks.inputs.data import random_data, random_params
from checks.routes.derived import (ENTRYWISE_LIMIT, NotNumeric, derived_gradient_function,
                                  entrywise_gradient_function)
from checks.handwritten.network import Backprop, backprop, check_data, check_params, check_spec
from checks.handwritten.network import cost as hand_written_cost
from checks.handwritten.network import forward as hand_written_forward
from checks.routes.tolerances import (ANALYTIC_FLOOR, ANALYTIC_ROUTES, ANALYTIC_TOLERANCE, COST_SCALE_COVERED,
                                      ROUTE_TITLES, ROUTES)
from derive.progress import progress
from derive.network.activations import activation as activation_entry
from derive.network.spec import NetworkSpec

# Full central differences cost two evaluations of J per parameter: up to this many parameters
# (~0.1 s at 1000 for small m), every entry; above it, DIRECTION_COUNT random directions within each
# parameter (two evaluations each) plus the worst entry of the analytic comparison.
FULL_DIFFERENCE_LIMIT = 1000

# Central differences are wrong across a ReLU kink: with a step of ~6e-6 on weights of order 1 and
# inputs up to ~3, a pre-activation within 1e-3 of 0 may cross it. Then the finite-difference route
# is reported but does not decide the verdict.
KINK_MARGIN = 1e-3

# The entrywise oracle evaluates sigma(z) = 1/(1 + exp(-z)) as written, and its derivatives divide
# by 1 - sigma(z), which cancels: relative error ~ eps e^|z| (beyond |z| ~ 36.7 it is 1/0). At
# |z| <= 10 that is <= 2.2e-16 e^10 = 4.9e-12, 200 times below ANALYTIC_TOLERANCE; the route is
# used only while every |z| stays within this limit.
ENTRYWISE_Z_LIMIT = 10.0

# Softmax with categorical cross-entropy: the derived delta yhat - y holds when each example's
# targets sum to 1 (derive.backward.derivation's condition). One-hot rows sum to 1 exactly; 1e-9 allows
# targets written with ~10 decimals.
TARGET_SUM_TOLERANCE = 1e-9


# NumPy's overflow and invalid-value warnings are not shown: every route's result is checked for
# inf and NaN instead, and a non-finite value is reported once, by name (check_finite_values).
_QUIET = dict(over="ignore", invalid="ignore", divide="ignore")


class NotFinite(ValueError):
    """Finite inputs whose values overflow float64 on the way (weights of 1e308, l2 = 1e308): an
    input problem, reported with the first quantity that overflowed, never as a disagreement."""


def check_finite_values(spec, route, params: Mapping, X, Y, result: Backprop, where: str = "",
                        label: str = "the derived route", forward: tuple | None = None) -> None:
    """Raises NotFinite naming the first of z(l), a(l), J, delta(l), dJ/dtheta that is inf or NaN.

    A z that overflowed is refused even when a saturating activation brings the result back to
    finite numbers: float64 did not hold the value, and the check would vouch for nothing.

    Args:
        route: a DerivedRoute (its .forward gives z and a), or None for the hand-written backprop,
            whose forward pass is checks.handwritten.network.forward.
        forward: (z, a) by layer when already computed.
    """
    if forward is None:
        with np.errstate(**_QUIET):
            if route is not None:
                forward = route.forward(params, X, Y)
            else:
                passed = hand_written_forward(spec, params, X)
                forward = passed.z, passed.a
    z, a = forward
    quantities = []
    for layer in sorted(z):
        quantities += [(f"z{layer}", z[layer]), (f"a{layer}" if layer < len(spec.sizes) else "yhat", a[layer])]
    quantities.append(("the cost J", np.asarray(result.cost)))
    quantities += [(f"delta{layer}", result.deltas[layer]) for layer in sorted(result.deltas, reverse=True)]
    quantities += [(f"dJ/d{name}", gradient) for name, gradient in result.gradients.items()]
    bad = next(((n, v) for n, v in quantities if not np.all(np.isfinite(v))), None)
    if bad is None:
        return
    name, value = bad
    kind = "inf" if np.any(np.isinf(value)) else "NaN"
    largest = max(float(np.max(np.abs(p), initial=0.0)) for p in params.values())
    inputs = f"largest |weight| {largest:.3g}, largest |X| {float(np.max(np.abs(X), initial=0.0)):.3g}"
    inputs += f", l2 = {spec.l2:g}" if spec.l2 else ""
    raise NotFinite(f"{name} overflows float64 ({kind}) in {label}{f' at {where}' if where else ''}, although "
                    f"every input is finite ({inputs}): the inputs are too large to check in float64, whose "
                    f"largest number is 1.8e308; scale the weights, data or l2 down")


@dataclass(frozen=True)
class PairComparison:
    """Two routes compared on one parameter."""

    first: str
    second: str
    agree: bool
    worst_index: tuple[int, ...] | None  # None along random directions
    absolute_error: float
    relative_error: float
    relative_difference: float  # Ng's ||a - b|| / ||a + b|| over the parameter (or the directions)


@dataclass(frozen=True)
class ParameterVerdict:
    """One parameter (W1, b1, ...): agreement, its worst entry and every route's value there.

    absolute_error and relative_error are the largest pairwise |difference| (and that over the
    larger magnitude) among the values at the worst entry; relative_difference is the largest
    Ng's relative difference over the pairs.
    """

    name: str
    layer: int
    shape: tuple[int, int]
    agree: bool
    worst_index: tuple[int, int]
    values: dict[str, float]
    absolute_error: float
    relative_error: float
    relative_difference: float
    pairs: tuple[PairComparison, ...]
    odd_route: str | None  # the one route that disagrees with all others, when there is one
    # every entry below what central differences resolve: the finite-difference pairs are left out
    unresolved: bool = False

    @property
    def derived(self) -> float:
        return self.values["derived"]

    @property
    def hand_written(self) -> float:
        return self.values["hand_written"]

    @property
    def numeric(self) -> float:
        return self.values["finite_differences"]

    @property
    def disagreeing_pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple((p.first, p.second) for p in self.pairs if not p.agree)


@dataclass(frozen=True)
class Verdict:
    """What verify found. agree is True when every parameter and the cost agree."""

    spec: NetworkSpec
    agree: bool
    routes: tuple[str, ...]
    costs: dict[str, float]
    cost_agree: bool
    parameters: tuple[ParameterVerdict, ...]
    finite_differences: str  # "full" or "directions"
    finite_differences_decide: bool  # False near a ReLU kink
    notes: tuple[str, ...]
    gradients: dict[str, dict[str, np.ndarray]]  # route -> name -> gradient (FD only when full)
    params: dict[str, np.ndarray]
    X: np.ndarray
    Y: np.ndarray
    seconds: dict[str, float]

    def parameter(self, name: str) -> ParameterVerdict:
        for verdict in self.parameters:
            if verdict.name == name:
                return verdict
        raise KeyError(f"no parameter {name!r}; parameters: {', '.join(p.name for p in self.parameters)}")

    @property
    def disagreeing(self) -> tuple[str, ...]:
        """The parameters with a disagreement, in the order W1, b1, W2, ..."""
        return tuple(p.name for p in self.parameters if not p.agree)

    def text(self, data_text: str, params_text: str) -> str:
        """The table `backprop check` prints (checks.routes.verdict_report)."""
        from checks.routes.verdict_report import verdict_text

        return verdict_text(self, data_text, params_text)

    def to_json(self, data_text: str, params_text: str, seed: int) -> dict:
        """Everything `backprop check --json` prints, every gradient from every route included."""
        from checks.routes.verdict_report import verdict_json

        return verdict_json(self, data_text, params_text, seed)


def _layer(name: str) -> int:
    return int(name.lstrip("Wb"))


def _analytic_allowed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    largest = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return ANALYTIC_TOLERANCE * (np.maximum(np.abs(a), np.abs(b)) + largest) + ANALYTIC_FLOOR


def _difference_allowed(a: np.ndarray, b: np.ndarray, cost: float) -> np.ndarray:
    absolute = fd.ABSOLUTE_TOLERANCE * max(1.0, abs(cost) / COST_SCALE_COVERED)
    return absolute + fd.RELATIVE_TOLERANCE * np.maximum(np.abs(a), np.abs(b))


def _compare_entries(first: str, second: str, a: np.ndarray, b: np.ndarray,
                     allowed: np.ndarray) -> tuple[PairComparison, np.ndarray]:
    absolute, relative = fd.entry_errors(a, b)
    excess = absolute / allowed
    worst = np.unravel_index(int(np.argmax(excess)), a.shape)
    pair = PairComparison(first, second, bool(np.all(excess <= 1.0)), tuple(int(i) for i in worst),
                          float(absolute[worst]), float(relative[worst]), fd.relative_difference(a, b))
    return pair, excess


def _odd_route(routes: tuple[str, ...], pairs: list[PairComparison]) -> str | None:
    if len(routes) < 3:
        return None
    agree = {frozenset((p.first, p.second)): p.agree for p in pairs}
    for route in routes:
        others = [r for r in routes if r != route]
        if all(not agree[frozenset((route, o))] for o in others) and \
                all(agree[frozenset(pair)] for pair in itertools.combinations(others, 2)):
            return route
    return None


def _single_entry_difference(cost_fn, params: dict[str, np.ndarray], name: str, index) -> float:
    plus = {**params, name: params[name].copy()}
    minus = {**params, name: params[name].copy()}
    plus[name][index] += fd.CENTRAL_STEP
    minus[name][index] -= fd.CENTRAL_STEP
    return (cost_fn(plus) - cost_fn(minus)) / (2.0 * fd.CENTRAL_STEP)


def _prepare(spec: NetworkSpec, params, data, seed: int):
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"spec must be a NetworkSpec, got {type(spec).__name__}")
    if "f" in spec.activations:
        raise NotNumeric("the generic activation f has no numeric value; verify needs sigmoid, tanh, "
                         "relu, identity or softmax")
    check_spec(spec)
    rng = np.random.default_rng(seed)
    params = random_params(spec, rng) if params is None else params
    X, Y = random_data(spec, rng=rng) if data is None else data
    X, Y = check_data(spec, X, Y)
    m = X.shape[0] if spec.convention == "row" else X.shape[1]
    spec = replace(spec, m=m)
    params = check_params(spec, params)
    if spec.output_activation == "softmax":
        sums = np.sum(Y, axis=1 if spec.convention == "row" else 0)
        worst = int(np.argmax(np.abs(sums - 1.0)))
        if abs(sums[worst] - 1.0) > TARGET_SUM_TOLERANCE:
            raise ValueError(f"softmax with cross-entropy is derived for targets that sum to 1 per "
                             f"example (one-hot); example {worst} sums to {sums[worst]:.6g}")
    return spec, params, X, Y


def verify(spec: NetworkSpec, params: Mapping | None = None, data: tuple | None = None, seed: int = 0,
           *, hand_written: Callable[..., Backprop] = backprop, entrywise: bool | None = None,
           finite_differences: str | None = None) -> Verdict:
    """Checks the derived gradients against a hand-written backprop and finite differences.

    For each parameter theta, every pair of routes is compared entry by entry:
    derived dJ/dtheta[i, j], hand-written dJ/dtheta[i, j], and
    (J(theta + h e_ij) - J(theta - h e_ij)) / 2h with J the hand-written cost (or, for large nets,
    the same along random directions within theta), plus SymPy's entrywise diff for small nets.

    Args:
        spec: the network; its m is replaced by the number of examples in the data.
        params: "W1", "b1", ... in the spec's shapes; seeded random (epsilon_init) when None.
        data: (X, Y) in the spec's convention; seeded random when None.
        seed: seeds the random parameters, data and directions.
        hand_written: the route to check, with checks.handwritten.network.backprop's signature (tests
            pass a deliberately wrong one here).
        entrywise: True or False forces the entrywise route on or off; None uses it when
            parameter_count * m <= ENTRYWISE_LIMIT and every |z| <= ENTRYWISE_Z_LIMIT.
        finite_differences: "full", "directions", or None for full up to FULL_DIFFERENCE_LIMIT
            parameters.

    Returns:
        A Verdict.

    Raises:
        ValueError: the generic activation f, bad parameters or data (named, with the expected
            shape), softmax targets that do not sum to 1, or an unknown finite_differences mode.
        NotFinite: finite inputs whose forward values, cost, deltas, gradients or central
            differences overflow float64 (a ValueError naming the first such quantity).

    >>> verify(NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"))).agree
    True
    """
    if finite_differences not in (None, "full", "directions"):
        raise ValueError(f"unknown finite_differences mode {finite_differences!r}; accepted: full, directions")
    spec, params, X, Y = _prepare(spec, params, data, seed)
    seconds: dict[str, float] = {}
    notes: list[str] = []
    results, z = _analytic_results(spec, params, X, Y, hand_written, seconds)
    _add_entrywise(results, spec, params, X, Y, entrywise, z, seconds, notes)
    decide = _differences_decide(spec, z, notes)
    mode = finite_differences or ("full" if spec.parameter_count <= FULL_DIFFERENCE_LIMIT else "directions")
    gradients, parameters = _compared_parameters(spec, params, X, Y, results, mode, decide, seed, seconds, notes)
    costs, cost_agree = _compared_costs(results, notes)
    routes = tuple(r for r in ROUTES if r in gradients or (r == "finite_differences"))
    return Verdict(spec=spec, agree=cost_agree and all(p.agree for p in parameters), routes=routes,
                   costs=costs, cost_agree=cost_agree, parameters=parameters, finite_differences=mode,
                   finite_differences_decide=decide, notes=tuple(notes), gradients=gradients,
                   params=params, X=X, Y=Y, seconds=seconds)


def _analytic_results(spec, params, X, Y, hand_written, seconds: dict) -> tuple[dict[str, Backprop], dict]:
    """The derived and the hand-written backprop at the point, each checked finite; and the forward z."""
    start = time.perf_counter()
    route = derived_gradient_function(spec)
    seconds["derivation"] = time.perf_counter() - start
    results: dict[str, Backprop] = {}
    start = time.perf_counter()
    with np.errstate(**_QUIET):
        results["derived"] = route(params, X, Y)
    seconds["derived"] = time.perf_counter() - start
    with np.errstate(**_QUIET):
        z, a = route.forward(params, X, Y)
    check_finite_values(spec, route, params, X, Y, results["derived"], forward=(z, a))
    start = time.perf_counter()
    with np.errstate(**_QUIET):
        results["hand_written"] = hand_written(spec, params, X, Y)
    seconds["hand_written"] = time.perf_counter() - start
    if hand_written is backprop:  # a test's deliberately wrong route may return anything
        check_finite_values(spec, None, params, X, Y, results["hand_written"], label="the hand-written backprop")
    return results, z


def _add_entrywise(results: dict, spec, params, X, Y, entrywise: bool | None, z: dict, seconds: dict,
                   notes: list) -> None:
    """SymPy's entrywise diff lambdified, as a third analytic route where the net is small and |z| moderate."""
    largest_z = max(float(np.max(np.abs(values), initial=0.0)) for values in z.values())
    use_entrywise = entrywise if entrywise is not None else (
        spec.parameter_count * spec.m <= ENTRYWISE_LIMIT and largest_z <= ENTRYWISE_Z_LIMIT)
    if not use_entrywise:
        return
    start = time.perf_counter()
    with np.errstate(all="ignore"):  # its formulas overflow for large |z|: judged below
        result = entrywise_gradient_function(spec)(params, X, Y)
    seconds["entrywise"] = time.perf_counter() - start
    if np.isfinite(result.cost) and all(np.all(np.isfinite(g)) for g in result.gradients.values()):
        results["entrywise"] = result
    else:
        notes.append(f"the entrywise route gave NaN or inf (largest |z| = {largest_z:.3g}) and was left out")


def _differences_decide(spec, z: dict, notes: list) -> bool:
    """False when a pre-activation sits near its activation's kink, where central differences are wrong."""
    kinks = [layer for layer, values in z.items()
             if activation_entry(spec.activation(layer)).kink and np.min(np.abs(values)) < KINK_MARGIN]
    if kinks:
        kinked = " or ".join(dict.fromkeys(spec.activation(layer) for layer in kinks))
        notes.append(f"a {kinked} pre-activation of layer {', '.join(map(str, kinks))} is within {KINK_MARGIN:g} "
                     "of its kink: finite differences are shown but do not decide the verdict")
    return not kinks


def _compared_parameters(spec, params, X, Y, results: dict, mode: str, decide: bool, seed: int, seconds: dict,
                         notes: list) -> tuple[dict, tuple[ParameterVerdict, ...]]:
    """Finite differences of the hand-written J, and each parameter's verdict over every pair of routes."""
    def cost_fn(candidate: dict[str, np.ndarray]) -> float:
        return hand_written_cost(spec, candidate, X, Y)

    cost = results["hand_written"].cost
    gradients = {name: result.gradients for name, result in results.items()}
    start = time.perf_counter()
    with np.errstate(**_QUIET):
        if mode == "full":
            gradients["finite_differences"] = fd.finite_difference_gradient(cost_fn, params, progress=progress)
            _check_differences_finite(gradients["finite_differences"], cost)
        parameters = tuple(_parameter_verdict(name, params, gradients, mode, cost_fn, cost, decide, seed)
                           for name in params)
    unresolved = [p.name for p in parameters if p.unresolved]
    if unresolved:
        named = ", ".join(unresolved) if len(unresolved) <= 6 else \
            f"{', '.join(unresolved[:3])}, ..., {unresolved[-1]} ({len(unresolved)} parameters)"
        notes.append(f"finite differences cannot resolve {named}: every entry is below "
                     f"{fd.ABSOLUTE_TOLERANCE:g}, the smallest slope a central difference of J tells from 0 "
                     f"(gradients vanish through deep nets); there only the analytic routes decide")
    seconds["finite_differences"] = time.perf_counter() - start
    return gradients, parameters


def _compared_costs(results: dict, notes: list) -> tuple[dict[str, float], bool]:
    costs = {name: float(result.cost) for name, result in results.items()}
    cost_agree = all(abs(a - costs["hand_written"]) <= ANALYTIC_TOLERANCE * max(1.0, abs(a))
                     for a in costs.values())
    if not cost_agree:
        notes.append("the routes compute different costs J: " +
                     ", ".join(f"{ROUTE_TITLES[r]} {c:.12g}" for r, c in costs.items()))
    return costs, cost_agree


def _check_differences_finite(gradient: Mapping[str, np.ndarray], cost: float) -> None:
    for name, values in gradient.items():
        if not np.all(np.isfinite(values)):
            raise NotFinite(f"the central differences of J for {name} overflow float64 (J = {cost:.3g}): "
                            f"J is too large to difference in float64, whose largest number is 1.8e308; "
                            f"scale the weights, data or l2 down")


def _parameter_verdict(name: str, params: dict[str, np.ndarray], gradients: dict[str, dict],
                       mode: str, cost_fn, cost: float, decide: bool, seed: int) -> ParameterVerdict:
    analytic = [r for r in ANALYTIC_ROUTES if r in gradients]
    arrays = {r: np.asarray(gradients[r][name], dtype=np.float64) for r in gradients}
    shape = params[name].shape
    numeric = "finite_differences"
    pairs: list[PairComparison] = []
    excess = np.zeros(shape)
    for first, second in itertools.combinations(analytic, 2):
        a, b = arrays[first], arrays[second]
        pair, pair_excess = _compare_entries(first, second, a, b, _analytic_allowed(a, b))
        pairs.append(pair)
        excess = np.maximum(excess, pair_excess)
    # Central differences cannot tell a slope below their absolute tolerance from 0 (deep nets make
    # gradients of 1e-70): when every route's entries of this parameter are that small, the
    # finite-difference pairs would "agree" with a relative error of 1. They are left out instead.
    floor = fd.ABSOLUTE_TOLERANCE * max(1.0, abs(cost) / COST_SCALE_COVERED)
    tiny = all(float(np.max(np.abs(arrays[r]), initial=0.0)) < floor for r in analytic)
    unresolved = mode == "full" and tiny and float(np.max(np.abs(arrays[numeric]), initial=0.0)) < floor
    if mode == "full" and not unresolved:
        for route in analytic:
            a, n = arrays[route], arrays[numeric]
            pair, pair_excess = _compare_entries(route, numeric, a, n, _difference_allowed(a, n, cost))
            pairs.append(pair)
            if decide:
                excess = np.maximum(excess, pair_excess)
    # the worst entry: furthest past its tolerance in any pair; the largest derived entry if none is
    basis = excess if np.any(excess > 0) else np.abs(arrays["derived"])
    worst_index = tuple(int(i) for i in np.unravel_index(int(np.argmax(basis)), shape))
    values = {r: float(arrays[r][worst_index]) for r in analytic}
    if mode == "full":
        values[numeric] = float(arrays[numeric][worst_index])
    else:
        values[numeric] = _single_entry_difference(cost_fn, params, name, worst_index)
        directional = [_directional_pair(route, name, params, arrays[route], values, worst_index, cost_fn, cost,
                                         seed) for route in analytic]
        unresolved = tiny and abs(values[numeric]) < floor and all(p.agree for p in directional)
        pairs += [] if unresolved else directional
    ordered = [r for r in ROUTES if r in values and not (unresolved and r == numeric)]
    absolute = max((abs(values[a] - values[b]) for a, b in itertools.combinations(ordered, 2)), default=0.0)
    relative = max((float(fd.entry_errors(values[a], values[b])[1]) for a, b in itertools.combinations(ordered, 2)),
                   default=0.0)
    deciding = [p for p in pairs if decide or numeric not in (p.first, p.second)]
    routes = tuple(r for r in ordered if (decide and not unresolved) or r != numeric)
    return ParameterVerdict(
        name=name, layer=_layer(name), shape=tuple(shape), agree=all(p.agree for p in deciding),
        worst_index=worst_index, values=values, absolute_error=float(absolute), relative_error=float(relative),
        relative_difference=max((p.relative_difference for p in pairs), default=0.0), pairs=tuple(pairs),
        odd_route=_odd_route(routes, deciding), unresolved=unresolved)


def _directional_pair(route: str, name: str, params: dict[str, np.ndarray], gradient: np.ndarray,
                      values: dict[str, float], worst_index, cost_fn, cost: float, seed: int) -> PairComparison:
    """A route against central differences along random directions within one parameter, and at its worst entry."""
    absolute_tolerance = fd.ABSOLUTE_TOLERANCE * max(1.0, abs(cost) / COST_SCALE_COVERED)
    check = fd.directional_check(lambda sub: cost_fn({**params, **sub}), {name: params[name]}, {name: gradient},
                                 rng=seed, absolute_tolerance=absolute_tolerance)
    a, n = np.array([values[route]]), np.array([values["finite_differences"]])
    single, _ = _compare_entries(route, "finite_differences", a, n, _difference_allowed(a, n, cost))
    worst = int(np.argmax(check.absolute_errors))
    return PairComparison(route, "finite_differences", check.agree and single.agree, None,
                          max(float(check.absolute_errors[worst]), single.absolute_error),
                          max(float(check.relative_errors[worst]), single.relative_error),
                          fd.relative_difference(check.analytic, check.numeric))
