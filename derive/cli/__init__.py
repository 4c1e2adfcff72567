"""The `backprop` command line: one subcommand per module, errors as one line on stderr."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# Each module named here defines register(subparsers); the parser it adds sets `handler`, a
# function (args) -> exit code. Keeping them apart lets each subcommand live beside its concept.
SUBCOMMAND_MODULES = (
    "derive.cli.derive",
    "derive.cli.check",
    "derive.cli.train",
    "derive.cli.graph",
    "derive.cli.verify",
    "derive.cli.layers",  # last: adds --layer to derive, check and verify (normalisation layers)
    "derive.cli.net",  # after layers: adds --net (a network with norms) to derive and check
)

EXIT_OK = 0
EXIT_FAILED_CHECK = 1  # the tool ran and found a disagreement
EXIT_BAD_INPUT = 2     # the same code argparse uses for a usage error
# The reader of our output went away (`backprop check | head -1`): end quietly with the status a
# Unix tool killed by SIGPIPE reports, 128 + 13, as `yes | head -1` does.
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
# Options that are seeds (NumPy's generators take non-negative integers only); checked here, once
# for every subcommand that has them, so the message names the option.
SEED_OPTIONS = ("seed",)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, like every other error of ours
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="backprop",
        description="Derive, prove and check backpropagation for a network you describe.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    for option in SEED_OPTIONS:
        value = getattr(args, option, None)
        if value is not None and value < 0:
            print(f"backprop {args.command}: error: argument --{option}: expected a non-negative integer, "
                  f"got {value}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it would print a warning
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except (ValueError, OSError) as error:
        # ValueError covers every bad-input error of ours (SpecError, FormulaError, ...).
        print(f"backprop {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    # Python flushes stdout again at exit, which would raise a second BrokenPipeError there;
    # point the descriptor at /dev/null (the recipe of Python's signal module documentation).
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced by an object without a descriptor
        pass


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
