"""Published figures (`--expect NAME=VALUE`) compared with the values the tool's routes compute.

A figure is kept as the text it was printed with, because the text says how precise it claims
to be: "0.291027924" claims nine significant digits, its last digit is in the 1e-9 place, and
any value that rounds to it lies within half a unit of that place, 5e-10. So a computed value
agrees with a published figure when

    |ours - published| <= half_unit(published) + FLOAT64_SLACK * max(|ours|, |published|)

for every independent route the command has (each route is compared on its own, and all must
agree). Trailing zeros count as printed digits ("0.2910" claims 1e-4, half a unit 5e-5); an
integer's last digit is its units place ("12" claims +-0.5); "3.51085e-5" claims the 1e-10
place, as "0.0000351085" does.

Pure Python (the decimal module counts the digits; no eval): the CLI gives this module the
values its routes computed, by name, and prints what it returns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable, Mapping

# Rounding in float64: a route sums a few hundred products per value (a few ulps, 1e-15 relative),
# and 10,000 updates of Mazur's 2-2-2 net drift apart by 2.2e-14 relative between the derived and
# the hand-written routes (measured: J after 10,000 updates, 3.5e-5, differs by 7.8e-19). 1e-12
# covers both with margin and is far below the precision any printed figure claims (12
# significant digits at most in the figures we know).
FLOAT64_SLACK = 1e-12

# A decimal literal as printed: sign, digits with an optional point, optional exponent. Nothing
# else is accepted (no "inf", "nan", "1_000", hex or fractions).
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# NAME=VALUE pairs may be separated by commas; a name may itself hold commas inside [ ].
_PAIR_SPLIT = re.compile(r",(?![^\[]*\])")


class FigureError(ValueError):
    """An --expect figure that does not parse, or names nothing the command computes."""


@dataclass(frozen=True)
class PublishedFigure:
    """A figure as printed: its name, its text and the precision the text claims.

    >>> PublishedFigure.parse("J@1", "0.291027924").half_unit
    5e-10
    """

    name: str
    text: str

    @classmethod
    def parse(cls, name: str, text: str) -> "PublishedFigure":
        """Checks that text is a finite decimal literal (as printed) and keeps it.

        Raises:
            FigureError: the text is not a decimal number, or overflows float64.
        """
        text = text.strip()
        if not _DECIMAL.fullmatch(text):
            raise FigureError(f"--expect {name}={text!r}: the value must be a decimal number as "
                              "printed, e.g. 0.291027924 or 3.51085e-5")
        if not math.isfinite(float(text)):
            raise FigureError(f"--expect {name}={text}: the value is too large for float64")
        return cls(name, text)

    @property
    def value(self) -> float:
        return float(self.text)

    @property
    def half_unit(self) -> float:
        """Half a unit in the last printed digit: 0.5 * 10**exponent of that digit."""
        return float(Decimal(5).scaleb(Decimal(self.text).as_tuple().exponent - 1))

    @property
    def significant_digits(self) -> int:
        """The digits printed from the first non-zero one (all of them for a zero)."""
        digits = Decimal(self.text).as_tuple().digits
        stripped = len(digits) - next((i for i, d in enumerate(digits) if d), len(digits))
        return max(stripped, 1)

    def tolerance(self, ours: float) -> float:
        """half_unit + FLOAT64_SLACK * max(|ours|, |published|): the rule of the module docstring."""
        return self.half_unit + FLOAT64_SLACK * max(abs(ours), abs(self.value))

    def matches(self, ours: float) -> bool:
        return math.isfinite(ours) and abs(ours - self.value) <= self.tolerance(ours)


@dataclass(frozen=True)
class FigureComparison:
    """One published figure against each route's value.

    Args:
        figure: the published figure.
        routes: (route title, value) per independent route; all must agree.
        hint: a sentence when the figure matches a neighbouring value (train: another update
            count), else None.
        also: (title, value) shown but not deciding (e.g. finite differences, which are accurate
            to about 1e-7 only).
    """

    figure: PublishedFigure
    routes: tuple[tuple[str, float], ...]
    hint: str | None = None
    also: tuple[tuple[str, float], ...] = ()

    @property
    def ok(self) -> bool:
        return all(self.figure.matches(value) for _, value in self.routes)

    @property
    def largest_difference(self) -> float:
        return max(abs(value - self.figure.value) for _, value in self.routes)

    def to_json(self) -> dict:
        return {"name": self.figure.name, "published": self.figure.text,
                "published_value": self.figure.value,
                "significant_digits": self.figure.significant_digits,
                "tolerance": self.figure.tolerance(max((abs(v) for _, v in self.routes), default=0.0)),
                "ours": {title: value for title, value in self.routes},
                "also": {title: value for title, value in self.also},
                "agree": self.ok, "largest_difference": self.largest_difference, "hint": self.hint}


@dataclass(frozen=True)
class FigureReport:
    """Every --expect figure of one run."""

    comparisons: tuple[FigureComparison, ...]

    @property
    def ok(self) -> bool:
        return all(comparison.ok for comparison in self.comparisons)

    @property
    def first_failure(self) -> FigureComparison | None:
        return next((c for c in self.comparisons if not c.ok), None)

    def text(self) -> str:
        """The section the commands print after their own report."""
        lines = ["published figures (agree: |ours - published| <= half a unit in the figure's last "
                 f"digit + {FLOAT64_SLACK:g} relative, for every route)"]
        for c in self.comparisons:
            ours = ", ".join(f"{title} {value!r}" for title, value in c.routes)
            also = "".join(f"; {title} {value!r} (not deciding)" for title, value in c.also)
            verdict = "agree" if c.ok else \
                f"DISAGREE (off by {c.largest_difference:.3g}, allowed {c.figure.tolerance(c.routes[0][1]):.3g})"
            digits = c.figure.significant_digits
            lines.append(f"  {c.figure.name} = {c.figure.text} ({digits} significant "
                         f"digit{'' if digits == 1 else 's'}): ours {ours}{also}: {verdict}")
            if c.hint:
                lines.append(f"    {c.hint}")
        failed = sum(not c.ok for c in self.comparisons)
        lines.append(f"published figures: all {len(self.comparisons)} agree" if not failed else
                     f"published figures: {failed} of {len(self.comparisons)} DISAGREE")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        return {"agree": self.ok, "slack_relative": FLOAT64_SLACK,
                "figures": [c.to_json() for c in self.comparisons]}


def parse_expectations(options: Iterable[str], file_values: Mapping[str, object] | None = None,
                       ) -> tuple[PublishedFigure, ...]:
    """The figures of every --expect "NAME=VALUE[,NAME=VALUE...]" and of an --expect-file object.

    A name given twice is refused. Values in the file may be JSON numbers (read as their text,
    see read_expect_file) or strings.

    >>> [f.text for f in parse_expectations(["J@0=0.298371109,W1[0,1]=0.25"])]
    ['0.298371109', '0.25']

    Raises:
        FigureError: a pair without "=", an empty name, a value that is no decimal number, a
            name given twice.
    """
    pairs: list[tuple[str, str]] = []
    for option in options:
        for part in _PAIR_SPLIT.split(option):
            name, sep, value = part.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise FigureError(f"--expect expects NAME=VALUE (pairs may be joined by commas), "
                                  f"e.g. J@1=0.291027924; got {part.strip()!r}")
            pairs.append((name.strip(), value.strip()))
    for name, value in (file_values or {}).items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FigureError(f"--expect-file: the value of {name!r} must be a number or a string "
                              "holding one")
        pairs.append((str(name).strip(), str(value)))
    figures: dict[str, PublishedFigure] = {}
    for name, value in pairs:
        if name in figures:
            raise FigureError(f"--expect gives {name} twice")
        figures[name] = PublishedFigure.parse(name, value)
    return tuple(figures.values())


def read_expect_file(path: str) -> dict[str, str]:
    """The object of an --expect-file, every number kept as the text it was written with.

    The file is read by checks/inputs/param_files.py's reader (the same size, depth and duplicate-name
    limits); numbers stay text so their printed digits set the tolerance ({"J@1": 0.2910} claims
    four significant digits, which a float would forget).

    Raises:
        ParameterFileError: the file cannot be read or is not one JSON object (a ValueError).
    """
    from checks.inputs.param_files import load_json_object

    return load_json_object(path, "expect file", number_text=True)


_ENTRY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]")


def parse_entry(text: str, shapes: Mapping[str, tuple[int, ...]]) -> tuple[str, tuple[int, int]] | None:
    """"W1[0,1]" as ("W1", (0, 1)) when W1 is in shapes and the index fits it; None otherwise.

    A 1-index form "b1[2]" is accepted for a parameter with one row or one column.

    >>> parse_entry("W1[1, 0]", {"W1": (2, 3)})
    ('W1', (1, 0))
    """
    match = _ENTRY.fullmatch(text.strip())
    if not match or match.group(1) not in shapes:
        return None
    name, shape = match.group(1), shapes[match.group(1)]
    if match.group(3) is None:
        if 1 not in shape:
            return None
        k = int(match.group(2))
        index = (0, k) if shape[0] == 1 else (k, 0)
    else:
        index = (int(match.group(2)), int(match.group(3)))
    if not all(0 <= i < n for i, n in zip(index, shape)):
        return None
    return name, index


def unknown_name(name: str, accepted: str) -> FigureError:
    """The one-line error for a name the command does not compute, listing what it accepts."""
    return FigureError(f"--expect {name}: not a figure this command computes; accepted names: {accepted}")


def compare_figures(figures: Iterable[PublishedFigure],
                    resolve: Callable[[PublishedFigure], FigureComparison]) -> FigureReport:
    """Each figure's comparison, made by the command's resolve (which raises FigureError for an unknown name)."""
    return FigureReport(tuple(resolve(figure) for figure in figures))


def neighbour_hint(figure: PublishedFigure, neighbours: Mapping[str, float]) -> str | None:
    """A sentence naming the first neighbouring value (by description) the figure matches, if any.

    >>> neighbour_hint(PublishedFigure("J@10000", "0.0000351085"), {"the value after 9,999 updates": 3.5108548e-05})
    'matches the value after 9,999 updates (3.5108548e-05)'
    """
    for description, value in neighbours.items():
        if figure.matches(value):
            return f"matches {description} ({value!r})"
    return None


def entry_names(shapes: Mapping[str, tuple[int, ...]], prefix: str = "") -> str:
    """"dJ/dW1[i,j] (W1 is 2x2), dJ/db1[i,j] (1x2)": the entry names a net accepts, for messages."""
    parts = [f"{prefix}{name}[i,j] ({'x'.join(map(str, shape))})" for name, shape in shapes.items()]
    return ", ".join(parts)
