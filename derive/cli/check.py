"""`backprop check`: the derived gradients against a hand-written backprop and finite differences."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from derive.cli.expect import add_expect_options, figures_from_args
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
    from checks.routes.verdict_report import check_figure_key, check_figures

    spec, params, data, data_text, params_text = load_inputs(args)
    figures = figures_from_args(args)
    keys = {figure.name: check_figure_key(figure.name, spec) for figure in figures}  # before any work
    verdict = verify(spec, params, data, seed=args.seed)
    report = check_figures(verdict, figures, keys) if figures else None
    if args.json:
        result = verdict.to_json(data_text, params_text, args.seed)
        if report is not None:
            result["published"] = report.to_json()
        print(json.dumps(result, separators=(",", ":")))
    else:
        sys.stdout.write(verdict.text(data_text, params_text))
        if report is not None:
            sys.stdout.write("\n" + report.text())
    return EXIT_OK if verdict.agree and (report is None or report.ok) else EXIT_FAILED_CHECK
