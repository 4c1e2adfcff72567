"""A person's attention (or residual, or embedding) backward, checked against the derived gradients.

Contracts (NumPy float64 arrays in, arrays out):

    attention, residual:  fn(X, W_q, W_k, W_v, W_o, mask, dout) -> (dX, dW_q, dW_k, dW_v, dW_o)
        one head; X, dout T x m, W_q, W_k, W_v m x d, W_o d x m, mask T x T booleans (True: attend);
        residual: the output is X + (attention of X), otherwise the attention alone
    embedding:            fn(tokens, C, dout) -> dC      tokens T ints, C vocab x m, dout T x m

The function runs at seeded points (causal and full masks, repeated tokens); where it differs from
the derived program, every mistake of derive/attention/mistakes.py is evaluated at the same points
and those that reproduce its numbers are named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.diagnose.layer_verdict import ContractError, closing_line
from checks.diagnose.time_limit import TimeUp, time_limit

DEFAULT_TOLERANCE = 1e-9  # of each output's largest derived entry; rounding is ~1e-15
DEFAULT_TIMEOUT = 30.0
# (T, m, d, causal): T != m != d so that a transpose in the wrong place cannot pass by shape
POINTS = ((5, 4, 3, True), (4, 6, 2, False), (6, 5, 4, True))
EMBEDDING_POINTS = ((7, 5, 3), (6, 4, 2))  # (T, vocabulary, width): more tokens than words, so repeats
ATTENTION_OUTPUTS = ("dX", "dW_q", "dW_k", "dW_v", "dW_o")


@dataclass(frozen=True)
class PointResult:
    description: str
    errors: dict


@dataclass(frozen=True)
class VerifyVerdict:
    name: str
    layer: str
    tolerance: float
    points: tuple[PointResult, ...]
    mistakes: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> bool:
        return all(e <= self.tolerance for p in self.points for e in p.errors.values())

    def text(self) -> str:
        lines = [f"verify {self.name} as the {self.layer} backward", f"tolerance {self.tolerance:g} of each output's "
                 "largest derived entry"]
        for point in self.points:
            wrong = [o for o, e in point.errors.items() if e > self.tolerance]
            lines.append(f"  {point.description}: " + ", ".join(f"{o} {e:.1e}" for o, e in point.errors.items())
                         + (f"  DIFFERS: {', '.join(wrong)}" if wrong else ""))
        lines.append(closing_line(self.passed, self.mistakes))
        return "\n".join(lines)


def _call(fn, arguments, timeout):
    try:
        with time_limit(timeout):
            return fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in arguments])
    except TimeUp:
        raise ContractError(f"the function ran past the time limit of {timeout:g} s (--timeout)") from None
    except SystemExit as error:
        raise ContractError(f"the function called sys.exit({error.code!r})") from None
    except Exception as error:  # the user's code: reported as bad input, not a crash
        raise ContractError(f"the function raised {type(error).__name__}: {error}") from None


def _as_outputs(result, names, shapes) -> dict:
    if len(names) == 1:
        result = (result,)
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise ContractError(f"the function must return {len(names)} array(s) ({', '.join(names)})")
    outputs = {}
    for name, value, shape in zip(names, result, shapes):
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ContractError(f"{name} is not an array of numbers") from None
        if array.shape != shape:
            raise ContractError(f"{name} has shape {array.shape}, expected {shape}")
        outputs[name] = array
    return outputs


def _errors(outputs: dict, expected: dict) -> dict:
    errors = {}
    for name, value in outputs.items():
        scale = max(float(np.max(np.abs(expected[name]))), 1e-300)
        difference = np.abs(value - expected[name])
        errors[name] = float(np.max(difference)) / scale if np.all(np.isfinite(difference)) else float("inf")
    return errors


def _attention_expected(program, X, weights, mask, dout) -> dict:
    from derive.attention.numeric import BlockPoint, evaluate_block

    derived = evaluate_block(program, BlockPoint(X, (weights,), mask, dout))
    return {"dX": derived["dX"], **{f"d{w}": derived[f"d{w}"][0] for w in ("W_q", "W_k", "W_v", "W_o")}}


def verify_function(fn, layer: str = "attention", seed: int = 0, tolerance: float = DEFAULT_TOLERANCE,
                    name: str = "fn", timeout: float | None = DEFAULT_TIMEOUT,
                    points: int | None = None) -> VerifyVerdict:
    """fn at `points` seeded points cycling through the layer's designed shapes (default: each once),
    against the derived program; the matching mistakes named.

    Raises:
        ContractError: fn does not fit the layer's contract at some point.
    """
    from derive.attention import EMBEDDING, ONE_HEAD, RESIDUAL, derive_program
    from derive.attention.mistakes import CATALOGUE
    from derive.attention.numeric import evaluate_embedding, onehot

    program = derive_program({"attention": ONE_HEAD, "residual": RESIDUAL, "embedding": EMBEDDING}[layer])
    calls, results = [], []
    if layer == "embedding":
        for index in range(len(EMBEDDING_POINTS) if points is None else points):
            T, vocab, width = EMBEDDING_POINTS[index % len(EMBEDDING_POINTS)]
            rng = np.random.default_rng(seed + index)
            tokens = rng.integers(0, vocab, T)
            C, dout = rng.standard_normal((vocab, width)), rng.standard_normal((T, width))
            outputs = _as_outputs(_call(fn, (tokens, C, dout), timeout), ("dC",), ((vocab, width),))
            expected = lambda p, tokens=tokens, vocab=vocab, dout=dout: {"dC": evaluate_embedding(  # noqa: E731
                p, onehot(tokens, vocab), dout)}
            calls.append((outputs, expected))
            results.append(PointResult(f"point {index} (T = {T}, vocabulary {vocab}, tokens {list(map(int, tokens))})",
                                       _errors(outputs, expected(program))))
    else:
        for index in range(len(POINTS) if points is None else points):
            T, m, d, causal = POINTS[index % len(POINTS)]
            rng = np.random.default_rng(seed + index)
            X = rng.standard_normal((T, m))
            weights = {w: rng.standard_normal((m, d) if w != "W_o" else (d, m)) for w in ("W_q", "W_k", "W_v", "W_o")}
            mask = np.tril(np.ones((T, T), dtype=bool)) if causal else np.ones((T, T), dtype=bool)
            dout = rng.standard_normal((T, m))
            shapes = ((T, m), (m, d), (m, d), (m, d), (d, m))
            result = _call(fn, (X, weights["W_q"], weights["W_k"], weights["W_v"], weights["W_o"], mask, dout), timeout)
            outputs = _as_outputs(result, ATTENTION_OUTPUTS, shapes)
            expected = lambda p, X=X, weights=weights, mask=mask, dout=dout: _attention_expected(  # noqa: E731
                p, X, weights, mask, dout)
            calls.append((outputs, expected))
            results.append(PointResult(f"point {index} (T = {T}, m = {m}, d = {d}, "
                                       f"{'causal' if causal else 'full'} mask)", _errors(outputs, expected(program))))
    mistakes = []
    if not all(e <= tolerance for p in results for e in p.errors.values()):
        for mistake, what, edit in CATALOGUE:
            try:
                planted = edit(program)
            except ValueError:  # not part of this layer
                continue
            if all(e <= tolerance for outputs, expected in calls for e in _errors(outputs, expected(planted)).values()):
                mistakes.append((mistake, what))
    return VerifyVerdict(name, layer, tolerance, tuple(results), tuple(mistakes))
