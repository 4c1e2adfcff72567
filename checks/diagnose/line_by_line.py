"""Line by line: a person's intermediates (z2, a2, delta3, delta2, ...) against the derived program's,
in the order of the forward then the backward pass, the first wrong one named from the catalogue."""

# A backward pass goes wrong at one line, and every later quantity inherits the error; so the first
# intermediate that disagrees is where the mistake is, and the catalogue is searched only among the
# mistakes that edit that one formula (checks/diagnose/mistakes.py `explain(within=...)`).
#
# People write intermediates in their own layout, and three layouts are read as the same quantity:
#   - the transpose (Ng's ex4 computes z2 = a1 @ Theta1.T with one example per row, while the
#     column form's z2 has one example per column); only when the shape tells them apart;
#   - an activation with the bias unit's ones prepended (Ng's a2 = [ones, sigmoid(z2)]): the ones
#     are compared too;
#   - a delta per example, m times the derived dJ/dz of a mean (Ng's d3 = h - y, divided by m only
#     in the gradient; cs231n divides dscores by N first, which is the derived delta itself).

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from checks.diagnose import mistakes
from checks.diagnose.contract import ContractError
from checks.diagnose.formula_program import FormulaSet
from derive.network.spec import NetworkSpec


@dataclass(frozen=True)
class IntermediateVerdict:
    """One intermediate over every point: whether it agrees, how it was read, and its worst entry."""

    name: str
    agree: bool
    layout: str  # "" or how the user's array was read: "transposed", "per example (m x dJ/dz)", ...
    point: str
    relative_error: float

    def line(self) -> str:
        read = f" (read {self.layout})" if self.layout else ""
        if self.agree:
            return f"  {self.name}: ok{read}"
        return f"  {self.name}: WRONG{read}, worst at {self.point}: relative error {self.relative_error:.3g}"


@dataclass(frozen=True)
class LineByLine:
    """Every exposed intermediate in program order, and the first wrong one with its explanations."""

    verdicts: tuple[IntermediateVerdict, ...]
    explanations: tuple[mistakes.Explanation, ...] = ()
    note: str = ""  # why no mistake was named
    layout: str = ""  # how the first wrong one was read when a mistake reproduces it

    @property
    def first_wrong(self) -> IntermediateVerdict | None:
        return next((v for v in self.verdicts if not v.agree), None)

    def lines(self) -> list[str]:
        lines = ["line by line (the forward pass, then the backward pass):"]
        lines += [v.line() for v in self.verdicts]
        wrong = self.first_wrong
        if wrong is None:
            return lines
        lines.append(f"first wrong: {wrong.name} (every intermediate before it agrees, so the mistake is in "
                     f"the line computing {wrong.name})")
        if self.explanations:
            read = f" (its values read {self.layout})" if self.layout else ""
            lines.append(f"  reproduced (to {mistakes.MATCH_TOLERANCE:g}) by this mistake in its formula{read}:"
                         if len(self.explanations) == 1 else
                         f"  reproduced (to {mistakes.MATCH_TOLERANCE:g}) by each of these mistakes in its formula{read}:")
            lines += [f"  - {explanation}" for explanation in self.explanations]
        else:
            lines.append(f"  {self.note or 'no catalogue mistake in the formula of ' + wrong.name + ' reproduces it'}")
        return lines


def exposed_names(formulas: FormulaSet) -> tuple[str, ...]:
    """The names a function may expose, in program order: z2, a2, ..., then delta(L), ..., delta2."""
    return formulas.named("forward") + formulas.named("delta")


def check_names(formulas: FormulaSet, shown: Mapping[str, np.ndarray], name: str) -> None:
    """Raises ContractError for an exposed name the derived program does not have."""
    accepted = exposed_names(formulas)
    unknown = [key for key in shown if key not in accepted]
    if unknown:
        raise ContractError(f"{name} exposed {', '.join(unknown)}, which the derived program does not have; "
                            f"accepted: {', '.join(accepted)} (map your names with --intermediates d3=delta3)")


