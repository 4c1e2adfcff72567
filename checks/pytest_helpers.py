"""Assertions for a user's own test suite: gradients against the derivation, and formula snapshots."""

# In a project's tests:
#
#     from checks.pytest_helpers import assert_formula_snapshot, assert_gradients_match
#     from derive.network.spec import parse_spec
#
#     def test_my_backprop_matches_the_derivation():
#         assert_gradients_match(my_backprop, parse_spec("2-3-1"))
#
#     def test_the_derived_formulas_have_not_changed():
#         assert_formula_snapshot(parse_spec("2-3-1"), "tests/snapshots/xor.txt")
#
# A snapshot file is written the first time (and the test fails, saying so); later runs compare
# with it and fail with a unified diff. Refresh snapshots on purpose with
#     BACKPROP_UPDATE_SNAPSHOTS=1 python -m pytest

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from checks.diagnose.formula_program import cached_derivation, formula_text
from checks.diagnose.contract import (DEFAULT_POINTS, DEFAULT_TIMEOUT, PLAIN, VERDICT_TOLERANCE, CallingForm, as_spec)
from checks.diagnose.calling import Point
from checks.diagnose.user_function import verify_function
from derive.network.spec import NetworkSpec

UPDATE_VARIABLE = "BACKPROP_UPDATE_SNAPSHOTS"


def assert_gradients_match(fn: Callable, spec: NetworkSpec | str, returns: str | Sequence[str] = "gradients",
                           points: int = DEFAULT_POINTS, seed: int = 0, data: Sequence[Point] = (),
                           tolerance: float = VERDICT_TOLERANCE, timeout: float | None = DEFAULT_TIMEOUT,
                           l2_convention: str | None = None, form: CallingForm = PLAIN) -> None:
    """Asserts that fn's gradients (or deltas, or cost) equal the derived ones at every point.

    fn follows checks.diagnose.user_function's contract: fn(X, y, W1, [b1,] W2, ...) -> (dJ/dW1, ...).
    spec is a NetworkSpec or a spec string such as "2-3-1" (sigmoid throughout; parse_spec builds
    others); timeout limits each call of fn, in seconds (see checks.diagnose.user_function.DEFAULT_TIMEOUT).
    data is a sequence of checks.diagnose.user_function.Point(label, X, Y, params) to evaluate at;
    l2_convention names the L2 penalty fn writes ("cs231n", "welch", "ng", ...; see
    checks/diagnose/l2_conventions.py); form says how fn takes its data (CallingForm: labels, per_example,
    names).

    Raises:
        AssertionError: naming the first wrong output, its worst entry, the function's and the
            derived value, and the diagnosis (the catalogue mistakes that reproduce the numbers).
        checks.diagnose.user_function.ContractError: fn does not fit the contract, raised, or ran too long.
        ValueError: a spec that is neither a NetworkSpec nor a spec string, a bad tolerance.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this helper's
    verdict = verify_function(fn, as_spec(spec), returns, points=points, seed=seed, data=data,
                              tolerance=tolerance, timeout=timeout, l2_convention=l2_convention, form=form)
    if verdict.passed:
        return
    first = verdict.failures[0]
    where = f"entry {list(first.entry)}" if first.entry else "its value"
    others = [o.output for o in verdict.failures[1:]]
    message = [
        f"{verdict.name}: {_output_label(first.output)} disagrees with the derivation at {where} "
        f"({first.point}): function {first.function_value!r}, derived {first.derived_value!r} "
        f"(absolute error {first.absolute_error:.3g}, relative error {first.relative_error:.3g})"
        + (f"; also wrong: {', '.join(_output_label(o) for o in others)}" if others else ""),
        "diagnosis: " + verdict.diagnosis(),
    ]
    raise AssertionError("\n".join(message))


def _output_label(output: str) -> str:
    return output if output.startswith(("delta", "cost")) else f"dJ/d{output}"


def formula_snapshot(spec: NetworkSpec) -> str:
    """The derived formulas of `spec` as NumPy-like text, one per line, output layer first."""
    derivation = cached_derivation(spec)
    lines = [f"# derived formulas of {spec.slug}: activations {', '.join(spec.activations)}; cost {spec.cost} "
             f"({spec.reduction}); bias {spec.bias}; {spec.convention} form; m = {spec.m}"
             + (f"; l2 = {spec.l2:g}" if spec.l2 else "")]
    lines += [f"{name} = {formula_text(formula)}" for name, formula in derivation.deltas()]
    lines += [f"dJ/d{name} = {formula_text(formula)}" for name, formula in derivation.gradients]
    return "\n".join(lines) + "\n"


def assert_formula_snapshot(spec: NetworkSpec, path: str | os.PathLike, update: bool | None = None) -> None:
    """Asserts that the derived formulas of `spec` equal the golden file at `path`.

    A missing file is written and the assertion fails, so that a new snapshot is read once before
    it is trusted. update=True (or the environment variable BACKPROP_UPDATE_SNAPSHOTS=1) rewrites
    the file instead of comparing.

    Raises:
        AssertionError: the formulas differ from the file (with a unified diff), or the file was
            just written.
    """
    __tracebackhide__ = True
    path = Path(path)
    current = formula_snapshot(spec)
    if update is None:
        update = os.environ.get(UPDATE_VARIABLE, "") not in ("", "0")
    if update or not path.exists():
        _write_atomically(path, current)
        if not update:
            raise AssertionError(f"snapshot {path} did not exist and has been written; read it, then run the "
                                 f"test again")
        return
    recorded = path.read_text(encoding="utf-8")
    if recorded == current:
        return
    diff = "".join(difflib.unified_diff(recorded.splitlines(keepends=True), current.splitlines(keepends=True),
                                        fromfile=f"{path} (recorded)", tofile="derived now"))
    raise AssertionError(f"the derived formulas of {spec.slug} differ from the snapshot {path}:\n{diff}"
                         f"(refresh on purpose with {UPDATE_VARIABLE}=1)")


def _write_atomically(path: Path, text: str) -> None:
    """Writes to a temporary file beside `path`, then renames: a crash leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
