"""`backprop check`: the derived gradients against a hand-written backprop and finite differences."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, replace

from derive.cli.expect import add_expect_options, entry_names, figures_from_args
from derive.cli.spec_options import add_spec_options, spec_from_args
from derive.network.spec import NetworkSpec

EXIT_OK = 0
EXIT_FAILED_CHECK = 1  # the same codes as derive/cli.py
XOR_EXAMPLES = 4


class CheckUsageError(ValueError):
    """Options of `backprop check` or `backprop train` that do not fit together."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `check` subcommand."""
    parser = subparsers.add_parser(
        "check", help="check the derived gradients against a NumPy backprop and finite differences",
        description="Evaluates the delta rule derive_rule found (lambdified), a hand-written NumPy "
                    "backprop and central finite differences at the same parameters and data, and "
                    "reports per parameter the worst entry, its values and the errors. Exit 0 when "
                    "they agree, 1 when they do not. File formats: see checks/inputs/param_files.py.")
    add_spec_options(parser)
    add_file_options(parser)
    parser.add_argument("--json", action="store_true",
                        help="print everything as JSON, every gradient from every route included")
    add_expect_options(parser, "J (the cost), dJ/dW1[i,j] (a gradient entry, indices as the spec stores W1)")
    parser.set_defaults(handler=run)


def add_file_options(parser: argparse.ArgumentParser) -> None:
    """--params, --data, --seed; -m then defaults to the data's number of examples."""
    parser.add_argument("--params", metavar="FILE.json",
                        help="parameters as JSON {\"W1\": [[...], ...], ...} (default: seeded random)")
    parser.add_argument("--data", metavar="FILE.json",
                        help="data as JSON {\"X\": [[...]], \"y\": [[...]]} (default: seed 000's XOR "
                             "examples for a 2-...-1 net, seeded random data otherwise)")
    parser.add_argument("--seed", type=int, default=0, help="seed for random parameters and data (default 0)")
    # None, not 4: -m given explicitly must match the data, and without it the data decides
    parser.set_defaults(examples=None)


def fits_xor(spec: NetworkSpec) -> bool:
    """Seed 000's XOR data fits a net with 2 inputs and 1 output."""
    return spec.sizes[0] == 2 and spec.sizes[-1] == 1


def load_inputs(args: argparse.Namespace, random_data_fallback: bool = True):
    """The spec, parameters and data the options describe, every file read and checked.

    Returns:
        (spec with m = the number of examples, params or None for seeded random,
         (X, Y) or None for seeded random data, a description of the data, of the parameters).

    Raises:
        ValueError: a bad spec, file, or -m that does not match the data.
    """
    from checks.inputs.data import xor_data
    from checks.inputs.param_files import read_data, read_params

    given_m = args.examples
    default_m = XOR_EXAMPLES if given_m is None else given_m
    spec = spec_from_args(argparse.Namespace(**{**vars(args), "examples": default_m}))
    if args.data is not None:
        X, Y = read_data(args.data, spec)
        m = X.shape[0] if spec.convention == "row" else X.shape[1]
        if given_m is not None and given_m != m:
            raise CheckUsageError(f"-m {given_m} does not match the {m} examples in {args.data}; "
                                  "leave -m out to use the data's")
        data, data_text = (X, Y), f"{args.data} ({m} examples)"
    elif fits_xor(spec) and given_m in (None, XOR_EXAMPLES):
        data, data_text, m = xor_data(spec.convention), f"seed 000's XOR ({XOR_EXAMPLES} examples)", XOR_EXAMPLES
    elif random_data_fallback:
        m = default_m
        data, data_text = None, f"random, seed {args.seed} ({m} examples)"
    else:
        raise CheckUsageError(f"give --data FILE.json: the default XOR data has 2 inputs and 1 output "
                              f"and 4 examples, the net is {spec.slug} with m = {default_m}")
    spec = replace(spec, m=m)
    if args.params is not None:
        params, params_text = read_params(args.params, spec), args.params
    else:
        params, params_text = None, f"random (epsilon_init), seed {args.seed}"
    return spec, params, data, data_text, params_text


def run(args: argparse.Namespace) -> int:
    """Runs `backprop check`.

    Returns:
        0 when every route agrees, 1 when one does not.

    Raises:
        ValueError: bad input of any kind (the CLI prints it as one line).
    """
    from checks.routes.three_routes import verify

    spec, params, data, data_text, params_text = load_inputs(args)
    figures = figures_from_args(args)
    keys = {figure.name: check_figure_key(figure.name, spec) for figure in figures}  # before any work
    verdict = verify(spec, params, data, seed=args.seed)
    report = check_figures(verdict, figures, keys) if figures else None
    if args.json:
        result = verdict_json(verdict, data_text, params_text, args.seed)
        if report is not None:
            result["published"] = report.to_json()
        print(json.dumps(result, separators=(",", ":")))
    else:
        sys.stdout.write(verdict_text(verdict, data_text, params_text))
        if report is not None:
            sys.stdout.write("\n" + report.text())
    return EXIT_OK if verdict.agree and (report is None or report.ok) else EXIT_FAILED_CHECK


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
    from checks.routes.three_routes import ANALYTIC_ROUTES, ROUTE_TITLES

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
    from checks.routes.three_routes import ROUTE_TITLES

    if parameter.agree:
        return "agree"
    if parameter.odd_route is not None:
        return f"DISAGREE: {ROUTE_TITLES[parameter.odd_route]} differs"
    pairs = ", ".join(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]}" for a, b in parameter.disagreeing_pairs)
    return f"DISAGREE: {pairs}"


def verdict_text(verdict, data_text: str, params_text: str) -> str:
    """The table `backprop check` prints."""
    from checks.routes.three_routes import ANALYTIC_TOLERANCE, ROUTE_TITLES

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
    from checks.routes.three_routes import ANALYTIC_TOLERANCE, COST_SCALE_COVERED
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
