"""The L2 penalties people write, by name, and which one a function's numbers follow."""

# The spec's penalty is (lambda/2) sum W^2 over the non-bias weights, divided by m when the cost is
# a mean (Ng's lambda/(2m)). Published code writes others: cs231n `reg * np.sum(W * W)` (gradient
# 2 reg W), Welch Labs `(Lambda/2) sum W^2` next to a data term divided by m. Each is k sum W^2
# with k = lambda * (1/2 or 1) * (1/m or 1), biases in or out; its gradient is 2 k W. A convention
# is checked by turning it into the spec's own lambda (the same k on the weights), and by adding
# 2 k b to the bias gradients when it penalizes the biases, which the derivation leaves out.
#
# Which convention a function follows is read off its numbers without any derivation: the data
# part of each gradient is the derived gradient less the spec's 2 k W, so what the function adds
# on top, r = observed - data part, must be alpha * W (and beta * b); alpha = 2 k names the k.

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from checks.handwritten.network import Backprop, regularized_weights


@dataclass(frozen=True)
class L2Convention:
    """k sum W^2 with k = lambda * (1/2 if halved) * (1/m if per_example), biases in or out."""

    name: str
    halved: bool
    per_example: bool
    biases: bool = False

    def coefficient(self, l2: float, m: int) -> float:
        """k of k sum W^2."""
        return l2 * (0.5 if self.halved else 1.0) / (m if self.per_example else 1)

    @property
    def formula(self) -> str:
        """ "lambda/(2m) sum W^2", "lambda sum W^2 (biases too)" """
        k = {(True, True): "lambda/(2m)", (True, False): "(lambda/2)", (False, True): "(lambda/m)",
             (False, False): "lambda"}[(self.halved, self.per_example)]
        return f"{k} sum W^2" + (" (biases too)" if self.biases else "")

    @property
    def gradient(self) -> str:
        """ "(lambda/m) W", "2 lambda W" """
        return {(True, True): "(lambda/m) W", (True, False): "lambda W", (False, True): "(2 lambda/m) W",
                (False, False): "2 lambda W"}[(self.halved, self.per_example)]


# The named conventions: (name, halved, divided by m, who writes it). "+biases" after any name
# penalizes the biases too.
CONVENTIONS: tuple[tuple[str, bool, bool, str], ...] = (
    ("half-mean", True, True, "Ng's ex4 and Nielsen ch. 3: lambda/(2m) sum W^2"),
    ("half", True, False, "Welch Labs part 7: (Lambda/2) sum W^2, the data term alone divided by m"),
    ("full", False, False, "cs231n: reg * np.sum(W * W), gradient 2 reg W"),
    ("full-mean", False, True, "(lambda/m) sum W^2"),
)
ALIASES = {"ng": "half-mean", "nielsen": "half-mean", "welch": "half", "cs231n": "full"}
BIASES_SUFFIX = "+biases"

# alpha fitted from float64 numbers reproduces a convention's 2 k to about the user's rounding
# (a few ulps times the summed terms); 1e-6 relative leaves room for float32 code too, and named
# conventions differ by factors of 2 and m.
COEFFICIENT_MATCH = 1e-6
# The residual must be alpha * W to this fraction of the output's scale, or it is not a penalty.
RESIDUAL_MATCH = 1e-6


class UnknownConvention(ValueError):
    """An L2 convention name outside CONVENTIONS and ALIASES."""


def accepted_names() -> str:
    names = [name for name, *_ in CONVENTIONS] + sorted(ALIASES)
    return ", ".join(names) + f", each optionally followed by {BIASES_SUFFIX}"


def l2_convention(name: str) -> L2Convention:
    """The convention for a name such as "cs231n", "half-mean" or "welch+biases".

    Raises:
        UnknownConvention: not a name in CONVENTIONS or ALIASES (with or without +biases).

    >>> l2_convention("cs231n").formula
    'lambda sum W^2'
    """
    text = str(name).strip().lower()
    biases = text.endswith(BIASES_SUFFIX)
    base = ALIASES.get(text[: -len(BIASES_SUFFIX)] if biases else text,
                       text[: -len(BIASES_SUFFIX)] if biases else text)
    for known, halved, per_example, _ in CONVENTIONS:
        if known == base:
            return L2Convention(text, halved, per_example, biases)
    raise UnknownConvention(f"unknown L2 convention {name!r}; accepted: {accepted_names()}")


