"""The intermediates a person's backprop function exposes (z2, a2, delta3, delta2, ...): a returned
dict of them, or named locals recorded by the `record` decorator.

    from checks.diagnose.intermediates import record

    @record("z2", "a2", d3="delta3", d2="delta2")   # positional: local name = ours; keyword: local=ours
    def backprop(X, y, W1, W2):
        ...

`backprop verify --intermediates` then compares each with the derived program's value
(checks/diagnose/line_by_line.py)."""

# The decorator reads the function's locals as it returns, through sys.settrace on that one code
# object: nothing in the user's code changes, nothing is evaluated from text, and the function
# returns what it always returned. The tracer that was active before (a debugger, coverage) is
# put back after the call; during the call it is suspended.

from __future__ import annotations

import functools
import re
import sys
from typing import Callable, Mapping

import numpy as np

from checks.diagnose.contract import ContractError

# The names the derived program gives its intermediates (checks/diagnose/formula_program.py).
INTERMEDIATE_NAME = re.compile(r"^(?:z|a|delta)\d+$")
RECORDED = "recorded_intermediates"  # the attribute where `record` keeps the last call's values


def record(*names: str, **renamed: str) -> Callable[[Callable], Callable]:
    """A decorator recording the named locals of each call, as they are when the function returns.

    Args:
        names: local variable names that are also the derived program's names (z2, a2, delta3).
        renamed: local name = the derived program's name (d3="delta3").

    Raises:
        ValueError: a name that is not a derived program's name (z2, a2, delta2, ...).
    """
    wanted = {**{name: name for name in names}, **renamed}
    for local, ours in wanted.items():
        if not INTERMEDIATE_NAME.match(ours):
            raise ValueError(f"record: {local}={ours}: the derived program names its intermediates z2, a2, "
                             f"..., delta2, delta3, ...")

    def decorate(fn: Callable) -> Callable:
        code = fn.__code__

        @functools.wraps(fn)
        def recording(*args, **kwargs):
            captured: dict[str, np.ndarray] = {}

            def on_return(frame, event, arg):
                if event == "return":  # the outermost call returns last, so its values stay
                    captured.update({ours: np.array(frame.f_locals[local], copy=True)
                                     for local, ours in wanted.items() if local in frame.f_locals})
                return on_return

            def on_call(frame, event, arg):
                if event == "call" and frame.f_code is code:
                    frame.f_trace_lines = False  # only the return event is needed
                    return on_return
                return None

            previous = sys.gettrace()
            sys.settrace(on_call)
            try:
                result = fn(*args, **kwargs)
            finally:
                sys.settrace(previous)
            missing = [local for local in wanted if wanted[local] not in captured]
            setattr(recording, RECORDED, captured)
            if missing:
                setattr(recording, RECORDED, ContractError(
                    f"record: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not a local of "
                    f"{fn.__name__} when it returns"))
            return result

        setattr(recording, RECORDED, None)
        return recording

    return decorate


def parse_aliases(text: str | None) -> tuple[tuple[str, str], ...]:
    """("d3", "delta3"), ... from "d3=delta3,d2=delta2" ("" or None: the derived program's names).

    Raises:
        ValueError: a pair that is not USER=OURS with OURS a derived program's name.
    """
    pairs = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        user, _, ours = (piece.strip() for piece in part.partition("="))
        if not re.fullmatch(r"[A-Za-z_]\w*", user) or not INTERMEDIATE_NAME.match(ours):
            raise ValueError(f"--intermediates takes USER=OURS pairs, comma-separated, with OURS one of the "
                             f"derived program's names z2, a2, ..., delta2, delta3, ...; got {part.strip()!r}")
        pairs.append((user, ours))
    return tuple(pairs)


def split_intermediates(result, fn: Callable, aliases: tuple[tuple[str, str], ...], name: str):
    """(what fn returned without its intermediates, {our name: value}).

    The intermediates are those `record` kept for the last call, else a dict returned as the last
    item of a tuple whose keys are all intermediate names (ours, or the user's through aliases).

    Raises:
        ContractError: fn exposes none, or a recorded local was missing.
    """
    recorded = getattr(fn, RECORDED, None)
    if isinstance(recorded, ContractError):
        raise recorded
    if recorded is not None:
        return result, dict(recorded)
    renamed = dict(aliases)
    if isinstance(result, (tuple, list)) and result and isinstance(result[-1], Mapping):
        keys = {str(key): renamed.get(str(key), str(key)) for key in result[-1]}
        if keys and all(INTERMEDIATE_NAME.match(ours) for ours in keys.values()):
            rest = tuple(result[:-1])
            return (rest[0] if len(rest) == 1 else rest), {keys[str(k)]: v for k, v in result[-1].items()}
    raise ContractError(f"--intermediates: {name} neither returned a dict of intermediates as its last value "
                        f"(keys z2, a2, delta3, ... or yours with --intermediates d3=delta3) nor is decorated "
                        f"with checks.diagnose.intermediates.record(...)")
