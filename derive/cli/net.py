"""`--net TEXT` for `backprop derive` and `check`: a network with batch norm or layer norm.

    backprop derive --net "dense(3) batchnorm relu dense(2) softmax" --inputs 2 -m 3
        writes output/<2-3-bn-relu-2-softmax>/derivation.{tex,pdf,md,html}
    backprop check --net "dense(4) layernorm tanh dense(1)" --inputs 3 -m 5
        the chained derived backward, a hand-written NumPy net and finite differences

Registered after derive.cli.layers: it wraps the handlers that module left, so that with --net this
module's handler runs and without it nothing changes. The grammar is derive/program/net_text.py's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derive.program.net_text import NetTextError

COMMANDS = ("derive", "check")
EXIT_OK, EXIT_FAILED_CHECK = 0, 1


def register(subparsers: argparse._SubParsersAction) -> None:
    for command in COMMANDS:
        parser = subparsers.choices.get(command)
        if parser is None:
            continue
        group = parser.add_argument_group("a network with normalisation layers")
        group.add_argument("--net", default=None, metavar="TEXT",
                           help='layers in order, e.g. "dense(3) batchnorm relu dense(2) softmax" (see README)')
        group.add_argument("--inputs", type=int, default=None, metavar="D",
                           help="with --net: the input width D (default: the width of --data's X)")
        parser.set_defaults(handler=_dispatch(command, parser.get_default("handler")))


def _dispatch(command: str, original):
    def handler(args: argparse.Namespace) -> int:
        if getattr(args, "net", None) is None:
            if getattr(args, "inputs", None) is not None:
                raise NetTextError("--inputs only goes with --net")
            return original(args)
        if getattr(args, "layer", None) is not None:
            raise NetTextError("--net and --layer describe different things: give one of them")
        if args.layers != "2-3-1":
            raise NetTextError("--net and --layers both describe the network: give one of them")
        return (run_derive if command == "derive" else run_check)(args)
    return handler


def _unsupported(args: argparse.Namespace) -> None:
    for option, value, default in (("--convention", args.convention, "row"), ("--bias", args.bias, "none"),
                                   ("--l2", args.l2, 0.0)):
        if value not in (default, None) and not (option == "--bias" and value == "vector"):
            raise NetTextError(f"{option} {value} does not go with --net yet: a net with norms is row form, "
                               "a bias vector per dense layer, no L2")


def _net(args: argparse.Namespace, data_width: int | None = None):
    from derive.program.norm_net import build_net

    _unsupported(args)
    inputs = args.inputs if args.inputs is not None else data_width
    if inputs is None:
        raise NetTextError("--net needs the input width: give --inputs D (or --data FILE.json)")
    epsilon = getattr(args, "eps", None) or 1e-5
    return build_net(args.net, inputs, args.examples, cost=args.cost, reduction=args.reduction,
                     unbiased=bool(getattr(args, "unbiased", False)), eps=epsilon)


def run_derive(args: argparse.Namespace) -> int:
    from checks.normalization.network_report import write_network_derivation
    from derive.cli.derive import parse_formats
    from derive.normalization.network_proof import PROOF_LIMIT
    from derive.writeup import output_files
    from derive.writeup.files import FORMATS
    from derive.writeup.output_files import OutputError, check_name, check_writable_folder

    net = _net(args)
    entries = sum(rows * columns for _, (rows, columns) in net.parameters())
    if entries > PROOF_LIMIT:
        raise NetTextError(f"--net: {entries} parameter entries; the entrywise proof of the chained backward "
                           f"runs at {PROOF_LIMIT} or fewer (use `backprop check --net` for larger nets)")
    formats = parse_formats(args.formats if args.formats is not None else ",".join(FORMATS))
    if args.formats is not None and "pdf" in formats and output_files.tex_engine() is None:
        raise OutputError(f"--formats pdf needs {output_files.TEX_ENGINE}, which is not on PATH")
    name = check_name(args.name if args.name is not None else f"bnnet-{net.slug}")
    folder = check_writable_folder(Path(args.out) / name, "derivation.tex")
    written, proof, verdict, pdf = write_network_derivation(net, folder, formats)
    print(f"{net.text.text}: backward chained from derived pieces")
    print(f"  proof: {proof.text()}")
    print(f"  numeric: derived, hand-written and finite differences {'agree' if verdict.agree else 'DISAGREE'}")
    if written:
        print(f"  wrote: {', '.join(str(folder / p.name) for p in written)}")
    failed = not proof.holds or not verdict.agree or (pdf is not None and pdf.failed)
    return EXIT_FAILED_CHECK if failed else EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    from checks.normalization.network_check import check_network, random_point

    if getattr(args, "params", None) is not None or getattr(args, "data", None) is not None:
        raise NetTextError("--params and --data do not go with --net yet: the point is drawn from --seed")
    net = _net(args)
    if sum(r * c for _, (r, c) in net.parameters()) * net.examples > 200_000:
        raise NetTextError("--net: finite differences take every parameter entry; keep parameters x m <= 200000")
    verdict = check_network(net, *random_point(net, args.seed or 0))
    sys.stdout.write(verdict.text())
    return EXIT_OK if verdict.agree else EXIT_FAILED_CHECK
