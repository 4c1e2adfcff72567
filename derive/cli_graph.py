"""`backprop graph`: the chain rule on an expression, or a network's matrix graph, with pictures."""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from pathlib import Path
from typing import Callable

from derive.circuit import Circuit, build_circuit, run_circuit
from derive.circuit_check import check_gradients
from derive.circuit_render import (circuit_graph, latex_steps, markdown_steps, render_graph,
                                   step_table)
from derive.cli_spec import add_spec_options, spec_from_args
from derive.output_files import check_name, check_writable_folder, write_files
from derive.network_graph import (network_graph, network_latex, network_markdown,
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
    if args.network:
        for given, flag in ((args.expression, "an expression"), (args.at, "--at"),
                            (args.split_sigmoid, "--split-sigmoid")):
            if given:
                raise GraphUsageError(f"{flag} does not go with --network; give either an "
                                      "expression with --at, or --network with network options")
        graph = network_graph(spec_from_args(args))
        name = check_file_name(args.name or _network_name(graph.spec))
        renderers = {"svg": lambda: network_picture(graph, "svg"),
                     "png": lambda: network_picture(graph, "png"),
                     "tex": lambda: network_latex(graph).encode(),
                     "md": lambda: network_markdown(graph).encode()}
        report, code = network_text(graph), EXIT_OK
    else:
        if not args.expression:
            raise GraphUsageError('give an expression, e.g. backprop graph "(x + y) * z" '
                                  "--at x=-2,y=5,z=-4, or --network")
        name = check_file_name(args.name or "circuit")
        circuit = build_circuit(args.expression, split_sigmoid=args.split_sigmoid)
        if args.at is None:
            raise GraphUsageError(f"--at is needed: a value for every name, e.g. --at "
                                  f"{','.join(f'{n}=1' for n in circuit.names)}")
        circuit_run = run_circuit(circuit, parse_point(args.at, circuit))
        check = check_gradients(circuit_run)
        renderers = {"svg": lambda: render_graph(circuit_graph(circuit_run), "svg"),
                     "png": lambda: render_graph(circuit_graph(circuit_run), "png"),
                     "tex": lambda: latex_steps(circuit_run, check).encode(),
                     "md": lambda: markdown_steps(circuit_run, check).encode()}
        report = step_table(circuit_run, check)
        code = EXIT_OK if check.passed else EXIT_FAILED_CHECK
    written = _write_all(out, name, formats, renderers) if out is not None else []
    sys.stdout.write(report)
    for path in written:
        print(f"wrote {path}")
    return code


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
    """A base file name: the rule every --name follows (derive.output_files.NAME_RULE)."""
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
    # written as one set: all of them change, or none (derive.output_files.write_files).
    contents = {f"{name}.{fmt}": renderers[fmt]() for fmt in formats}
    return write_files(out, contents)