def spec_convention(spec) -> L2Convention:
    """The spec's own penalty: (lambda/2) sum W^2, divided by m when the cost is a mean."""
    return L2Convention("the spec's", True, spec.reduction == "mean")


def spec_l2_for(convention: L2Convention, l2: float, spec) -> float:
    """The spec's lambda giving the convention's k on the weights: 2 k, times m for a mean."""
    k = convention.coefficient(l2, spec.m)
    return 2 * k * (spec.m if spec.reduction == "mean" else 1)


def _bias_parts(spec, name: str, value: np.ndarray) -> np.ndarray:
    """The bias entries of a parameter: all of b(l), the bias-unit row (row form) or column of W."""
    if name.startswith("b"):
        return value
    return value - regularized_weights(spec, value)


def with_bias_penalty(spec, result: Backprop, params: Mapping[str, np.ndarray], k: float) -> Backprop:
    """The derived result plus k sum b^2 on the biases (the derivation leaves them out)."""
    gradients, extra = dict(result.gradients), 0.0
    for name, value in params.items():
        bias = _bias_parts(spec, name, value)
        gradients[name] = gradients[name] + 2 * k * bias
        extra += k * float(np.sum(bias ** 2))
    return replace(result, gradients=gradients, cost=result.cost + extra)


@dataclass(frozen=True)
class PenaltyReading:
    """What one output's numbers say about its L2 term, at every point."""

    output: str  # "W1", "b1", "cost"
    weights: float  # alpha on the weights (gradients) or k (the cost)
    biases: float  # beta on the biases; k on sum b^2 for the cost


def _fit(residual: np.ndarray, direction: np.ndarray) -> float:
    norm = float(np.sum(direction * direction))
    return float(np.sum(residual * direction)) / norm if norm else 0.0


def read_penalty(spec, used_k: float, used_biases: bool, output: str, params: Sequence[Mapping],
                 observed: Sequence[np.ndarray], derived: Sequence[np.ndarray]) -> PenaltyReading | None:
    """alpha and beta with observed = data part + alpha W + beta b at every point, or None.

    Args:
        spec: the network checked (its lambda already the convention's).
        used_k: the k of the penalty the derived values carry.
        used_biases: whether the derived values penalize the biases.
        output: "W1", "b2" or "cost".
        params, observed, derived: per point.
    """
    alphas, betas = [], []
    for point, seen, expected in zip(params, observed, derived):
        seen, expected = np.asarray(seen, dtype=np.float64), np.asarray(expected, dtype=np.float64)
        if output == "cost":
            weights = sum(float(np.sum(regularized_weights(spec, v) ** 2)) for n, v in point.items() if n[0] == "W")
            biases = sum(float(np.sum(_bias_parts(spec, n, v) ** 2)) for n, v in point.items())
            data = float(expected) - used_k * (weights + (biases if used_biases else 0.0))
            alphas.append((float(seen) - data, weights, biases))
            continue
        value = point[output]
        weights = np.zeros_like(value) if output[0] == "b" else regularized_weights(spec, value)
        biases = _bias_parts(spec, output, value)
        data = expected - 2 * used_k * weights - (2 * used_k * biases if used_biases else 0.0)
        residual = seen - data
        alpha, beta = _fit(residual, weights), _fit(residual, biases)
        scale = max(float(np.max(np.abs(seen))) if seen.size else 0.0, 1e-300)
        if float(np.max(np.abs(residual - alpha * weights - beta * biases))) > RESIDUAL_MATCH * scale:
            return None
        alphas.append(alpha)
        betas.append(beta)
    if output == "cost":
        return _read_cost(alphas)
    # a coefficient that is zero comes out as rounding noise (1e-19): the floor is the penalty's own size
    floor = COEFFICIENT_MATCH * 2 * used_k
    alphas = [0.0 if abs(a) <= floor else a for a in alphas]
    betas = [0.0 if abs(b) <= floor else b for b in betas]
    if not _constant(alphas) or not _constant(betas):
        return None
    return PenaltyReading(output, alphas[0], betas[0])


def _constant(values: Sequence[float]) -> bool:
    return all(abs(v - values[0]) <= COEFFICIENT_MATCH * max(abs(values[0]), 1e-300) for v in values)


