"""`backprop train`: gradient descent with the derived (and checked) gradients."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from derive.cli.check import (EXIT_FAILED_CHECK, EXIT_OK, CheckUsageError, add_file_options,
                              load_inputs, spec_text)
from derive.cli.expect import add_expect_options, entry_names, figures_from_args
from derive.cli.spec_options import add_spec_options
from derive.progress import progress

# seed 000's XOR net converges from the seed-0 start with these (measured: predictions 0.068, 0.950,
# 0.952, 0.046 for targets 0, 1, 1, 0 after 5000 full-batch epochs, cost 0.0057)
DEFAULT_LEARNING_RATE = 2.0
DEFAULT_EPOCHS = 5000
PRINTED_CHECKPOINTS = 10      # rows of the cost table
PRINTED_PREDICTIONS = 16      # examples shown beside their targets
VERIFIED_EXAMPLES = 32        # the start is checked on the first batch, at most this many examples
ROUTES = ("derived", "hand-written")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `train` subcommand."""
    parser = subparsers.add_parser(
        "train", help="gradient descent with the derived gradients (default: XOR)",
        description="Checks the derived gradients at the start (derived, hand-written, finite "
                    "differences), then runs gradient descent: batch, mini-batch (--batch-size) or "
                    "stochastic (--batch-size 1). With no options: seed 000's XOR net 2-3-1 from "
                    f"seeded random weights, learning rate {DEFAULT_LEARNING_RATE:g}, {DEFAULT_EPOCHS} epochs.")
    add_spec_options(parser)
    add_file_options(parser)
    parser.add_argument("--lr", type=float, default=DEFAULT_LEARNING_RATE, metavar="X",
                        help=f"learning rate, > 0 (default {DEFAULT_LEARNING_RATE:g})")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, metavar="N",
                        help=f"passes over the data (default {DEFAULT_EPOCHS} when --iterations is not given)")
    length.add_argument("--iterations", type=int, metavar="N", help="updates in all")
    parser.add_argument("--batch-size", type=int, metavar="N", help="examples per update (default: all)")
    parser.add_argument("--freeze", metavar="NAMES", help="parameters kept fixed, comma-separated, e.g. b1,b2")
    parser.add_argument("--plot", metavar="PATH.png", help="write the cost curve as a PNG (default: none)")
    parser.add_argument("--route", choices=ROUTES, default="derived",
                        help="whose gradients train: the derived rule (default) or the hand-written backprop")
    parser.add_argument("--json", action="store_true", help="print the run as JSON")
    add_expect_options(parser, "J@K (the cost of all the data after K updates, K = 0 before any), "
                               "W1[i,j] (a final weight), W1[i,j]@K (a weight after K updates), "
                               "yhat[i,j] and yhat[i,j]@K (an output, indices as y is stored)")
    parser.set_defaults(handler=run)


def parse_frozen(text: str | None, names: list[str]) -> tuple[str, ...]:
    """The names of --freeze "b1,b2", each a parameter of the net.

    >>> parse_frozen("b1, W2", ["W1", "b1", "W2", "b2"])
    ('b1', 'W2')
    """
    if text is None:
        return ()
    frozen = tuple(part.strip() for part in text.split(","))
    for name in frozen:
        if name not in names:
            raise CheckUsageError(f"--freeze {name!r} is not a parameter of this net; its parameters are "
                                  f"{', '.join(names)}")
    return tuple(dict.fromkeys(frozen))


def check_plot_path(text: str | None) -> Path | None:
    """A PNG path whose folder exists or can be made; checked before any training."""
    if text is None:
        return None
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise CheckUsageError(f"--plot {text!r} must name a .png file")
    if path.is_dir():
        raise CheckUsageError(f"--plot {text!r} is a folder; give a file name ending in .png")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CheckUsageError(f"--plot {text!r}: {parent} is a file, not a folder")
            break
    return path


def _check_options(args: argparse.Namespace, m: int) -> None:
    if not math.isfinite(args.lr) or args.lr <= 0:
        raise CheckUsageError(f"--lr must be a finite number greater than 0, got {args.lr:g}")
    for flag, value in (("--epochs", args.epochs), ("--iterations", args.iterations)):
        if value is not None and value < 1:
            raise CheckUsageError(f"{flag} must be at least 1, got {value}")
    if args.batch_size is not None and not 1 <= args.batch_size <= m:
        raise CheckUsageError(f"--batch-size must be between 1 and the {m} examples, got {args.batch_size}")