def _layouts(spec: NetworkSpec, name: str, derived: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """How the derived value may be written: (layout, value in that layout), the plain one first."""
    bases = [("", derived)]
    if name.startswith("a") and spec.bias == "unit" and name != f"a{len(spec.sizes)}":
        axis = 0 if spec.convention == "column" else 1
        ones = np.ones((1, derived.shape[1])) if axis == 0 else np.ones((derived.shape[0], 1))
        bases.append(("with the bias unit's ones", np.concatenate([ones, derived], axis=axis)))
    if name.startswith("delta") and spec.reduction == "mean" and spec.m > 1:
        bases.append(("per example (m x dJ/dz)", spec.m * derived))
    layouts = []
    for layout, value in bases:
        layouts.append((layout, value))
        if value.shape != value.T.shape:
            layouts.append(((layout + ", " if layout else "") + "transposed", value.T))
    return layouts


def _read(spec, name, seen: np.ndarray, derived: np.ndarray, tolerance: float):
    """(layout, the user's array in the derived layout) for the first layout of its shape that agrees;
    the first of its shape when none does; None when no layout has its shape."""
    seen = _as_2d(seen, derived)
    fitting = [(layout, value) for layout, value in _layouts(spec, name, derived) if value.shape == seen.shape]
    if not fitting:
        return None
    for layout, value in fitting:
        if mistakes.agree(seen, value, tolerance):
            return layout, True
    return fitting[0][0], False


def _as_2d(seen, derived: np.ndarray) -> np.ndarray:
    """The user's array; a 1-D vector (one example, or a 1-D bias-like row) in the derived shape."""
    seen = np.asarray(seen, dtype=np.float64)
    if seen.ndim == 1 and seen.size == derived.size and 1 in derived.shape:
        return seen.reshape(derived.shape)
    return seen


def _to_derived(spec, name, layout: str, seen: np.ndarray, derived: np.ndarray) -> np.ndarray:
    """The user's array undone from its layout, to be compared with edited derived programs."""
    value = _as_2d(seen, derived)
    if "transposed" in layout:
        value = value.T
    if "bias unit" in layout:
        value = value[1:, :] if spec.convention == "column" else value[:, 1:]
    if "per example" in layout:
        value = value / spec.m
    return value


def compare(spec: NetworkSpec, formulas: FormulaSet, labels: Sequence[str], shown: Sequence[Mapping[str, np.ndarray]],
            envs: Sequence[dict], tolerance: float, name: str) -> tuple[IntermediateVerdict, ...]:
    """Each exposed intermediate against the derived program's value at every point, in program order.

    Raises:
        ContractError: an intermediate whose shape fits none of its layouts.
    """
    verdicts = []
    for quantity in exposed_names(formulas):
        if quantity not in shown[0]:
            continue
        layout, agree, worst = None, True, (0.0, labels[0])
        for label, values, env in zip(labels, shown, envs):
            derived = np.asarray(env[quantity], dtype=np.float64)
            read = _read(spec, quantity, values[quantity], derived, tolerance)
            if read is None:
                raise ContractError(f"{name}: intermediate {quantity} has shape {np.shape(values[quantity])}; "
                                    f"the derived {quantity} is {derived.shape[0]} x {derived.shape[1]} in "
                                    f"{spec.convention} form")
            if layout is None or (agree and not read[1]):
                layout = read[0]
            if not read[1]:
                agree = False
                error = _relative_error(_to_derived(spec, quantity, read[0], values[quantity], derived), derived)
                worst = max(worst, (error, label))
        verdicts.append(IntermediateVerdict(quantity, agree, layout, worst[1], worst[0]))
    return tuple(verdicts)


def _relative_error(seen: np.ndarray, derived: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(derived))) if derived.size else 0.0, 1e-300)
    with np.errstate(invalid="ignore"):
        error = float(np.max(np.abs(seen - derived))) / scale
    return error if np.isfinite(error) else float("inf")


def line_by_line(spec: NetworkSpec, formulas: FormulaSet, labels: Sequence[str],
                 shown: Sequence[Mapping[str, np.ndarray]], envs: Sequence[dict], tolerance: float, name: str,
                 search: bool = True, note: str = "") -> LineByLine:
    """The comparison, and the catalogue mistakes in the first wrong intermediate's own formula that
    reproduce it (searched from the correct values of everything before it).

    Args:
        envs: the derived program's full values at each point (formula_program.run).
        search: False to leave the catalogue out (too large a net), `note` saying why.
    """
    verdicts = compare(spec, formulas, labels, shown, envs, tolerance, name)
    wrong = next((v for v in verdicts if not v.agree), None)
    if wrong is None:
        return LineByLine(verdicts)
    if not search:
        return LineByLine(verdicts, (), note)
    starts = [{key: value for key, value in env.items() if key not in formulas.names} for env in envs]
    derived = np.asarray(envs[0][wrong.name], dtype=np.float64)
    shape = _as_2d(shown[0][wrong.name], derived).shape
    for layout, value in _layouts(spec, wrong.name, derived):
        if value.shape != shape:
            continue
        observed = [{wrong.name: _to_derived(spec, wrong.name, layout, values[wrong.name], env[wrong.name])}
                    for values, env in zip(shown, envs)]
        found = mistakes.explain(spec, starts, observed, [wrong.name], within=frozenset({wrong.name}))
        if found.explanations:
            return LineByLine(verdicts, found.explanations, layout=layout)
    return LineByLine(verdicts)

