"""The three-route verdict as people read it: the table `backprop check` prints, its JSON, and the
published figures compared with it. Verdict.text() and Verdict.to_json() call these.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from checks.published.figures import entry_names
from checks.routes.tolerances import ANALYTIC_ROUTES, ANALYTIC_TOLERANCE, COST_SCALE_COVERED, ROUTE_TITLES
from derive.network.spec import NetworkSpec


# ---------------------------------------------------------------------------------------------
# Published figures: J and gradient entries, from the analytic routes.


def check_figure_key(name: str, spec: NetworkSpec):
    """"J" as ("J", None); "dJ/dW1[0,1]" as ("W1", (0, 1)).

    Raises:
        FigureError: any other name; the message lists the accepted ones.
    """
    from checks.handwritten.network import parameter_shapes
    from checks.published.figures import parse_entry, unknown_name

    if name == "J":
        return "J", None
    shapes = parameter_shapes(spec)
    entry = parse_entry(name[len("dJ/d"):], shapes) if name.startswith("dJ/d") else None
    if entry is None:
        raise unknown_name(name, f"J, {entry_names(shapes, 'dJ/d')}")
    return entry


def check_figures(verdict, figures, keys):
    """Each figure against the analytic routes (derived, hand-written, entrywise when it ran);
    finite differences are shown when they were computed in full, but do not decide (they are
    accurate to about 1e-7)."""
    from checks.published.figures import FigureComparison, compare_figures

    def resolve(figure):
        name, index = keys[figure.name]
        if name == "J":
            values = {route: float(cost) for route, cost in verdict.costs.items()}
        else:
            values = {route: float(gradient[name][index]) for route, gradient in verdict.gradients.items()
                      if name in gradient}
        deciding = tuple((ROUTE_TITLES[r], v) for r, v in values.items() if r in ANALYTIC_ROUTES)
        also = tuple((ROUTE_TITLES[r], v) for r, v in values.items() if r not in ANALYTIC_ROUTES)
        return FigureComparison(figure, deciding, also=also)

    return compare_figures(figures, resolve)


# ---------------------------------------------------------------------------------------------
# Rendering a verdict.


def spec_text(spec: NetworkSpec) -> str:
    """One line: "2-3-1: sigmoid, sigmoid; half_sse (sum); bias none; row form; m = 4"."""
    extra = f"; l2 {spec.l2:g}" if spec.l2 else ""
    return (f"{spec.slug}: {', '.join(spec.activations)}; {spec.cost} ({spec.reduction}); bias {spec.bias}; "
            f"{spec.convention} form; m = {spec.m}{extra}")


def _route_descriptions(verdict) -> dict[str, str]:
    from checks.routes.finite_differences import CENTRAL_STEP

    how = "every entry" if verdict.finite_differences == "full" else \
        "random directions in each parameter, and its worst entry"
    return {"derived": "derived: the delta rule derive_rule found, lambdified",
            "hand_written": "hand-written: checks/handwritten/network.py",
            "finite_differences": f"finite differences: central, {how}, h = {CENTRAL_STEP:.2g}",
            "entrywise": "entrywise: SymPy's diff of J written out, cse, lambdified"}


def _number(value: float) -> str:
    return f"{value:>+18.10e}"


def _short(value: float) -> str:
    return f"{value:9.1e}" if math.isfinite(value) else f"{value!s:>9}"


def _parameter_outcome(parameter) -> str:

    if parameter.agree:
        return "agree"
    if parameter.odd_route is not None:
        return f"DISAGREE: {ROUTE_TITLES[parameter.odd_route]} differs"
    pairs = ", ".join(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]}" for a, b in parameter.disagreeing_pairs)
    return f"DISAGREE: {pairs}"


def verdict_text(verdict, data_text: str, params_text: str) -> str:
    """The table `backprop check` prints."""

    routes = [r for r in ("derived", "hand_written", "finite_differences", "entrywise") if r in verdict.routes]
    descriptions = _route_descriptions(verdict)
    lines = [f"check {spec_text(verdict.spec)}", f"data: {data_text}; parameters: {params_text}", "routes:"]
    lines += [f"  {descriptions[r]}" for r in routes]
    lines.append("")
    lines.append("cost J: " + "   ".join(f"{ROUTE_TITLES[r]} {c:.12g}" for r, c in verdict.costs.items())
                 + ("" if verdict.cost_agree else "   DISAGREE"))
    lines.append("")
    header = f"{'param':<6} {'worst entry':<12}" + "".join(f" {ROUTE_TITLES[r]:>18}" for r in routes) + \
        f" {'abs err':>9} {'rel err':>9} {'Ng diff':>9}  verdict"
    lines.append(header)
    for parameter in verdict.parameters:
        index = "(" + ", ".join(map(str, parameter.worst_index)) + ")"
        values = "".join(f" {_number(parameter.values[r])}" for r in routes)
        lines.append(f"{parameter.name:<6} {index:<12}{values} {_short(parameter.absolute_error)} "
                     f"{_short(parameter.relative_error)} {_short(parameter.relative_difference)}  "
                     f"{_parameter_outcome(parameter)}")
    lines.append("")
    lines.append("abs err, rel err: the largest difference between two routes at the worst entry (rel: over the "
                 "larger value); Ng diff: the largest ||a - b|| / ||a + b|| over the parameter")
    lines.append(f"tolerances: analytic routes {ANALYTIC_TOLERANCE:g} relative (to the entry plus the parameter's "
                 "largest entry); finite differences 1e-7 absolute + 1e-5 relative (checks/routes/finite_differences.py)")
    lines += [f"note: {note}" for note in verdict.notes]
    if verdict.agree:
        lines.append(f"verdict: agree -- {', '.join(ROUTE_TITLES[r] for r in routes)} give the same gradients")
    else:
        where = ", ".join(verdict.disagreeing) or "the cost"
        lines.append(f"verdict: DISAGREE at {where}")
    return "\n".join(lines) + "\n"


def _finite_or_text(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf" / "nan": JSON has no such numbers
    return value


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    return _finite_or_text(value)


def verdict_json(verdict, data_text: str, params_text: str, seed: int) -> dict:
    """Everything `backprop check --json` prints, every gradient from every route included."""
    from checks.routes.finite_differences import CENTRAL_STEP, DIRECTION_COUNT
    from checks.inputs.param_files import params_to_json
    from checks.routes import finite_differences as fd
    parameters = []
    for p in verdict.parameters:
        parameters.append({
            "name": p.name, "layer": p.layer, "shape": list(p.shape), "agree": p.agree,
            "worst_index": list(p.worst_index), "values": p.values, "absolute_error": p.absolute_error,
            "relative_error": p.relative_error, "relative_difference": p.relative_difference,
            "odd_route": p.odd_route,
            "pairs": [{**asdict(pair), "worst_index": None if pair.worst_index is None else list(pair.worst_index)}
                      for pair in p.pairs]})
    return _clean({
        "spec": asdict(verdict.spec), "agree": verdict.agree, "data": data_text, "parameters_from": params_text,
        "seed": seed, "routes": list(verdict.routes), "cost": verdict.costs, "cost_agree": verdict.cost_agree,
        "finite_differences": {"mode": verdict.finite_differences, "step": CENTRAL_STEP,
                               "directions_per_parameter": DIRECTION_COUNT,
                               "decides_the_verdict": verdict.finite_differences_decide},
        "tolerances": {"analytic_relative": ANALYTIC_TOLERANCE,
                       "finite_differences_absolute": fd.ABSOLUTE_TOLERANCE,
                       "finite_differences_relative": fd.RELATIVE_TOLERANCE,
                       "finite_differences_cost_scale_covered": COST_SCALE_COVERED},
        "results": parameters,
        "gradients": {route: params_to_json(g) for route, g in verdict.gradients.items()},
        "params": params_to_json(verdict.params), "X": verdict.X, "y": verdict.Y,
        "notes": list(verdict.notes), "seconds": verdict.seconds})
