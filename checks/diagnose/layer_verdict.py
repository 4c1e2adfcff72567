"""What every layer family's `verify --layer` shares: the contract error, the time limit, the closing verdict line."""

from __future__ import annotations

import math


class ContractError(ValueError):
    """A function whose outputs do not fit the layer's contract (or that raised, or ran past its time)."""


def check_timeout(timeout) -> float:
    """--timeout in seconds: a finite number greater than 0."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or timeout <= 0:
        raise ContractError(f"--timeout must be a finite number of seconds greater than 0, got {timeout!r}")
    return float(timeout)


def closing_line(passed: bool, mistakes, agrees_with: str = "the derived gradients") -> str:
    """The last line of a layer verdict: agreement, or the catalogue mistakes that reproduce the numbers."""
    if passed:
        return f"verdict: agrees with {agrees_with} at every point"
    if mistakes:
        return "verdict: DIFFERS; the numbers are reproduced by: " + "; ".join(f"{name} ({what})"
                                                                              for name, what in mistakes)
    return "verdict: DIFFERS; no catalogued mistake reproduces the numbers"
