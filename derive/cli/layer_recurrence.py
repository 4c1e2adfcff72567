"""`--layer rnn|lstm` for `backprop derive`, `check`, `verify` and `graph`: backprop through time.

The family's entry in derive/cli/layers.py's FAMILIES.

    backprop derive --layer rnn [--steps 3] [--cell-activation tanh] [--row-convention]
        writes output/rnn/derivation.{tex,pdf,md,html} and gradient-norms.svg
    backprop check --layer rnn|lstm [--steps 10] [--hidden 5] [--cell-input 3] [--truncate k] [--data seq.json]
        derived, hand-written and finite differences, cs231n's gradient check; BPTT(k) against full
    backprop verify file.py:fn --layer rnn|lstm
        fn(x, h0, Wx, Wh, b, dh) -> (dx, dh0, dWx, dWh, db), checked, its mistake named
    backprop graph --layer rnn|lstm [--steps 3] [--out DIR]
        the unrolled graph
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derive.cli.layer_family import (LayerFamily, LayerOption, LayerOptionError, LayerWriteUp, derive_summary,
                                     refuse_network_graph_options, verify_settings)

KINDS = {"rnn": "rnn", "lstm": "lstm"}
EXIT_OK, EXIT_FAILED_CHECK = 0, 1
STEM = "derivation"
NORM_PLOT = "gradient-norms.svg"
# the write-up's default T: the issue's `--steps 3`, for the RNN and the LSTM alike
DERIVE_STEPS = 3
CHECK_STEPS, CHECK_HIDDEN, CHECK_INPUTS, CHECK_OUTPUTS, CHECK_EXAMPLES = 10, 5, 3, 4, 2  # cs231n's RNN check
# finite differences take every entry of every parameter, each a full forward pass
MAX_CHECK_STEPS, MAX_CHECK_WIDTH = 200, 64
# SymPy's diff of the unrolled cost grows ~4x per step for the LSTM (3.5 s at T = 3): longer
# sequences are proved by the randomized and index-level proofs
ENTRYWISE_MAX_STEPS = 3


def _convention(args) -> str:
    return "row" if args.row_convention else "column"


def _activation(args) -> str:
    from derive.recurrence.forward import RNN_ACTIVATIONS

    activation = args.cell_activation
    if args.layer == "lstm" and activation != "tanh":
        raise LayerOptionError("--cell-activation goes with --layer rnn: the LSTM's gates are sigma and tanh")
    if activation not in RNN_ACTIVATIONS:
        raise LayerOptionError(f"--cell-activation {activation!r}: use one of {', '.join(RNN_ACTIVATIONS)}")
    return activation


def _steps(args, default: int) -> int:
    from derive.recurrence.errors import check_steps

    return check_steps(default if args.steps is None else args.steps)


def _width(value, default, flag) -> int:
    value = default if value is None else value
    if value < 1 or value > MAX_CHECK_WIDTH:
        raise LayerOptionError(f"{flag} must be from 1 to {MAX_CHECK_WIDTH}, got {value}")
    return value


# ------------------------------------------------------------------------------ derive


def truncation_rows(kind: str, convention: str, activation: str):
    """dW_hh's (dW_hf's) distance from full BPTT at cs231n's point for k = 1, 2, 5, T."""
    from checks.recurrence.check import cs231n_point, derived_route
    from derive.recurrence.writeup import TruncationRow
    import numpy as np

    point = cs231n_point(kind, convention, activation)
    weight = "W_hh" if kind == "rnn" else "W_hf"
    full = derived_route(point)[weight]
    rows = []
    for k in (1, 2, 5, point.steps):
        truncated = derived_route(point, k)[weight]
        rows.append(TruncationRow(k, float(np.linalg.norm(truncated - full) / np.linalg.norm(full))))
    return tuple(rows), point.steps, weight


