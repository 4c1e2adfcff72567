"""What can be wrong with a recurrent layer's input, as ValueError subclasses (one line, exit 2)."""

from __future__ import annotations


class RecurrenceInputError(ValueError):
    """Bad input to an RNN or LSTM derivation, proof, check or verification."""


class StepsError(RecurrenceInputError):
    """A sequence of fewer than one step."""

    def __init__(self, steps):
        super().__init__(f"--steps must be at least 1 (a sequence has T >= 1 steps), got T = {steps}")


class TruncationError(RecurrenceInputError):
    """Truncated backprop through time over more steps than the sequence has."""

    def __init__(self, truncate, steps):
        super().__init__(f"--truncate {truncate} is longer than the sequence (T = {steps}): "
                         f"truncation keeps k <= T steps of the recursion, 1 <= k <= {steps}")


class WidthError(RecurrenceInputError):
    """An h_0 or an x_t whose width is not the layer's."""

    def __init__(self, name, got, expected, what):
        super().__init__(f"{name} has width {got}, but the layer's {what} is {expected}")


def check_steps(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise StepsError(steps)
    return steps


def check_truncation(truncate, steps: int):
    """None (full backprop through time) or 1 <= k <= T."""
    if truncate is None:
        return None
    if truncate < 1:
        raise RecurrenceInputError(f"--truncate must be at least 1 step, got {truncate}")
    if truncate > steps:
        raise TruncationError(truncate, steps)
    return truncate
