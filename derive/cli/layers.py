"""`--layer NAME` for `backprop derive`, `check`, `verify` and `graph`: one layer instead of a network.

Registered last in derive.cli.SUBCOMMAND_MODULES: it adds --layer and every family's options to the
parsers the other modules made and wraps their handlers, so that with --layer the handler of the
family owning NAME runs, and without it nothing changes. A family is one module in FAMILIES that
defines FAMILY, a derive.cli.layer_family.LayerFamily; nothing here knows a family by name.
"""

from __future__ import annotations

import argparse
import importlib
from functools import cache

from derive.cli.layer_family import COMMANDS, LayerFamily, LayerOptionError, fill_defaults

# one module per family of layers, each defining FAMILY; the order is the order of --help
FAMILIES = (
    "derive.cli.layer_norm",
    "derive.cli.layer_recurrence",
    "derive.cli.layer_convolution",
    "derive.cli.layer_attention",
)


@cache
def families() -> tuple[LayerFamily, ...]:
    found = []
    for name in FAMILIES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise
            continue
        found.append(module.FAMILY)
    return tuple(found)


def layer_names() -> tuple[str, ...]:
    return tuple(name for family in families() for name in family.names)


def family_of(name: str) -> LayerFamily:
    """The family owning --layer NAME; anything else is refused with the list of known layers."""
    for family in families():
        if name in family.names:
            return family
    raise LayerOptionError(f"unknown layer {name!r}: the known layers are {', '.join(layer_names())}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds --layer and the families' options to derive, check, verify and graph, wrapping their handlers."""
    for command in COMMANDS:
        parser = subparsers.choices.get(command)
        if parser is None:
            continue
        group = parser.add_argument_group("one layer instead of a network")
        group.add_argument("--layer", default=None, metavar="NAME",
                           help=f"one layer: {', '.join(layer_names())} (the network options are then ignored)")
        added = set()
        for family in families():
            for option in family.options:
                if command not in option.commands or option.dest in added:
                    continue  # two families may share an option (same flags, same meaning)
                added.add(option.dest)
                if option.flag:
                    group.add_argument(*option.flags, dest=option.dest, action="store_true", help=option.help)
                else:
                    group.add_argument(*option.flags, dest=option.dest, type=option.type, default=None,
                                       metavar=option.metavar, help=option.help)
        parser.set_defaults(handler=_dispatch(command, parser.get_default("handler")))


def _given(value) -> bool:
    """An option given on the command line: anything but argparse's None or an unset flag (0 is given)."""
    return value is not None and value is not False


def _given_layer_options(args: argparse.Namespace, owned: set[str]) -> list[str]:
    """The flags of layer options given on the command line that are not in `owned` (dests)."""
    given = []
    for family in families():
        for option in family.options:
            if option.dest not in owned and _given(getattr(args, option.dest, None)):
                flag = option.flags[0]
                if flag not in given:
                    given.append(flag)
    return given


def _dispatch(command: str, original):
    def handler(args: argparse.Namespace) -> int:
        if getattr(args, "layer", None) is None:
            given = _given_layer_options(args, set())
            if given:
                raise LayerOptionError(f"{', '.join(given)} only go{'es' if len(given) == 1 else ''} with --layer "
                                       f"({', '.join(layer_names())})")
            return original(args)
        family = family_of(args.layer)
        foreign = _given_layer_options(args, {option.dest for option in family.options})
        if foreign:
            raise LayerOptionError(f"{', '.join(foreign)} {'does' if len(foreign) == 1 else 'do'} not go with "
                                   f"--layer {args.layer}")
        layer_handler = family.handler(command)
        if layer_handler is None:
            raise LayerOptionError(f"backprop {command} has no --layer {args.layer} yet")
        fill_defaults(args, family)
        return layer_handler(args)
    return handler
