"""The `backprop` command line: one subcommand per module, errors as one line on stderr."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module named here defines register(subparsers); the parser it adds sets `handler`, a
# function (args) -> exit code. Keeping them apart lets each subcommand live beside its concept.
SUBCOMMAND_MODULES = (
    "derive.cli_derive",
    "derive.cli_check",
    "derive.cli_train",
    "derive.cli_graph",
    "derive.cli_verify",
)

EXIT_OK = 0
EXIT_FAILED_CHECK = 1  # the tool ran and found a disagreement
EXIT_BAD_INPUT = 2     # the same code argparse uses for a usage error


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
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:
        # ValueError covers every bad-input error of ours (SpecError, FormulaError, ...).
        print(f"backprop {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