def run(args: argparse.Namespace) -> int:
    """Runs `backprop train`: everything is checked before training, and the PNG written last.

    Returns:
        0, or 1 when the gradients disagree at the start (nothing is trained then).

    Raises:
        ValueError: bad input of any kind (the CLI prints it as one line).
        OSError: the PNG cannot be written.
    """
    import numpy as np

    from checks.inputs.data import random_params
    from checks.routes.derived import derived_backprop, derived_gradient_function
    from checks.handwritten.network import backprop, forward
    from checks.inputs.param_files import params_to_json
    from checks.training import plot_costs, train
    from checks.routes.three_routes import verify

    spec, params, data, data_text, params_text = load_inputs(args, random_data_fallback=False)
    X, Y = data
    _check_options(args, spec.m)
    plot = check_plot_path(args.plot)
    params = random_params(spec, np.random.default_rng(args.seed)) if params is None else params
    frozen = parse_frozen(args.freeze, list(params))
    epochs = DEFAULT_EPOCHS if args.epochs is None and args.iterations is None else args.epochs
    figures = figures_from_args(args)
    total = args.iterations if args.iterations is not None else \
        epochs * math.ceil(spec.m / (args.batch_size or spec.m))
    keys = {figure.name: train_figure_key(figure.name, {**params, "yhat": Y}, total) for figure in figures}

    # the start is checked on the first batch: three routes, the verdict before any update
    first = min(spec.m, args.batch_size or spec.m, VERIFIED_EXAMPLES)
    row = spec.convention == "row"
    batch = (X[:first], Y[:first]) if row else (X[:, :first], Y[:, :first])
    verdict = verify(spec, params, batch, seed=args.seed, entrywise=False)
    if not verdict.agree:
        print(f"backprop train: the gradients disagree at the start ({', '.join(verdict.disagreeing) or 'cost'}); "
              "run backprop check with the same options for the table; nothing was trained", file=sys.stderr)
        return EXIT_FAILED_CHECK

    gradient_fns = {"derived": derived_backprop, "hand-written": backprop}
    wanted = wanted_updates(keys.values(), total)
    snapshots: dict[str, dict[int, tuple[float, dict]]] = {route: {} for route in ROUTES}
    history = train(spec, params, X, Y, learning_rate=args.lr, epochs=epochs, iterations=args.iterations,
                    batch_size=args.batch_size, rng=args.seed, frozen=frozen,
                    gradient_fn=recording(gradient_fns[args.route], wanted, X, Y, snapshots[args.route]),
                    progress=progress)
    report = None
    if figures:
        # the other route trains too, from the same start on the same batches, so each published
        # figure is compared with two independent gradient routes
        other = next(route for route in ROUTES if route != args.route)
        train(spec, params, X, Y, learning_rate=args.lr, epochs=epochs, iterations=args.iterations,
              batch_size=args.batch_size, rng=args.seed, frozen=frozen,
              gradient_fn=recording(gradient_fns[other], wanted, X, Y, snapshots[other]))
        outputs_of = {"derived": lambda p: derived_gradient_function(spec).forward(p, X, Y)[1][len(spec.sizes)],
                      "hand-written": lambda p: forward(spec, p, X).a[len(spec.sizes)]}
        report = train_figures(figures, keys, snapshots, total, outputs_of)
    if args.route == "derived":
        outputs = derived_gradient_function(spec).forward(history.params, X, Y)[1][len(spec.sizes)]
    else:
        outputs = forward(spec, history.params, X).a[len(spec.sizes)]

    written = None
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        written = plot_costs(history, plot, title=f"{spec.slug}, learning rate {args.lr:g}")
    checked = max(verdict.parameters, key=lambda p: p.relative_difference).relative_difference
    if args.json:
        print(json.dumps({
            "spec": spec_text(spec), "data": data_text, "parameters_from": params_text, "route": args.route,
            "checked_at_start": {"agree": verdict.agree, "examples": first, "largest_relative_difference": checked},
            "learning_rate": args.lr, "epochs": epochs, "iterations": history.iterations,
            "iterations_per_epoch": history.iterations_per_epoch, "batch_size": history.batch_size,
            "frozen": list(frozen), "costs": list(history.costs), "final_cost": history.final_cost,
            "params": params_to_json(history.params), "predictions": outputs.tolist(),
            "plot": None if written is None else str(written),
            **({} if report is None else {"published": report.to_json()})}, separators=(",", ":")))
        return EXIT_OK if report is None or report.ok else EXIT_FAILED_CHECK
    sys.stdout.write(_report(spec, args, history, outputs, X, Y, data_text, params_text, first, checked, frozen))
    if report is not None:
        sys.stdout.write("\n" + report.text())
    if written is not None:
        print(f"wrote {written}")
    return EXIT_OK if report is None or report.ok else EXIT_FAILED_CHECK


# ---------------------------------------------------------------------------------------------
# Published figures: the cost after K updates, and weights after K updates (the last by default).


