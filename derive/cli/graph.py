"""`backprop graph`: the chain rule on an expression, or a network's matrix graph, with pictures."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Callable

from derive.circuits.circuit import Circuit, build_circuit, run_circuit
from derive.circuits.check import check_gradients
from derive.circuits.json_form import circuit_json
from derive.circuits.render import (circuit_graph, latex_steps, markdown_steps, render_graph,
                                   step_table)
from derive.cli.expect import add_expect_options, figures_from_args
from derive.cli.spec_options import add_spec_options, spec_from_args
from derive.writeup.output_files import check_name, check_writable_folder, write_files
from derive.circuits.network_graph import (network_graph, network_latex, network_markdown,
                                  network_picture, network_text)

FORMATS = ("svg", "png", "tex", "md")
EXIT_OK = 0
EXIT_FAILED_CHECK = 1  # the same codes as derive/cli.py


class GraphUsageError(ValueError):
    """Options of `backprop graph` that do not fit together or do not parse."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `graph` subcommand."""
    parser = subparsers.add_parser(
        "graph", help="the chain rule on an expression as a circuit, step by step, with a picture",
        description="Backprop through a scalar expression gate by gate (cs231n's circuits), "
                    "checked against SymPy's diff and central differences; or, with --network, "
                    "a network's matrix operations with shapes and deltas.")
    parser.add_argument("expression", nargs="?",
                        help='e.g. "(x + y) * z"; +, -, *, /, **, exp, log, sin, cos, tanh, '
                             "sigmoid, max, relu, abs and numbers")
    parser.add_argument("--at", metavar="NAME=VALUE,...",
                        help="the point: a value for every name, e.g. x=-2,y=5,z=-4")
    parser.add_argument("--split-sigmoid", action="store_true",
                        help="draw sigmoid as *-1, exp, +1, 1/x instead of one gate")
    parser.add_argument("--network", action="store_true",
                        help="draw a network's matrix graph instead (see the network options)")
    parser.add_argument("--out", metavar="DIR",
                        help="write files into DIR (created if missing; default: none written)")
    parser.add_argument("--name", help="base name of the files (default circuit, or "
                                       "network-SIZES)")
    parser.add_argument("--formats", help=f"comma-separated, from {','.join(FORMATS)} "
                                          "(default all; giving it alone writes into .)")
    parser.add_argument("--json", action="store_true",
                        help="print the circuit as JSON: every node's value, upstream, local and downstream "
                             "gradients and the checks, at full float precision")
    add_expect_options(parser, "L (the output), dL/dx (the gradient at input x)")
    add_spec_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Runs `backprop graph`; everything is validated and rendered before any file is written.

    Returns:
        0, or 1 when a gradient check disagrees.

    Raises:
        ValueError: bad input of any kind (the CLI prints it as one line).
        OSError: a file cannot be written, or Graphviz is missing.
    """
    formats = parse_formats(args.formats) if args.formats is not None else FORMATS
    out = _out_folder(args)
    figures = figures_from_args(args)
    report = None
    if args.network:
        for given, flag in ((args.expression, "an expression"), (args.at, "--at"),
                            (args.split_sigmoid, "--split-sigmoid"), (args.json, "--json"),
                            (figures, "--expect")):
            if given:
                raise GraphUsageError(f"{flag} does not go with --network; give either an "
                                      "expression with --at, or --network with network options")
        graph = network_graph(spec_from_args(args))
        name = check_file_name(args.name or _network_name(graph.spec))
        renderers = {"svg": lambda: network_picture(graph, "svg"),
                     "png": lambda: network_picture(graph, "png"),
                     "tex": lambda: network_latex(graph).encode(),
                     "md": lambda: network_markdown(graph).encode()}
        text, code = network_text(graph), EXIT_OK
    else:
        if not args.expression:
            raise GraphUsageError('give an expression, e.g. backprop graph "(x + y) * z" '
                                  "--at x=-2,y=5,z=-4, or --network")
        name = check_file_name(args.name or "circuit")
        circuit = build_circuit(args.expression, split_sigmoid=args.split_sigmoid)
        if args.at is None:
            raise GraphUsageError(f"--at is needed: a value for every name, e.g. --at "
                                  f"{','.join(f'{n}=1' for n in circuit.names)}")
        point = parse_point(args.at, circuit)
        keys = {figure.name: graph_figure_key(figure.name, circuit) for figure in figures}  # before any work
        circuit_run = run_circuit(circuit, point)
        check = check_gradients(circuit_run)
        report = graph_figures(check, figures, keys) if figures else None
        renderers = {"svg": lambda: render_graph(circuit_graph(circuit_run), "svg"),
                     "png": lambda: render_graph(circuit_graph(circuit_run), "png"),
                     "tex": lambda: latex_steps(circuit_run, check).encode(),
                     "md": lambda: markdown_steps(circuit_run, check).encode()}
        text = step_table(circuit_run, check)
        if args.json:
            result = circuit_json(circuit_run, check)
            if report is not None:
                result["published"] = report.to_json()
            text = json.dumps(result, separators=(",", ":")) + "\n"
        elif report is not None:
            text += "\n" + report.text()
        code = EXIT_OK if check.passed and (report is None or report.ok) else EXIT_FAILED_CHECK
    written = _write_all(out, name, formats, renderers) if out is not None else []
    sys.stdout.write(text)
    for path in written:
        if not args.json:  # stdout stays one JSON document
            print(f"wrote {path}")
    return code


def graph_figure_key(name: str, circuit: Circuit) -> str | None:
    """"L" as None (the output); "dL/dx" as "x" for an input x of the circuit.

    Raises:
        FigureError: any other name; the message lists the accepted ones.
    """
    from checks.published.figures import unknown_name

    if name == "L":
        return None
    if name.startswith("dL/d") and name[len("dL/d"):] in circuit.names:
        return name[len("dL/d"):]
    raise unknown_name(name, "L, " + ", ".join(f"dL/d{n}" for n in circuit.names))


def graph_figures(check, figures, keys):
    """Each figure against the circuit's float route and SymPy (30 digits); central differences
    are shown but do not decide. At a kink SymPy's Heaviside(0) = 1/2 is shown, not deciding."""
    from checks.published.figures import FigureComparison, compare_figures

    gradients = {g.name: g for g in check.gradients}

    def resolve(figure):
        name = keys[figure.name]
        if name is None:
            routes = [("circuit", check.output), ("SymPy", check.output_sympy)]
            also = []
        else:
            g = gradients[name]
            routes = [("backprop", g.backprop)]
            also = [("central difference", g.finite_difference)]
            (also if g.status == "kink" else routes).insert(0 if g.status == "kink" else 1,
                                                            ("SymPy diff", g.sympy_diff))
        return FigureComparison(figure, tuple((t, float(v)) for t, v in routes if v is not None),
                                also=tuple((t, float(v)) for t, v in also if v is not None))

    return compare_figures(figures, resolve)


