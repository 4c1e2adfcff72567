"""What one family of layers brings to `--layer`: its names, its options and its four handlers.

A family (the normalisation layers, convolution and pooling, recurrence, attention) is one entry in
derive/cli/layers.py's FAMILIES. Nothing else on the command line knows a family by name: the
shell adds every family's options to derive, check, verify and graph, and hands the parsed
arguments to the handler of the family that owns the chosen --layer.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

COMMANDS = ("derive", "check", "verify", "graph")

class LayerOptionError(ValueError):
    """--layer and its options that do not describe a layer we derive."""


Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class LayerOption:
    """One command-line option that only means something with --layer NAME of its family.

    Its argparse default is always None (or False for a flag), so that the shell can tell "given"
    from "not given" and refuse options of another family; `default` is filled in afterwards.
    """
    flags: tuple[str, ...]          # ("--stride",) or ("-N",)
    dest: str                       # attribute on the parsed arguments
    help: str
    type: Callable[[str], Any] | None = None
    default: Any = None             # filled in when the option was not given
    flag: bool = False              # store_true
    metavar: str | None = None
    commands: tuple[str, ...] = COMMANDS[:3]


@dataclass(frozen=True)
class LayerWriteUp:
    """What writing one layer's derivation produced, for the shell to print and the goldens to list."""
    written: tuple[Path, ...]
    summary: tuple[str, ...]  # the lines printed by `backprop derive --layer`
    ok: bool                  # every proof holds and the numeric routes agree (and pdf, if asked, built)


@dataclass(frozen=True)
class LayerFamily:
    """One family of layers on the command line.

    names: the --layer values it owns (["batchnorm", "layernorm"]).
    derive/check/verify/graph: handlers (args) -> exit code; None where the family has none.
    goldens: (folder under output/, layer name) pairs `tools/refresh_golden.py` writes with the
        family's default options, through `write_golden`.
    write_golden(name, folder, formats) -> LayerWriteUp: the report (derive, prove, check, document,
        files) that both `backprop derive --layer` and the golden refresh call.
    """
    names: tuple[str, ...]
    summary: str
    options: tuple[LayerOption, ...] = ()
    derive: Handler | None = None
    check: Handler | None = None
    verify: Handler | None = None
    graph: Handler | None = None
    goldens: tuple[tuple[str, str], ...] = ()
    write_golden: Callable[[str, Path, tuple[str, ...]], LayerWriteUp] | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def handler(self, command: str) -> Handler | None:
        return getattr(self, command)


def fill_defaults(args: argparse.Namespace, family: LayerFamily) -> None:
    """Sets each of the family's options that was not given to its default."""
    for option in family.options:
        given = getattr(args, option.dest, None)
        # `is`, not `in (None, False)`: a given 0 equals False and must stay given (then be refused)
        if (given is None or given is False) and option.default is not None:
            setattr(args, option.dest, option.default)


def derive_summary(heading: str, proofs, verdict, pdf, written, folder: Path, numeric: str = "numeric") -> int:
    """What `backprop derive --layer` prints after writing, for every family; returns the exit code.

    proofs hold, verdict.comparisons carry cs231n relative errors, pdf is the compile result.
    """
    from derive.writeup.pictures import missing_pictures_line  # the shell starts without the drawing code

    print(heading)
    print("  proofs: " + "; ".join(p.text() for p in proofs))
    worst = max(e for c in verdict.comparisons for e in c.errors)
    print(f"  {numeric}: derived, hand-written and finite differences {'agree' if verdict.agree else 'DISAGREE'} "
          f"(worst cs231n relative error {worst:.1e})")
    if pdf is not None and pdf.pdf is None and not any(p.suffix == ".pdf" for p in written):
        print(f"  pdf: {pdf.message}")
    if missing_pictures_line(written):
        print(f"  {missing_pictures_line(written)}")
    if written:
        print(f"  wrote: {', '.join(str(folder / p.name) for p in written)}")
    failed = not all(p.holds for p in proofs) or not verdict.agree or (pdf is not None and pdf.failed)
    return 1 if failed else 0


def refuse_network_graph_options(args: argparse.Namespace) -> None:
    """graph --layer draws the layer's own forward pass: an expression, --at or --network does not go with it."""
    for given, flag in ((args.expression, "an expression"), (args.at, "--at"), (args.network, "--network")):
        if given:
            raise LayerOptionError(f"{flag} does not go with --layer: the layer's graph is drawn from its forward pass")


@dataclass(frozen=True)
class VerifySettings:
    """What every family's `verify --layer` reads from the shared options, checked."""

    points: int
    seed: int
    tolerance: float
    timeout: float


def verify_settings(args: argparse.Namespace, default_tolerance: float, default_timeout: float) -> VerifySettings:
    """--points, --seed, --tolerance and --timeout for a family's verify; one line for a bad value."""
    from checks.diagnose.layer_verdict import check_timeout

    if args.points < 1:
        raise LayerOptionError(f"--points must be at least 1, got {args.points}")
    tolerance = default_tolerance if args.tolerance is None else args.tolerance
    if not (1e-15 <= tolerance <= 1e-3):
        raise LayerOptionError(f"--tolerance: expected a number from 1e-15 to 1e-3, got {tolerance!r}")
    timeout = check_timeout(default_timeout if args.timeout is None else args.timeout)
    return VerifySettings(args.points, args.seed, tolerance, timeout)