def train_figure_key(name: str, params, total: int) -> tuple[str, tuple[int, int] | None, int]:
    """"J@10" as ("J", None, 10); "W1[0,1]" as ("W1", (0, 1), total); "W1[0,1]@1" as ("W1", (0, 1), 1).

    params holds every parameter and "yhat" (any array of the outputs' shape, e.g. Y).

    Raises:
        FigureError: an unknown name, or K beyond the run's updates (the message lists the names).
    """
    from checks.published.figures import FigureError, parse_entry, unknown_name

    shapes = {key: tuple(value.shape) for key, value in params.items()}
    accepted = f"J@K and {entry_names(shapes)}, each with @K or without (after the last update); K from 0 to {total}"
    stem, at, count = name.partition("@")
    if at and not (count.isascii() and count.isdecimal()):
        raise unknown_name(name, accepted)
    k = int(count) if at else total
    if k > total:
        raise FigureError(f"--expect {name}: this run makes {total} updates; give --iterations {k} "
                          f"(or more) to compare the value after {k:,}")
    if stem == "J" and at:
        return "J", None, k
    entry = parse_entry(stem, shapes)
    if entry is None:
        raise unknown_name(name, accepted)
    return entry[0], entry[1], k


def wanted_updates(keys, total: int) -> set[int]:
    """The update counts whose cost and parameters are recorded: each figure's K, and K - 1, K + 1
    for costs (the neighbours a misnumbered figure matches)."""
    wanted = set()
    for name, _, k in keys:
        wanted |= {k - 1, k, k + 1} if name == "J" else {k}
    return {k for k in wanted if 0 <= k <= total}


def recording(gradient_fn, wanted: set[int], X, Y, snapshots: dict):
    """gradient_fn, also recording (cost of all the data, parameters) after each wanted number of updates.

    train calls the gradient function once per update, with the parameters before it, and once
    more on the final parameters: its k-th call (from 0) sees the parameters after k updates.
    """
    calls = [0]

    def recorded(spec, params, X_batch, Y_batch):
        k = calls[0]
        calls[0] += 1
        if k in wanted:
            whole = gradient_fn(spec, params, X, Y)
            snapshots[k] = (float(whole.cost), {name: value.copy() for name, value in params.items()})
        return gradient_fn(spec, params, X_batch, Y_batch)

    return recorded


def train_figures(figures, keys, snapshots, total: int, outputs_of):
    """Each figure against both routes' runs; a cost that disagrees is tried at K - 1 and K + 1.

    outputs_of[route](params) is that route's forward pass: the outputs yhat of all the data.
    """
    from checks.published.figures import FigureComparison, compare_figures, neighbour_hint

    def value(route: str, name: str, index, k: int) -> float:
        cost, params = snapshots[route][k]
        if name == "yhat":
            return float(outputs_of[route](params)[index])
        return cost if name == "J" else float(params[name][index])

    def resolve(figure):
        name, index, k = keys[figure.name]
        routes = tuple((route, value(route, name, index, k)) for route in ROUTES)
        comparison = FigureComparison(figure, routes)
        if name == "J" and not comparison.ok:
            neighbours = {f"the value after {j:,} update{'' if j == 1 else 's'} (J@{j})":
                          value(ROUTES[0], name, index, j) for j in (k - 1, k + 1) if 0 <= j <= total}
            comparison = FigureComparison(figure, routes, hint=neighbour_hint(figure, neighbours))
        return comparison

    return compare_figures(figures, resolve)


def _report(spec, args, history, outputs, X, Y, data_text, params_text, checked_examples, checked,
            frozen) -> str:
    total = history.iterations
    kind = "batch" if history.batch_size == spec.m else \
        ("stochastic" if history.batch_size == 1 else "mini-batch")
    lines = [f"train {spec_text(spec)}",
             f"data: {data_text}; parameters: {params_text}",
             f"checked at the start on {checked_examples} examples: derived, hand-written and finite "
             f"differences agree (largest Ng relative difference {checked:.1e})",
             f"{kind} gradient descent with the {args.route} gradients: learning rate {args.lr:g}, "
             f"batch size {history.batch_size}, {_count(history.iterations_per_epoch, 'iteration')} per epoch, "
             f"{_count(total, 'iteration')}; frozen: {', '.join(frozen) or 'none'}",
             "", f"{'iteration':>10}  {'cost of its batch':>18}"]
    step = max(1, total // PRINTED_CHECKPOINTS)
    shown = sorted({1, *range(step, total + 1, step), total})
    lines += [f"{i:>10}  {history.costs[i - 1]:>18.6g}" for i in shown]
    lines.append(f"final cost on all {spec.m} examples: {history.final_cost:.6g}")
    row = spec.convention == "row"
    examples = (lambda array: array) if row else (lambda array: array.T)
    inputs, targets, predicted = examples(X), examples(Y), examples(outputs)
    if spec.m <= PRINTED_PREDICTIONS:
        lines += ["", f"{'x':<24} {'y':<16} yhat"]
        for x, y, yhat in zip(inputs, targets, predicted):
            lines.append(f"{_vector(x):<24} {_vector(y):<16} {_vector(yhat, 3)}")
    return "\n".join(lines) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _vector(values, digits: int = 6) -> str:
    return "[" + ", ".join(f"{float(v):.{digits}g}" for v in values) + "]"
