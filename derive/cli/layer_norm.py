"""`--layer batchnorm|layernorm` for `backprop derive`, `check`, `verify` and `graph`: one normalisation layer.

The family's entry in derive/cli/layers.py's FAMILIES.

    backprop derive --layer batchnorm [-N 4] [-D 5] [--unbiased] [--eps 1e-5]
        writes output/batchnorm/derivation.{tex,pdf,md,html}
    backprop check --layer batchnorm [-N 4] [-D 5] [--data point.json]
        derived, hand-written and finite differences, cs231n's gradient check
    backprop verify file.py:fn --layer batchnorm
        fn(x, gamma, beta, dout, eps) -> (dx, dgamma, dbeta), checked, its mistake named
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from derive.cli.layer_family import (LayerFamily, LayerOption, LayerOptionError, LayerWriteUp, derive_summary,
                                     refuse_network_graph_options, verify_settings)

# layer name on the command line -> derive_normalization's kind
LAYERS = {"batchnorm": "batch", "layernorm": "layer"}
EXIT_OK, EXIT_FAILED_CHECK = 0, 1
STEM = "derivation"


def layer_kind(name: str) -> str:
    """"batchnorm" -> "batch"; anything else is refused with the list of known layers."""
    if name not in LAYERS:
        raise LayerOptionError(f"unknown layer {name!r}: the known layers are {', '.join(LAYERS)}")
    return LAYERS[name]


def _check_epsilon(epsilon: float) -> float:
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise LayerOptionError(f"--eps must be a positive finite number, got {epsilon!r}")
    return epsilon


def _checked_sizes(args: argparse.Namespace, kind: str) -> tuple[int, int]:
    from derive.normalization.errors import check_sizes

    N, D = args.layer_examples, args.layer_features
    if D < 1 or N < 1:
        raise LayerOptionError(f"-N and -D must be at least 1, got N = {N}, D = {D}")
    if N * D > 10_000:
        raise LayerOptionError(f"N x D = {N * D}: finite differences take every entry; keep N x D <= 10000")
    check_sizes(kind, N, D, args.unbiased)
    return N, D


# ------------------------------------------------------------------------------ derive


def run_derive(args: argparse.Namespace) -> int:
    """`backprop derive --layer NAME`: everything refused before any work, then one document."""
    from derive.writeup import output_files
    from derive.cli.derive import parse_formats
    from derive.writeup.files import FORMATS
    from derive.writeup.output_files import OutputError, check_name, check_writable_folder

    kind = layer_kind(args.layer)
    N, D = _checked_sizes(args, kind)
    epsilon = _check_epsilon(args.eps)
    formats = parse_formats(args.formats if args.formats is not None else ",".join(FORMATS))
    if args.formats is not None and "pdf" in formats and output_files.tex_engine() is None:
        raise OutputError(f"--formats pdf needs {output_files.TEX_ENGINE}, which is not on PATH")
    name = check_name(args.name if args.name is not None else args.layer)
    folder = check_writable_folder(Path(args.out) / name, f"{STEM}.tex")
    from checks.normalization.report import write_layer_derivation

    written, proofs, verdict, pdf = write_layer_derivation(kind, folder, formats, N, D, args.unbiased, epsilon)
    variance = "unbiased" if args.unbiased else "biased"
    return derive_summary(f"{args.layer}: {kind} norm, {variance} variance, dX, dgamma, dbeta found from the forward "
                          "pass", proofs, verdict, pdf, written, folder, numeric=f"numeric (N x D = {N} x {D})")


# ------------------------------------------------------------------------------ check


def run_check(args: argparse.Namespace) -> int:
    """`backprop check --layer NAME`: the three routes at cs231n's point (or --data's)."""
    from checks.normalization.check import check_layer, cs231n_point, read_point, verdict_text

    kind = layer_kind(args.layer)
    epsilon = _check_epsilon(args.eps)
    if getattr(args, "params", None) is not None:
        raise LayerOptionError("--params is for a network; with --layer give the point with --data "
                               "FILE.json holding x, gamma, beta, dout")
    if args.data is not None:
        point = read_point(args.data, epsilon)
    else:
        N, D = _checked_sizes(args, kind)
        point = cs231n_point(N, D, epsilon, args.seed)
    figure = None
    if args.figure is not None:  # refused before any work, as derive's --out is
        from derive.writeup.output_files import check_name, check_writable_folder

        figure = Path(args.figure)
        if figure.suffix != ".svg":
            raise LayerOptionError(f"--figure {args.figure!r}: the figure is an SVG file, name it FILE.svg")
        check_name(figure.name, "--figure")
        check_writable_folder(figure.parent, figure.name, "--figure")
    verdict = check_layer(kind, point, args.unbiased)
    sys.stdout.write(verdict_text(verdict))
    if figure is not None:
        from checks.normalization.check import gradient_check_figure
        from derive.writeup.output_files import write_files

        write_files(figure.parent, {figure.name: gradient_check_figure(verdict).encode("utf-8")})
        print(f"wrote: {figure}")
    return EXIT_OK if verdict.agree else EXIT_FAILED_CHECK


# ------------------------------------------------------------------------------ verify


def run_verify(args: argparse.Namespace) -> int:
    """`backprop verify FILE.py:fn --layer NAME`: fn(x, gamma, beta, dout, eps) -> (dx, dgamma, dbeta)."""
    from checks.normalization.verify import DEFAULT_TIMEOUT, DEFAULT_TOLERANCE, verify_layer_function
    from derive.cli.verify import load_function

    kind = layer_kind(args.layer)
    settings = verify_settings(args, DEFAULT_TOLERANCE, DEFAULT_TIMEOUT)
    fn, label = load_function(args.target)
    verdict = verify_layer_function(fn, kind, unbiased=args.unbiased, points=settings.points, seed=settings.seed,
                                    tolerance=settings.tolerance, name=label, timeout=settings.timeout)
    print(verdict.text())
    return EXIT_OK if verdict.passed else EXIT_FAILED_CHECK


# ------------------------------------------------------------------------------ graph

GRAPH_FORMATS = ("svg", "png")


def run_graph(args: argparse.Namespace) -> int:
    """`backprop graph --layer NAME`: the staged computational graph, as text and (--out) svg, png."""
    from derive.circuits.render import render_graph
    from derive.cli.graph import parse_formats
    from derive.normalization.graph import EDGES, STAGES, staged_graph
    from derive.writeup.output_files import check_name, check_writable_folder, write_files

    kind = layer_kind(args.layer)
    refuse_network_graph_options(args)
    formats = parse_formats(args.formats) if args.formats is not None else GRAPH_FORMATS
    if set(formats) - set(GRAPH_FORMATS):
        raise LayerOptionError(f"--layer draws {' and '.join(GRAPH_FORMATS)} only, got --formats {args.formats}")
    name = check_name(args.name or f"{args.layer}-staged")
    out = check_writable_folder(args.out) if args.out is not None else (Path(".") if args.formats else None)
    graph = staged_graph(kind)
    labels = {node: label for node, label, _ in STAGES}
    lines = [f"{args.layer}: the staged computational graph (forward along the arrows, backward message on each)"]
    lines += [f"  {labels[start]}  ->  {labels[end]}    backward: {message}" for start, end, message in EDGES]
    if out is not None:
        contents = {f"{name}.{fmt}": render_graph(graph, fmt) for fmt in formats}  # all drawn before any write
        written = write_files(out, contents)
        lines.append(f"wrote: {', '.join(str(out / p.name) for p in written)}")
    print("\n".join(lines))
    return EXIT_OK


def write_golden(name: str, folder: Path, formats: tuple[str, ...]) -> LayerWriteUp:
    """The golden write-up of `name` at cs231n's default sizes (tools/refresh_golden.py)."""
    from checks.normalization.report import write_layer_derivation

    written, proofs, verdict, pdf = write_layer_derivation(layer_kind(name), folder, formats)
    summary = () if pdf is None or any(p.suffix == ".pdf" for p in written) else (pdf.message,)
    ok = all(p.holds for p in proofs) and verdict.agree
    return LayerWriteUp(tuple(written), summary, ok)


