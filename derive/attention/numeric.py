"""The derived backward program evaluated: forward values, then the gradients in program order.

The forward here computes the values the derived formulas read (Q, K, V, P, O per head); the
backward is nothing but derivation.Program's matrix forms evaluated in order. The arithmetic is
float64, exact SymPy or GF(p), and the exponential is passed in: np.exp for numbers, sympy's exp
for the entrywise proof, a table of formal values for GF(p) (proofs.py says why that proves it).
Several heads: Y = sum_h O_h W_o^h (concatenating the heads and multiplying by W_o is the same sum
over W_o's row blocks); a gradient of the shared X adds its head paths over the heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.attention import matrix_form as mf
from derive.attention.derivation import Program

HEAD_PARAMETERS = ("W_q", "W_k", "W_v", "W_o")
HEAD_STAGES = ("query", "key", "value", "scores", "mask", "softmax", "values", "output")


@dataclass(frozen=True)
class BlockPoint:
    """Where the block is evaluated: X (T x m), per head W_q, W_k, W_v (m x d) and W_o (d x m),
    the mask (T x T booleans, True: attend) and the upstream gradient (T x m)."""

    X: np.ndarray
    heads: tuple[dict, ...]
    mask: np.ndarray
    upstream: np.ndarray

    @property
    def key_width(self) -> int:
        return self.heads[0]["W_q"].shape[1]


def causal_mask(tokens: int) -> np.ndarray:
    return np.tril(np.ones((tokens, tokens), dtype=bool))


def float_exponential(A: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """exp(A + B) with B = -inf where masked, shifted by the row maximum (softmax is unchanged)."""
    shifted = np.where(mask, A, -np.inf)
    shifted = shifted - shifted.max(axis=1, keepdims=True)
    return np.where(mask, np.exp(shifted), 0.0)


def head_forward(X, weights: dict, mask, exponential, arithmetic=mf.Arithmetic()) -> dict:
    """One head's forward values: Q, K, V, P, O (and its weights), in the given arithmetic."""
    reduce, d = arithmetic.reduce, weights["W_q"].shape[1]
    Q, K, V = (reduce(np.dot(X, weights[w])) for w in ("W_q", "W_k", "W_v"))
    scale = arithmetic.scalar(1 / mf.sp.sqrt(mf.D_KEY), d)
    S = reduce(scale * np.dot(Q, K.T))
    E = exponential(S, mask)
    P = reduce(E * arithmetic_inverse(arithmetic, E.sum(axis=1, keepdims=True)))
    O = reduce(np.dot(P, V))
    values = {"X": X, **weights, "Q": Q, "K": K, "V": V, "S": S, "P": P, "O": O}
    if not np.all(mask):  # what a backward that forgets the mask reads (derive/attention/mistakes.py)
        E = exponential(S, np.ones_like(mask))
        values["P_unmasked"] = reduce(E * arithmetic_inverse(arithmetic, E.sum(axis=1, keepdims=True)))
    else:
        values["P_unmasked"] = P
    return values


def arithmetic_inverse(arithmetic, column):
    if isinstance(arithmetic, mf.ModularArithmetic):
        return np.array([[mf.inverse(v)] for v in column[:, 0]], dtype=object)
    return 1 / column


def block_forward(point: BlockPoint, residual: bool, exponential=float_exponential, arithmetic=mf.Arithmetic()):
    """(per-head values, Y or R): the block's output for J = sum(upstream * output)."""
    heads = [head_forward(point.X, w, point.mask, exponential, arithmetic) for w in point.heads]
    Y = heads[0]["O"] @ heads[0]["W_o"]
    for values in heads[1:]:
        Y = Y + values["O"] @ values["W_o"]
    Y = arithmetic.reduce(Y)
    return heads, arithmetic.reduce(point.X + Y) if residual else Y


def evaluate_block(program: Program, point: BlockPoint, exponential=float_exponential,
                   arithmetic=mf.Arithmetic()) -> dict:
    """Every gradient of the block at point: per-head ones as lists over heads, dX summed."""
    residual = "residual" in program.stages
    heads, _ = block_forward(point, residual, exponential, arithmetic)
    d, top = point.key_width, program.top
    results: dict = {}
    for h, values in enumerate(heads):
        values = dict(values, **{top: point.upstream})
        for gradient in program.gradients:
            if gradient.of == "X":
                continue
            values[gradient.name] = mf.evaluate(gradient.matrix, values, d, arithmetic)
            results.setdefault(gradient.name, []).append(values[gradient.name])
        # X is read by every head's projections and once by the residual: the head paths add over the
        # heads, so for the later heads the leaves of dX's other paths (the identity's dR) count as 0
        dX = program.gradient("dX")
        once = set().union(*(mf.leaves(path.matrix) for path in dX.paths if path.stage not in HEAD_STAGES))
        if h > 0:
            values.update({name: np.zeros_like(values[name]) for name in once})
        term = mf.evaluate(dX.matrix, values, d, arithmetic)
        results["dX"] = term if "dX" not in results else arithmetic.reduce(results["dX"] + term)
    return results


def evaluate_embedding(program: Program, onehot, upstream, arithmetic=mf.Arithmetic()) -> np.ndarray:
    """dC of the embedding at the one-hot tokens and dE."""
    last = onehot * (np.cumsum(onehot[::-1], axis=0)[::-1] == 1)  # each token's last occurrence only
    values = {"onehot": onehot, "onehot_last": last, program.top: upstream}
    return mf.evaluate(program.gradient("dC").matrix, values, 1, arithmetic)


def onehot(tokens, vocab: int, dtype=float) -> np.ndarray:
    matrix = np.zeros((len(tokens), vocab), dtype=dtype)
    matrix[np.arange(len(tokens)), tokens] = 1
    return matrix
