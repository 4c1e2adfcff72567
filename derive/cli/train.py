"""`backprop train`: gradient descent with the derived (and checked) gradients."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from checks.training_run import DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, ROUTES
from derive.cli.check import EXIT_FAILED_CHECK, EXIT_OK, CheckUsageError, add_file_options, load_inputs
from derive.cli.expect import add_expect_options, figures_from_args
from derive.cli.spec_options import add_spec_options


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
        0, or 1 when the gradients disagree at the start (nothing is trained then) or a published
        figure disagrees.

    Raises:
        ValueError: bad input of any kind (the CLI prints it as one line).
        OSError: the PNG cannot be written.
    """
    import numpy as np

    from checks.inputs.data import random_params
    from checks.training_run import TrainingOptions, checked_training, total_updates, train_figure_key, write_plot

    spec, params, data, data_text, params_text = load_inputs(args, random_data_fallback=False)
    X, Y = data
    _check_options(args, spec.m)
    plot = check_plot_path(args.plot)
    params = random_params(spec, np.random.default_rng(args.seed)) if params is None else params
    epochs = DEFAULT_EPOCHS if args.epochs is None and args.iterations is None else args.epochs
    options = TrainingOptions(args.lr, epochs, args.iterations, args.batch_size, args.seed,
                              parse_frozen(args.freeze, list(params)), args.route)
    figures = figures_from_args(args)
    total = total_updates(spec, epochs, args.iterations, args.batch_size)
    keys = {figure.name: train_figure_key(figure.name, {**params, "yhat": Y}, total) for figure in figures}
    training = checked_training(spec, params, X, Y, options, figures, keys)
    if not training.start.agree:
        print(f"backprop train: the gradients disagree at the start "
              f"({', '.join(training.start.disagreeing) or 'cost'}); run backprop check with the same options "
              "for the table; nothing was trained", file=sys.stderr)
        return EXIT_FAILED_CHECK
    written = write_plot(training, plot) if plot is not None else None
    if args.json:
        print(json.dumps(training.to_json(data_text, params_text, written), separators=(",", ":")))
    else:
        sys.stdout.write(training.text(data_text, params_text))
        if training.figures is not None:
            sys.stdout.write("\n" + training.figures.text())
        if written is not None:
            print(f"wrote {written}")
    return EXIT_OK if training.ok else EXIT_FAILED_CHECK