def parse_formats(text: str) -> tuple[str, ...]:
    """The formats of --formats "svg,png"; refuses unknown and empty entries."""
    formats = tuple(part.strip().lower() for part in text.split(","))
    for fmt in formats:
        if fmt not in FORMATS:
            raise GraphUsageError(f"unknown format {fmt!r} in --formats; accepted: "
                                  f"{', '.join(FORMATS)}, comma-separated")
    return tuple(dict.fromkeys(formats))


def parse_point(text: str, circuit: Circuit) -> dict[str, float]:
    """Parses --at "x=-2,y=5" into a value for every name of the circuit, and no other.

    >>> parse_point("x=-2, y=5", build_circuit("x * y"))
    {'x': -2.0, 'y': 5.0}
    """
    names = ", ".join(circuit.names)
    point: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise GraphUsageError(f"--at expects NAME=VALUE pairs separated by commas, e.g. "
                                  f"x=-2,y=5; got {part.strip()!r}")
        if name in point:
            raise GraphUsageError(f"--at gives {name} twice")
        try:
            number = float(value)
        except ValueError:
            raise GraphUsageError(f"--at: the value of {name} must be a number, got "
                                  f"{value!r}") from None
        if not math.isfinite(number):
            raise GraphUsageError(f"--at: the value of {name} must be finite, got {value!r}")
        point[name] = number
    extra = [name for name in point if name not in circuit.names]
    if extra:
        raise GraphUsageError(f"--at gives {', '.join(extra)}, not in the expression; its names "
                              f"are {names}")
    missing = [name for name in circuit.names if name not in point]
    if missing:
        raise GraphUsageError(f"--at has no value for {', '.join(missing)}; the expression's "
                              f"names are {names}")
    return point


def check_file_name(name: str) -> str:
    """A base file name: the rule every --name follows (derive.writeup.output_files.NAME_RULE)."""
    return check_name(name)


def _network_name(spec) -> str:
    """network-2-3-1; a deep net's sizes are cut to the depth and a hash, to fit a --name."""
    name = f"network-{spec.slug}"
    if len(name) > 100:
        name = f"network-{spec.layer_count}-layers-{hashlib.sha256(spec.slug.encode()).hexdigest()[:8]}"
    return name


def _out_folder(args: argparse.Namespace) -> Path | None:
    if args.out is None:
        return Path(".") if args.formats is not None else None
    return check_writable_folder(args.out)  # before any work, as derive does


def _write_all(out: Path, name: str, formats: tuple[str, ...],
               renderers: dict[str, Callable[[], bytes]]) -> list[Path]:
    # Render everything first: a Graphviz failure then leaves no file behind. The files are
    # written as one set: all of them change, or none (derive.writeup.output_files.write_files).
    contents = {f"{name}.{fmt}": renderers[fmt]() for fmt in formats}
    return write_files(out, contents)

