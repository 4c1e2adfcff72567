"""The three-route verdict for the attention block and the embedding, cs231n's gradient check style.

- derived: derive.attention's backward program evaluated in float64;
- hand-written: checks/attention/reference.py (NumPy only, the softmax through its Jacobian);
- finite differences: reference.py's five-point central differences of J = sum(dout * output).
Each pair is compared with cs231n's rel_error, or, when an entry is exactly 0 (masked, or a token
never seen), by the difference over the gradient's largest entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.attention import reference

ROUTES = ("derived", "hand_written", "finite_differences")
ROUTE_TITLES = {"derived": "derived", "hand_written": "hand-written", "finite_differences": "finite differences"}
PAIRS = (("derived", "hand_written"), ("derived", "finite_differences"), ("hand_written", "finite_differences"))
# rounding only between the analytic routes (~1e-15 measured); five-point differences at h = 1e-3 ~1e-10
ANALYTIC_TOLERANCE, DIFFERENCE_TOLERANCE = 1e-9, 1e-7
LIMITS = tuple(DIFFERENCE_TOLERANCE if "finite_differences" in pair else ANALYTIC_TOLERANCE for pair in PAIRS)


@dataclass(frozen=True)
class AttentionPoint:
    """X (T x m), per head W_q, W_k, W_v (m x d), W_o (d x m), the mask (T x T, True: attend), dout."""

    X: np.ndarray
    heads: tuple[dict, ...]
    mask: np.ndarray
    dout: np.ndarray
    description: str


@dataclass(frozen=True)
class EmbeddingPoint:
    tokens: np.ndarray
    C: np.ndarray
    dout: np.ndarray
    description: str


def default_point(tokens: int = 4, width: int = 4, heads: int = 1, causal: bool = False, seed: int = 0):
    from derive.attention.errors import check_sizes

    d = check_sizes(tokens, width, heads)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((tokens, width))
    weights = tuple({w: rng.standard_normal((width, d) if w != "W_o" else (d, width)) / np.sqrt(width)
                     for w in ("W_q", "W_k", "W_v", "W_o")} for _ in range(heads))
    mask = np.tril(np.ones((tokens, tokens), dtype=bool)) if causal else np.ones((tokens, tokens), dtype=bool)
    return AttentionPoint(X, weights, mask, rng.standard_normal((tokens, width)),
                          f"X, dout = randn, W = randn / sqrt(m) (seed {seed})")


def default_embedding_point(tokens=(0, 2, 2, 1, 2), vocab: int = 4, width: int = 3, seed: int = 0):
    from derive.attention.errors import check_tokens

    ids = check_tokens(list(tokens), vocab)
    rng = np.random.default_rng(seed)
    return EmbeddingPoint(ids, rng.standard_normal((vocab, width)), rng.standard_normal((len(ids), width)),
                          f"tokens {list(map(int, ids))} (repeated), C, dout = randn (seed {seed})")


def scaled_error(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b))) / max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-300)


@dataclass(frozen=True)
class Comparison:
    name: str
    errors: tuple[float, ...]
    scaled: tuple[float, ...]
    agree: bool


@dataclass(frozen=True)
class Verdict:
    layer: str
    description: str
    comparisons: tuple[Comparison, ...]

    @property
    def agree(self) -> bool:
        return all(c.agree for c in self.comparisons)

    def text(self) -> str:
        lines = [f"check {self.layer}: {self.description}", "routes:",
                 "  derived: the backward program derive.attention found, evaluated in float64",
                 "  hand-written: checks/attention/reference.py (NumPy only, the softmax through its Jacobian)",
                 f"  finite differences: five-point central, every entry, h = {reference.FINITE_DIFFERENCE_STEP:g}",
                 "cs231n's gradient check (rel_error = max |a - b| / max(1e-8, |a| + |b|)):"]
        for c in self.comparisons:
            figures = ", ".join(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]} {e:.2e}" for (a, b), e in zip(PAIRS, c.errors))
            lines.append(f"  {c.name}: {figures}" + ("" if c.agree else "  DISAGREE"))
        lines.append(f"tolerances: analytic routes {ANALYTIC_TOLERANCE:g}, finite differences {DIFFERENCE_TOLERANCE:g} "
                     "(by cs231n's figure, or of the gradient's largest entry)")
        lines.append("verdict: agree -- derived, hand-written and finite differences give the same gradients"
                     if self.agree else f"verdict: DISAGREE at {', '.join(c.name for c in self.comparisons if not c.agree)}")
        return "\n".join(lines) + "\n"


def _compare(name: str, routes: dict) -> Comparison:
    errors = tuple(reference.rel_error(routes[a], routes[b]) for a, b in PAIRS)
    scaled = tuple(scaled_error(routes[a], routes[b]) for a, b in PAIRS)
    return Comparison(name, errors, scaled, all(min(e, s) <= t for e, s, t in zip(errors, scaled, LIMITS)))


def check_attention(point: AttentionPoint, residual: bool = False, program=None) -> Verdict:
    """The three routes at point; program: the derived Program (a planted mistake shows the check fail)."""
    from derive.attention import ONE_HEAD, RESIDUAL, derive_program
    from derive.attention.numeric import BlockPoint, evaluate_block

    program = program or derive_program(RESIDUAL if residual else ONE_HEAD)
    derived = evaluate_block(program, BlockPoint(point.X, point.heads, point.mask, point.dout))
    _, cache = reference.forward(point.X, list(point.heads), point.mask, residual)
    hand_dX, hand_heads = reference.backward(point.dout, cache)
    fd_dX, fd_heads = reference.finite_difference_gradients(point.X, list(point.heads), point.mask, point.dout, residual)
    comparisons = [_compare("dX", {"derived": derived["dX"], "hand_written": hand_dX, "finite_differences": fd_dX})]
    for h in range(len(point.heads)):
        for w in ("W_q", "W_k", "W_v", "W_o"):
            label = f"d{w}" + (f" (head {h + 1})" if len(point.heads) > 1 else "")
            comparisons.append(_compare(label, {"derived": derived[f"d{w}"][h], "hand_written": hand_heads[h][w],
                                                "finite_differences": fd_heads[h][w]}))
    T, m = point.X.shape
    causal = bool(np.array_equal(point.mask, np.tril(np.ones((T, T), dtype=bool)))) and T > 1
    layer = (f"{'residual around ' if residual else ''}attention, {len(point.heads)} head(s), T = {T}, "
             f"width {m}, d = {point.heads[0]['W_q'].shape[1]}" + (", causal mask" if causal else ""))
    return Verdict(layer, point.description, tuple(comparisons))


def check_embedding(point: EmbeddingPoint, program=None) -> Verdict:
    from derive.attention import EMBEDDING, derive_program
    from derive.attention.numeric import evaluate_embedding, onehot

    program = program or derive_program(EMBEDDING)
    vocab = point.C.shape[0]
    routes = {"derived": evaluate_embedding(program, onehot(point.tokens, vocab), point.dout),
              "hand_written": reference.embedding_backward(point.dout, point.tokens, vocab),
              "finite_differences": reference.embedding_finite_differences(point.tokens, point.C, point.dout)}
    return Verdict(f"embedding, T = {len(point.tokens)}, vocabulary {vocab}, width {point.C.shape[1]}",
                   point.description, (_compare("dC", routes),))
