"""Which order an unrolled function reads nn_params in: when it disagrees in the order given, the other
order tried at the same points, and named when every output then agrees."""

# MATLAB's Theta1(:) and np.reshape(..., order="F") read column by column; NumPy's ravel() and
# np.reshape's default read row by row. A port that mixes them computes a consistent cost and
# gradient, of the weights scrambled: no catalogue mistake reproduces that, but the other order does.

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Mapping, Sequence

import numpy as np

from checks.diagnose import mistakes
from checks.diagnose.calling import Point, call
from checks.diagnose.contract import CallingForm, Contract, ContractError

OTHER = {"F": "C", "C": "F"}
READS = {"F": "column by column: MATLAB's Theta1(:), np.reshape(..., order='F')",
         "C": "row by row: NumPy's ravel() and np.reshape's default order"}


def other_order_note(fn: Callable, terms: Contract, points: Sequence[Point],
                     derived: Sequence[Mapping[str, np.ndarray]], name: str, timeout: float | None,
                     tolerance: float, form: CallingForm) -> str:
    """The note that fn agrees with every derived output when nn_params is unrolled in the other
    order, or "" when it does not (or is not called unrolled, or fails to run that way)."""
    if terms.unrolled is None:
        return ""
    given, other = terms.unrolled.order, OTHER[terms.unrolled.order]
    swapped = replace(terms, unrolled=replace(terms.unrolled, order=other))
    for point, expected in zip(points, derived):
        try:
            values = call(fn, swapped, point, name, timeout, form)
        except ContractError:
            return ""
        if not all(mistakes.agree(values[o], expected[o], tolerance) for o in terms.outputs):
            return ""
    return (f"every output agrees when nn_params is unrolled in {other} order ({READS[other]}) instead of "
            f"{given} ({READS[given]}): the function reads and unrolls the weights in {other} order; check it "
            f"with --unrolled {other} if that is meant, or reshape and unroll with order='{given}'")