def write_layer_derivation(name: str, folder: Path, formats: tuple[str, ...], steps: int | None = None,
                           convention: str = "column", activation: str = "tanh"):
    """Derives, proves and checks one layer and writes its document; returns (written, proofs, verdict, pdf)."""
    from checks.recurrence.check import PAIRS, ROUTE_TITLES, check_sequence, cs231n_point
    from derive.writeup.files import write_document
    from derive.writeup.html import page_html
    from derive.writeup.output_files import write_files
    from derive.recurrence.derivation import derive_recurrence
    from derive.recurrence.graph import unrolled_picture
    from derive.recurrence.proofs import prove_entrywise, prove_index_level, prove_randomized
    from derive.recurrence.vanishing import gradient_norms, norm_plot
    from derive.recurrence.writeup import build_document
    from derive.writeup.pictures import Picture
    from derive.writeup.document import NumericTable

    kind = KINDS[name]
    steps = DERIVE_STEPS if steps is None else steps
    derivation = derive_recurrence(kind, convention, activation)
    entrywise_steps = min(steps, ENTRYWISE_MAX_STEPS)
    proofs = (prove_entrywise(derivation, entrywise_steps), prove_randomized(derivation), prove_index_level(derivation))
    sizes = {"entrywise": f"T = {entrywise_steps}, H = 2, D = M = 1", "randomized": "T = 6, H = 8, D = 5, M = 3"}
    verdict = check_sequence(cs231n_point(kind, convention, activation))
    numeric = NumericTable(
        "cs231n's RNN check point ($N = 2$ sequences, $T = 10$, $D = 3$, $H = 5$, $M = 4$, randn, seed 0, half-SSE)",
        tuple(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]}" for a, b in PAIRS), (1e-12, 1e-6, 1e-6),
        tuple(c.name for c in verdict.comparisons), tuple(c.errors for c in verdict.comparisons), verdict.agree)
    norms = gradient_norms()
    document = build_document(derivation, proofs, sizes, numeric, truncation_rows(kind, convention, activation), norms)
    plot = norm_plot(norms)
    pictures = lambda: page_html(document, (unrolled_picture(kind, steps),  # noqa: E731
                                            Picture("||dL_T / dh_t|| against t, tanh RNN and LSTM, T = 30", plot)))
    written, pdf = write_document(folder, document, formats, pictures)
    written = list(written) + list(write_files(folder, {NORM_PLOT: plot.encode("utf-8")}))
    return tuple(written), proofs, verdict, pdf


def run_derive(args: argparse.Namespace) -> int:
    from derive.writeup import output_files
    from derive.cli.derive import parse_formats
    from derive.writeup.files import FORMATS
    from derive.writeup.output_files import OutputError, check_name, check_writable_folder

    kind = KINDS[args.layer]
    steps = _steps(args, DERIVE_STEPS)
    activation = _activation(args)
    formats = parse_formats(args.formats if args.formats is not None else ",".join(FORMATS))
    if args.formats is not None and "pdf" in formats and output_files.tex_engine() is None:
        raise OutputError(f"--formats pdf needs {output_files.TEX_ENGINE}, which is not on PATH")
    name = check_name(args.name if args.name is not None else args.layer)
    folder = check_writable_folder(Path(args.out) / name, f"{STEM}.tex")
    written, proofs, verdict, pdf = write_layer_derivation(args.layer, folder, formats, steps, _convention(args),
                                                           activation)
    layer = f"Elman RNN ({activation})" if kind == "rnn" else "LSTM"
    return derive_summary(f"{args.layer}: {layer}, {_convention(args)} convention, backprop through time found from "
                          "the forward pass", proofs, verdict, pdf, written, folder,
                          numeric="numeric (cs231n's point, T = 10)")


# ------------------------------------------------------------------------------ check


def run_check(args: argparse.Namespace) -> int:
    from checks.recurrence.check import check_sequence, cs231n_point, read_sequences, verdict_text
    from derive.recurrence.costs import STEP_COSTS
    from derive.recurrence.errors import WidthError, check_truncation

    kind = KINDS[args.layer]
    activation = _activation(args)
    if getattr(args, "params", None) is not None:
        raise LayerOptionError("--params is for a network; with --layer rnn|lstm the parameters are drawn "
                               "(--seed) and --data FILE.json holds the sequences")
    if args.step_cost not in STEP_COSTS:
        raise LayerOptionError(f"--step-cost {args.step_cost!r}: use one of {', '.join(STEP_COSTS)}")
    hidden = _width(args.hidden, CHECK_HIDDEN, "--hidden")
    if args.data is not None:
        point = read_sequences(args.data, kind, _convention(args), activation, args.step_cost, hidden, CHECK_OUTPUTS,
                               args.seed)
        if args.cell_input is not None and point.x.shape[2] != args.cell_input:
            raise WidthError("x", point.x.shape[2], args.cell_input, "input width D (--cell-input)")
        if args.steps is not None and args.steps != point.steps:
            raise LayerOptionError(f"--steps {args.steps} but {args.data} holds sequences of T = {point.steps} steps")
    else:
        steps = _steps(args, CHECK_STEPS)
        if steps > MAX_CHECK_STEPS:
            raise LayerOptionError(f"--steps {steps}: finite differences take every entry; keep T <= {MAX_CHECK_STEPS}")
        inputs = _width(args.cell_input, CHECK_INPUTS, "--cell-input")
        point = cs231n_point(kind, _convention(args), activation, args.step_cost, CHECK_EXAMPLES, steps, inputs,
                             hidden, CHECK_OUTPUTS, args.seed)
    truncate = check_truncation(args.truncate, point.steps)
    verdict = check_sequence(point, truncate)
    sys.stdout.write(verdict_text(verdict))
    return EXIT_OK if verdict.agree else EXIT_FAILED_CHECK


