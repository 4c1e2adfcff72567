"""--expect NAME=VALUE and --expect-file FILE.json: the options shared by check, train and graph."""

from __future__ import annotations

import argparse

TOLERANCE_RULE = ("agreement: |ours - published| <= half a unit in the figure's last printed digit "
                  "(0.291027924 allows 5e-10) + 1e-12 relative, for every independent route; exit 1 "
                  "when a figure disagrees")


def add_expect_options(parser: argparse.ArgumentParser, names: str) -> None:
    """--expect (repeatable, NAME=VALUE[,NAME=VALUE]) and --expect-file."""
    parser.add_argument("--expect", action="append", default=[], metavar="NAME=VALUE",
                        help=f"a published figure to compare with ours, as printed; names: {names}. "
                             f"Repeatable, or pairs joined by commas. {TOLERANCE_RULE}")
    parser.add_argument("--expect-file", metavar="FILE.json",
                        help='published figures as one JSON object {"NAME": VALUE, ...}; numbers keep '
                             "their printed digits")


def figures_from_args(args: argparse.Namespace):
    """The published figures of --expect and --expect-file, parsed (not yet resolved to names)."""
    from checks.published.figures import parse_expectations, read_expect_file

    file_values = read_expect_file(args.expect_file) if args.expect_file is not None else None
    return parse_expectations(args.expect, file_values)