def _read_cost(rows: Sequence[tuple[float, float, float]]) -> PenaltyReading | None:
    """k_w, k_b with residual = k_w sum W^2 + k_b sum b^2 at every point (least squares, then checked)."""
    A = np.array([[w, b] for _, w, b in rows])
    r = np.array([res for res, _, _ in rows])
    if not np.any(A[:, 1]):
        A = A[:, :1]
    solution, *_ = np.linalg.lstsq(A, r, rcond=None)
    scale = max(float(np.max(np.abs(r))), 1e-300)
    if len(rows) < 2 or float(np.max(np.abs(A @ solution - r))) > RESIDUAL_MATCH * max(scale, 1e-12):
        return None
    return PenaltyReading("cost", float(solution[0]), float(solution[1]) if len(solution) > 1 else 0.0)


def named_coefficient(k: float, l2: float, m: int) -> str | None:
    """The convention name whose k (on sum W^2) this is, "none" for 0, else None."""
    if abs(k) <= COEFFICIENT_MATCH * max(l2, 1e-300) * 1e-3:
        return "none"
    for name, halved, per_example, _ in CONVENTIONS:
        expected = L2Convention(name, halved, per_example).coefficient(l2, m)
        if expected and abs(k - expected) <= COEFFICIENT_MATCH * expected:
            return name
    return None


def who_writes(name: str) -> str:
    return next(source for known, _, _, source in CONVENTIONS if known == name)


@dataclass(frozen=True)
class PenaltyFinding:
    """One thing the L2 readings show: a catalogue-style key, its title, and where and how."""

    key: str  # "l2_convention", "l2_missing", "l2_factor_two", "bias_regularized", "bias_not_regularized"
    title: str
    detail: str


TITLES = {"l2_convention": "another L2 convention", "l2_missing": "L2 term left out",
          "l2_factor_two": "the factor 2 of the square left out",
          "bias_regularized": "bias weights regularized", "bias_not_regularized": "biases not regularized",
          "l2_unnamed": "an L2 term of no named convention"}


def describe_penalties(l2: float, m: int, used: L2Convention, readings: Mapping[str, PenaltyReading],
                       failing: Sequence[str], unit_bias: str | None = None,
                       cost_agrees: bool = False) -> tuple[list[PenaltyFinding], list[str], set[str]]:
    """What the readings say: findings, summary lines, and the failing outputs they explain.

    A failing output is explained when its data part is right and only its L2 term differs.

    Args:
        l2, m: the user's lambda and the batch size.
        used: the convention the derived values follow.
        readings: output -> its reading (outputs whose residual is no penalty are absent).
        failing: the outputs that disagree.
        unit_bias: how the bias entries of W are named with a bias unit ("row 0"), else None.
        cost_agrees: the cost was checked and is right (so its penalty is the convention's).
    """
    k_used = used.coefficient(l2, m)
    findings, explained, names = [], set(), set()
    for output in failing:
        reading = readings.get(output)
        if reading is None:
            continue
        explained.add(output)
        read = _cost_findings if output == "cost" else _parameter_findings
        for key, detail, name in read(output, reading, l2, m, used, k_used, unit_bias):
            names.add(name)
            if key is not None:
                findings.append(PenaltyFinding(key, TITLES[key], detail))
    halved = _halved_penalties(readings, failing, k_used if cost_agrees else None)
    if halved:
        names.add("factor_two")
        findings[:] = [f for f in findings if not (f.key in ("l2_convention", "l2_unnamed")
                                                   and f.detail.startswith(tuple(f"dJ/d{o} " for o in halved)))]
        cost_k = _cost_coefficient(readings, k_used if cost_agrees else None)
        findings.append(PenaltyFinding("l2_factor_two", TITLES["l2_factor_two"],
                                       f"{', '.join(f'dJ/d{o}' for o in halved)} add{'s' if len(halved) == 1 else ''} "
                                       f"k W = {cost_k:.6g} W where the cost's k sum W^2 has the gradient 2 k W "
                                       f"(cs231n's `reg * W` where `2 * reg * W` belongs)"))
    summary = []
    names.discard(_NO_NAME)
    if explained and explained == set(failing) and len(names) == 1 \
            and not names & {None, "none", "bias", "checked", "factor_two"}:
        name = next(iter(names))
        summary.append(f"the only difference is the L2 convention: the code follows {_named(name).formula} "
                       f"({who_writes(name)}); check it with --l2-convention {name} (l2_convention=\"{name}\")")
    return findings, summary, explained


