"""Checking a person's backprop function against the derived gradients: comparison, diagnosis, verdict.

The contract is checks/diagnose/contract.py, the calling checks/diagnose/calling.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from checks.diagnose import formula_program, l2_conventions, mistakes
from checks.routes.derived import derived_gradient_function
from checks.routes.three_routes import check_finite_values
from checks.handwritten.network import Backprop, backprop
from derive.network.spec import NetworkSpec
from checks.diagnose.contract import (CallingForm, Contract, DEFAULT_POINTS, DEFAULT_TIMEOUT, FLOAT32_TOLERANCE,
                                      PLAIN, ROUTE_AGREEMENT, VERDICT_TOLERANCE, output_label, as_spec,
                                      check_timeout, check_tolerance, contract)
from checks.diagnose.calling import (INTERMEDIATES, Point, call_with_precision, check_signature, evaluation_points,
                                     takes_data_only)
from checks.diagnose.line_by_line import LineByLine, check_names, line_by_line
from checks.diagnose.unrolled_order import other_order_note


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
            return f"{output_label(self.output)}: ok (worst{where} at {self.point}: {errors})"
        return (f"{output_label(self.output)}: WRONG at{where or ' its value'}, {self.point}: function "
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
    line_by_line: LineByLine | None = None  # the exposed intermediates, with --intermediates
    call: str = ""  # the contract as the function is called (its calling form), for the report

    @property
    def passed(self) -> bool:
        return all(o.agree for o in self.outputs) and self._intermediates_agree

    @property
    def _intermediates_agree(self) -> bool:
        return self.line_by_line is None or self.line_by_line.first_wrong is None

    @property
    def failures(self) -> tuple[OutputVerdict, ...]:
        return tuple(o for o in self.outputs if not o.agree)

    def diagnosis(self) -> str:
        """The likely mistakes, in one paragraph ('' when the function passed)."""
        if all(o.agree for o in self.outputs):
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
                 f"{spec.convention} form, m = {spec.m}"
                 # with a named convention, the user's lambda in their penalty (the spec holds its own)
                 + (f", penalty {self.l2_convention}" if self.l2_convention else
                    f", l2 = {spec.l2:g}" if spec.l2 else "") + ")",
                 f"contract: {self.call or self.contract.describe()}",
                 f"points: {'; '.join(self.points)}"]
        if self.float32:
            lines.append(f"float32 outputs: judged at tolerance {self.tolerance:g} (float32 rounds at 1.2e-7 "
                         f"per operation)")
        if self.line_by_line is not None:
            lines += self.line_by_line.lines()
        lines += [o.line() for o in self.outputs]
        if self.failures:
            lines.append("diagnosis: " + self.diagnosis())
        failed = len(self.failures)
        if not failed and not self._intermediates_agree:
            lines.append(f"verdict: WRONG: the outputs agree, but intermediate {self.line_by_line.first_wrong.name} "
                         f"disagrees with the derivation")
            return "\n".join(lines)
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
        form: labels, one example per call, the user's names, exposed intermediates (see CallingForm);
            with form.intermediates, each exposed intermediate is compared line by line
            (checks/diagnose/line_by_line.py) and the first wrong one named.

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
    terms = contract(spec, returns, form.unrolled)
    if form.per_example and (form.intermediates is not None or form.unrolled is not None):
        raise ValueError("intermediates and unrolled parameters need the whole batch in one call: not with one "
                         "example per call")
    check_signature(fn, terms, name, form)
    chosen = evaluation_points(spec, points, seed, data, one_hot=form.labels is not None)
    calls = _evaluate(fn, terms, chosen, convention.coefficient(user_l2, spec.m) if convention.biases else None,
                      name, timeout, form)
    if calls.low_precision:
        tolerance = max(tolerance, FLOAT32_TOLERANCE)
    lines = None
    if form.intermediates is not None:
        lines = _line_by_line(spec, chosen, [values.pop(INTERMEDIATES) for values in calls.observed], calls.full,
                              tolerance, name, diagnose)
    verdicts = tuple(_output_verdict(o, chosen, calls.observed, calls.derived, tolerance) for o in terms.outputs)
    diagnosis = Diagnosis()
    if diagnose and not all(v.agree for v in verdicts):
        diagnosis = _diagnose(fn, terms, chosen, calls, verdicts, user_l2, convention, name, timeout, tolerance, form)
    return FunctionVerdict(name, terms, tuple(p.label for p in chosen), verdicts, diagnosis.explanations,
                           diagnosis.complete, diagnosis.hints, tolerance, diagnosis.penalty, diagnosis.note,
                           f"{convention.formula} ({convention.name}) with lambda = {user_l2:g}"
                           if l2_convention is not None else "",
                           calls.low_precision, lines, terms.describe(form, takes_data_only(fn, terms)))


@dataclass(frozen=True)
class Calls:
    """The function's outputs at each point beside the derived ones, and the derived route's results."""

    observed: list[dict]  # output -> the function's value, per point (plus its intermediates, if exposed)
    derived: list[dict]  # output -> the derived value, per point
    full: list  # the derived route's whole result per point (every gradient and delta)
    low_precision: bool  # an output came back in float32 or lower


def _evaluate(fn, terms: Contract, chosen, bias_penalty: float | None, name: str, timeout, form: CallingForm) -> Calls:
    """The derived route at each point (checked finite and against the hand-written route), and fn there.

    bias_penalty: the k of k sum b^2 when the user's convention penalizes the biases too."""
    spec = terms.spec
    route = derived_gradient_function(spec)
    observed, derived, full, low_precision = [], [], [], False
    for point in chosen:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # judged just below
            result = route(point.params, point.X, point.Y)
        check_finite_values(spec, route, point.params, point.X, point.Y, result, where=point.label)
        _cross_check_by_hand(spec, point, result)
        if bias_penalty is not None:
            result = l2_conventions.with_bias_penalty(spec, result, point.params, bias_penalty)
        full.append(result)
        derived.append({o: reference_value(result, o) for o in terms.outputs})
        values, low = call_with_precision(fn, terms, point, name, timeout, form)
        observed.append(values)
        low_precision = low_precision or low
    return Calls(observed, derived, full, low_precision)