FAMILY = LayerFamily(
    names=tuple(LAYERS),
    summary="batch and layer normalisation",
    options=(
        LayerOption(("-N",), "layer_examples", "with --layer batchnorm|layernorm: examples in the batch "
                    "(default 4, cs231n's check)", type=int, default=4, metavar="N", commands=("derive", "check")),
        LayerOption(("-D",), "layer_features", "with --layer batchnorm|layernorm: features (default 5, "
                    "cs231n's check)", type=int, default=5, metavar="D", commands=("derive", "check")),
        LayerOption(("--unbiased",), "unbiased", "with --layer batchnorm|layernorm: variance over M - 1 instead "
                    "of M (forward and backward)", flag=True),
        # verify draws its own epsilon per point (see checks/normalization/verify.py)
        LayerOption(("--eps",), "eps", "with --layer batchnorm|layernorm: epsilon (default 1e-5)", type=float,
                    default=1e-5, commands=("derive", "check")),
        LayerOption(("--figure",), "figure", "with --layer batchnorm|layernorm: also write cs231n's gradient "
                    "check as an SVG bar chart", metavar="FILE.svg", commands=("check",)),
    ),
    derive=run_derive, check=run_check, verify=run_verify, graph=run_graph,
    goldens=(("batchnorm", "batchnorm"), ("layernorm", "layernorm")),
    write_golden=write_golden,
)