_NO_NAME = "no name"  # a finding that says nothing about which convention the code follows


def _cost_findings(output, reading, l2, m, used, k_used, unit_bias):
    """(key, detail, convention name) for the cost's penalty reading."""
    name = named_coefficient(reading.weights, l2, m)
    if name == "none":
        yield "l2_missing", f"the cost has no L2 term, where {used.formula} belongs", name
    elif name is not None:
        yield "l2_convention", (f"the cost's penalty is {_named(name).formula} ({who_writes(name)}), "
                                f"where {used.formula} was checked; its data term is right"), name
    else:
        yield "l2_unnamed", f"the cost's penalty is {reading.weights:.6g} sum W^2 (lambda = {l2:g}, m = {m})", name
    if abs(reading.biases) > COEFFICIENT_MATCH * max(abs(reading.weights), k_used) and not used.biases:
        yield "bias_regularized", f"the cost adds {reading.biases:.6g} sum b^2", _NO_NAME


def _parameter_findings(output, reading, l2, m, used, k_used, unit_bias):
    """(key, detail, convention name) for one gradient's penalty reading: its weights, then its biases."""
    label = f"dJ/d{output}"
    alpha_used, beta_used = 2 * k_used, (2 * k_used if used.biases else 0.0)
    if output[0] == "W" and not _close(reading.weights, alpha_used):
        name = named_coefficient(reading.weights / 2, l2, m)
        if name == "none":
            yield "l2_missing", (f"{label} has no L2 term, where {used.formula} adds "
                                 f"{used.gradient} = {alpha_used:.6g} {output}"), name
        elif name is not None:
            convention = _named(name)
            yield "l2_convention", (f"{label} adds {convention.gradient} = {reading.weights:.6g} {output}, the "
                                    f"gradient of {convention.formula} ({who_writes(name)}); {used.formula} "
                                    f"gives {used.gradient} = {alpha_used:.6g} {output}"), name
        else:
            yield "l2_unnamed", (f"{label} adds {reading.weights:.6g} {output} (lambda = {l2:g}, m = {m}); "
                                 f"{used.formula} gives {used.gradient} = {alpha_used:.6g} {output}"), name
    elif output[0] == "W":
        yield None, "", used.name if used.name in dict((n, 1) for n, *_ in CONVENTIONS) else "checked"
    if not _close(reading.biases, beta_used):
        where = f"the bias entries of {output} ({unit_bias}, Ng's bias unit)" if output[0] == "W" else output
        if abs(reading.biases) <= COEFFICIENT_MATCH * max(abs(beta_used), 1e-300):
            yield "bias_not_regularized", f"{where} not regularized, where {used.formula} penalizes the biases", "bias"
        else:
            yield "bias_regularized", (f"{where} regularized: its gradient carries {reading.biases:.6g} times "
                                       f"the bias, where {used.formula} leaves the biases out"), "bias"


def _cost_coefficient(readings, k_when_cost_agrees):
    """The k of the cost's k sum W^2: read off the cost, or the checked one when the cost agrees."""
    cost_reading = readings.get("cost")
    return cost_reading.weights if cost_reading is not None else k_when_cost_agrees


def _halved_penalties(readings, failing, k_when_cost_agrees) -> list[str]:
    """The weight gradients that add k W for the cost's k sum W^2, whose gradient is 2 k W."""
    cost_k = _cost_coefficient(readings, k_when_cost_agrees)
    return [o for o in failing if o[0] == "W" and o in readings and cost_k
            and _close(readings[o].weights, cost_k) and not _close(2 * cost_k, readings[o].weights)]


def _named(name: str) -> L2Convention:
    return L2Convention(name, *_flags(name))


def label_of(output: str) -> str:
    return f"dJ/d{output}"


def _flags(name: str) -> tuple[bool, bool]:
    return next((halved, per_example) for known, halved, per_example, _ in CONVENTIONS if known == name)


def _close(value: float, expected: float) -> bool:
    return abs(value - expected) <= COEFFICIENT_MATCH * max(abs(expected), abs(value), 1e-300) or \
        (expected == 0 and abs(value) < 1e-12)
