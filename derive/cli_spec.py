"""The options every subcommand uses to describe a network, and the spec they build."""

from __future__ import annotations

import argparse

from derive.spec import (ACTIVATIONS, BIAS_MODES, CONVENTIONS, COSTS, REDUCTIONS, NetworkSpec,
                         parse_spec)


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


def spec_from_args(args: argparse.Namespace) -> NetworkSpec:
    """The NetworkSpec the options describe; raises SpecError (a ValueError) when invalid."""
    return parse_spec(args.layers, activation=args.activation,
                      output_activation=args.output_activation, cost=args.cost,
                      reduction=args.reduction, bias=args.bias, convention=args.convention,
                      m=args.examples, l2=args.l2)