# ------------------------------------------------------------------------------ verify


def run_verify(args: argparse.Namespace) -> int:
    from checks.recurrence.verify import DEFAULT_TIMEOUT, DEFAULT_TOLERANCE, verify_sequence_function
    from derive.cli.verify import load_function

    kind = KINDS[args.layer]
    settings = verify_settings(args, DEFAULT_TOLERANCE, DEFAULT_TIMEOUT)
    fn, label = load_function(args.target)
    verdict = verify_sequence_function(fn, kind, settings.points, settings.seed, settings.tolerance, label,
                                       settings.timeout)
    print(verdict.text())
    return EXIT_OK if verdict.passed else EXIT_FAILED_CHECK


# ------------------------------------------------------------------------------ graph

GRAPH_FORMATS = ("svg", "png")


def run_graph(args: argparse.Namespace) -> int:
    from derive.circuits.render import render_graph
    from derive.cli.graph import parse_formats
    from derive.writeup.output_files import check_name, check_writable_folder, write_files
    from derive.recurrence.graph import unrolled_edges, unrolled_graph

    kind = KINDS[args.layer]
    steps = _steps(args, DERIVE_STEPS)
    if steps > 12:
        raise LayerOptionError(f"--steps {steps}: the unrolled graph is drawn for T <= 12")
    refuse_network_graph_options(args)
    formats = parse_formats(args.formats) if args.formats is not None else GRAPH_FORMATS
    if set(formats) - set(GRAPH_FORMATS):
        raise LayerOptionError(f"--layer draws {' and '.join(GRAPH_FORMATS)} only, got --formats {args.formats}")
    name = check_name(args.name or f"{args.layer}-unrolled")
    out = check_writable_folder(args.out) if args.out is not None else (Path(".") if args.formats else None)
    lines = [f"{args.layer}: unrolled over T = {steps} steps (forward along the arrows, backward message on each)"]
    lines += [f"  {start}  ->  {end}    backward: {message}" for start, end, message in unrolled_edges(kind, steps)]
    if out is not None:
        graph = unrolled_graph(kind, steps)
        contents = {f"{name}.{fmt}": render_graph(graph, fmt) for fmt in formats}
        written = write_files(out, contents)
        lines.append(f"wrote: {', '.join(str(out / p.name) for p in written)}")
    print("\n".join(lines))
    return EXIT_OK


def write_golden(name: str, folder: Path, formats: tuple[str, ...]) -> LayerWriteUp:
    written, proofs, verdict, pdf = write_layer_derivation(name, folder, formats)
    summary = () if pdf is None or any(p.suffix == ".pdf" for p in written) else (pdf.message,)
    return LayerWriteUp(tuple(written), summary, all(p.holds for p in proofs) and verdict.agree)


FAMILY = LayerFamily(
    names=tuple(KINDS),
    summary="recurrent layers: Elman RNN and LSTM, backprop through time",
    options=(
        LayerOption(("--steps",), "steps", "with --layer rnn|lstm: sequence length T (derive: 3 for rnn, 2 for "
                    "lstm; check: 10, cs231n's)", type=int, metavar="T", commands=("derive", "check", "graph")),
        LayerOption(("--hidden",), "hidden", "with --layer rnn|lstm: hidden width H for check (default 5)",
                    type=int, metavar="H", commands=("check",)),
        LayerOption(("--cell-input",), "cell_input", "with --layer rnn|lstm: input width D for check (default 3)",
                    type=int, metavar="D", commands=("check",)),
        LayerOption(("--truncate",), "truncate", "with --layer rnn|lstm: also truncated backprop through time "
                    "over k steps, against full", type=int, metavar="K", commands=("check",)),
        LayerOption(("--row-convention",), "row_convention", "with --layer rnn|lstm: row vectors, weights "
                    "input x output (default: column)", flag=True, commands=("derive", "check")),
        LayerOption(("--cell-activation",), "cell_activation", "with --layer rnn: the activation in place of tanh",
                    default="tanh", metavar="NAME", commands=("derive", "check")),
        LayerOption(("--step-cost",), "step_cost", "with --layer rnn|lstm: half_sse (default) or cross_entropy "
                    "per step", default="half_sse", metavar="COST", commands=("check",)),
    ),
    derive=run_derive, check=run_check, verify=run_verify, graph=run_graph,
    goldens=(("rnn", "rnn"), ("lstm", "lstm")),
    write_golden=write_golden,
)