@dataclass(frozen=True)
class Diagnosis:
    """What explains a disagreement: catalogue mistakes, the L2 reading, hints, or why none was searched."""

    explanations: tuple[mistakes.Explanation, ...] = ()
    complete: bool = True
    hints: tuple[str, ...] = ()
    penalty: tuple[str, ...] = ()
    note: str = ""


def _diagnose(fn, terms: Contract, chosen, calls: Calls, verdicts, user_l2: float, convention, name: str,
              timeout, tolerance: float, form: CallingForm) -> Diagnosis:
    """The other unrolling order first (--unrolled), then the L2 reading, then the catalogue."""
    spec, observed = terms.spec, calls.observed
    note = other_order_note(fn, terms, chosen, calls.derived, name, timeout, tolerance, form)  # "" unless unrolled
    if note:
        return Diagnosis(note=note)
    failing = [v.output for v in verdicts if not v.agree]
    findings, penalty, explained = _penalty_diagnosis(spec, user_l2, convention, terms, chosen, observed,
                                                      calls.full, failing, verdicts)
    unexplained = [o for o in failing if o not in explained]
    explanations, complete = (), True
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
    if unexplained and _catalogue_too_dear(spec):
        note = (f"the catalogue search was left out: its formulas would be derived at the full batch, "
                f"which takes minutes past {CATALOGUE_PARAMETER_LIMIT:,} parameters (this net has "
                f"{spec.parameter_count:,}); check a smaller net of the same form to name the mistake")
    elif unexplained:
        search = mistakes.explain(spec, _catalogue_envs(spec, chosen, calls.full), observed, unexplained,
                                  tolerance=max(mistakes.MATCH_TOLERANCE, tolerance if calls.low_precision else 0))
        explanations, complete = search.explanations, search.complete
    return Diagnosis(explanations, complete, _hints(terms, verdicts, observed, calls.derived), tuple(penalty), note)


# The catalogue (checks/diagnose/mistakes.py) edits the formula set, built from the derived route's own
# derivation at m0 examples and resized to the batch (formula_program.formula_set_from_small_derivation): at
# 784-250-10 and 3072-50-10 with m = 200 its search takes about a second (bench/verify_scale.py). Where
# m0 cannot be told apart from another constant the set is derived at the full m instead: about 25 s
# for a 100-50-10 net with m = 200, minutes for 3072-50-10. Past this many parameters such a failing
# check is diagnosed by what needs no symbolic work (the L2 reading, shapes, constant factors) and
# says the catalogue was left out.
CATALOGUE_PARAMETER_LIMIT = 2000


def _catalogue_too_dear(spec: NetworkSpec) -> bool:
    """The catalogue would need a derivation at the full batch of a net past the limit."""
    return (spec.parameter_count > CATALOGUE_PARAMETER_LIMIT
            and formula_program.formula_set_from_small_derivation(spec) is None)


def _line_by_line(spec: NetworkSpec, chosen, shown, full, tolerance: float, name: str, diagnose: bool) -> LineByLine:
    """The exposed intermediates against the derived program run at each point (itself checked
    against the derived route), the first wrong one named from its own formula's mistakes."""
    formulas = formula_program.formula_set(spec)
    envs = []
    for point, values, result in zip(chosen, shown, full):
        check_names(formulas, values, name)
        env = formula_program.run(formulas.formulas, formula_program.point_env(spec, point.X, point.Y, point.params))
        _cross_check(spec, point, result, env)
        envs.append(env)
    large = _catalogue_too_dear(spec)
    note = (f"the catalogue search was left out past {CATALOGUE_PARAMETER_LIMIT:,} parameters (this net has "
            f"{spec.parameter_count:,}); check a smaller net of the same form to name the mistake") if large else ""
    return line_by_line(spec, formulas, [p.label for p in chosen], shown, envs, tolerance, name,
                        search=diagnose and not large, note=note)


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
        named = [output_label(o) for o in terms.outputs if o in wrong and o.startswith((f"W{first_wrong}", f"b{first_wrong}"))]
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
            factors.setdefault(round(float(ratios[0]), 9), []).append(output_label(output))
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
