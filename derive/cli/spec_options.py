"""The options every subcommand uses to describe a network, and the spec they build."""

from __future__ import annotations

import argparse

from derive.network.size_limits import MAX_DEPTH, MAX_WEIGHTS, check_size, size_limit_factor
from derive.network.spec import (ACTIVATIONS, BIAS_MODES, CONVENTIONS, COSTS, REDUCTIONS, NetworkSpec,
                         parse_spec)

# The work each subcommand does with the network, for its size limits (derive.network.size_limits):
# verify-formula derives at the spec's m as derive does; graph draws shapes only.
_WORK = {"derive": "derive", "verify-formula": "derive", "graph": "graph"}


def add_spec_options(parser: argparse.ArgumentParser) -> None:
    """Adds --layers, --activation, ... with the seed 000 XOR net as the default."""
    group = parser.add_argument_group("network (default: seed 000's XOR net 2-3-1)")
    group.add_argument("--layers", default="2-3-1", help="layer sizes, input first (default 2-3-1)")
    group.add_argument("--activation", default="sigmoid",
                       help=f"hidden activation: {', '.join(ACTIVATIONS)} (default sigmoid)")
    group.add_argument("--output-activation", default=None,
                       help="output activation (default: the hidden one)")
    group.add_argument("--cost", default="half_sse", help=f"{', '.join(COSTS)} (default half_sse)")
    group.add_argument("--reduction", default="sum", help=f"{', '.join(REDUCTIONS)} over examples (default sum)")
    group.add_argument("--bias", default="none", help=f"{', '.join(BIAS_MODES)} (default none)")
    group.add_argument("--convention", default="row", help=f"{', '.join(CONVENTIONS)} (default row)")
    group.add_argument("-m", "--examples", type=int, default=4, help="batch size m (default 4)")
    group.add_argument("--l2", type=float, default=0.0, help="L2 strength lambda (default 0: none)")
    group.add_argument("--size-limit-factor", type=_factor, default=1.0, metavar="FACTOR",
                       help=f"multiply every network size limit ({MAX_WEIGHTS:,} weights, {MAX_DEPTH} "
                            "layers, ...; see the README) by FACTOR, to run a large net on purpose "
                            "(default 1)")


def _factor(text: str) -> float:
    try:
        return size_limit_factor(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}") from None


def spec_from_args(args: argparse.Namespace) -> NetworkSpec:
    """The NetworkSpec the options describe, refused before any work when it is too large.

    Raises:
        SpecError: the options describe no valid network.
        NetworkTooLarge: its estimated cost for this subcommand is over a limit (a SpecError).
    """
    spec = parse_spec(args.layers, activation=args.activation,
                      output_activation=args.output_activation, cost=args.cost,
                      reduction=args.reduction, bias=args.bias, convention=args.convention,
                      m=args.examples, l2=args.l2)
    check_size(spec, _WORK.get(getattr(args, "command", None), "check"),
               getattr(args, "size_limit_factor", 1.0))
    return spec
