"""The attention block's forward pass in index notation, at symbolic sizes, one stage at a time.

Row convention: token i in row i. With T tokens, model width m, key width d and vocabulary n:

    E[i, c]  = sum_v onehot[i, v] C[v, c]                      embedding lookup (onehot constant)
    Q[i, c]  = sum_a X[i, a] W_q[a, c]    (K, V with W_k, W_v)  projections
    S[i, j]  = sum_c Q[i, c] K[j, c] / sqrt(d)                 scores
    A[i, j]  = S[i, j] + B[i, j]                                the mask B: 0, or -inf above the diagonal
    P[i, j]  = exp(A[i, j]) / sum_l exp(A[i, l])               softmax over each row
    O[i, c]  = sum_j P[i, j] V[j, c]                            weighted values
    Y[i, c]  = sum_a O[i, a] W_o[a, c]                          output projection
    R[i, c]  = X[i, c] + Y[i, c]                                residual: Y = F(X) the sublayer above

This is the only place the block is written down; every gradient is found from it. Each stage
says which entries it reads; a matrix read by several stages (X by the three projections and the
residual) is where the gradient adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from derive.attention.matrix_form import D_KEY

T, WIDTH, VOCAB = sp.symbols("T m n_vocab", integer=True, positive=True)
SIZES = {"T": T, "d": D_KEY, "m": WIDTH, "n": VOCAB}
_i, _c, _a, _j, _l, _v = sp.symbols("i c a j l v", integer=True)


def base(name: str) -> sp.IndexedBase:
    return sp.IndexedBase(name)


@dataclass(frozen=True)
class Stage:
    """One stage: output[i, c] = entry(i, c), reading `inputs`; shapes as pairs of size names."""

    name: str
    output: str
    shape: tuple[str, str]
    inputs: dict  # input name -> shape
    entry: Callable[[sp.Symbol, sp.Symbol], sp.Expr]
    says: str  # the forward line, for the write-up
    latex: str


def _product(left: str, right: str, inner: str):
    """out[i, c] = sum_a left[i, a] right[a, c], the sum over the size named `inner`."""
    def entry(i, c):
        return sp.Sum(base(left)[i, _a] * base(right)[_a, c], (_a, 0, SIZES[inner] - 1))
    return entry


def _scores(i, j):
    return sp.Sum(base("Q")[i, _c] * base("K")[j, _c], (_c, 0, D_KEY - 1)) / sp.sqrt(D_KEY)


def _masked(i, j):
    return base("S")[i, j] + base("B")[i, j]


def softmax_normaliser(i) -> sp.Sum:
    return sp.Sum(sp.exp(base("A")[i, _l]), (_l, 0, T - 1))


def _softmax(i, j):
    return sp.exp(base("A")[i, j]) / softmax_normaliser(i)


def _values(i, c):
    return sp.Sum(base("P")[i, _j] * base("V")[_j, c], (_j, 0, T - 1))


def _embedding(i, c):
    return sp.Sum(base("onehot")[i, _v] * base("C")[_v, c], (_v, 0, VOCAB - 1))


def _residual(i, c):
    return base("X")[i, c] + base("Y")[i, c]


STAGES = {
    "embedding": Stage("embedding", "E", ("T", "m"), {"C": ("n", "m")}, _embedding,
                       "E = onehot(tokens) C", r"E_{ic} = \sum_v \mathrm{onehot}_{iv} C_{vc}"),
    "query": Stage("query", "Q", ("T", "d"), {"X": ("T", "m"), "W_q": ("m", "d")},
                   _product("X", "W_q", "m"), "Q = X W_q", r"Q_{ic} = \sum_a X_{ia} (W_q)_{ac}"),
    "key": Stage("key", "K", ("T", "d"), {"X": ("T", "m"), "W_k": ("m", "d")},
                 _product("X", "W_k", "m"), "K = X W_k", r"K_{ic} = \sum_a X_{ia} (W_k)_{ac}"),
    "value": Stage("value", "V", ("T", "d"), {"X": ("T", "m"), "W_v": ("m", "d")},
                   _product("X", "W_v", "m"), "V = X W_v", r"V_{ic} = \sum_a X_{ia} (W_v)_{ac}"),
    "scores": Stage("scores", "S", ("T", "T"), {"Q": ("T", "d"), "K": ("T", "d")}, _scores,
                    "S = Q K^T / sqrt(d)", r"S_{ij} = \frac{1}{\sqrt{d}} \sum_c Q_{ic} K_{jc}"),
    "mask": Stage("mask", "A", ("T", "T"), {"S": ("T", "T")}, _masked,
                  "A = S + B (B = 0, or -inf above the diagonal when causal)", r"A_{ij} = S_{ij} + B_{ij}"),
    "softmax": Stage("softmax", "P", ("T", "T"), {"A": ("T", "T")}, _softmax,
                     "P = softmax of each row of A", r"P_{ij} = \frac{e^{A_{ij}}}{\sum_l e^{A_{il}}}"),
    "values": Stage("values", "O", ("T", "d"), {"P": ("T", "T"), "V": ("T", "d")}, _values,
                    "O = P V", r"O_{ic} = \sum_j P_{ij} V_{jc}"),
    "output": Stage("output", "Y", ("T", "m"), {"O": ("T", "d"), "W_o": ("d", "m")},
                    _product("O", "W_o", "d"), "Y = O W_o", r"Y_{ic} = \sum_a O_{ia} (W_o)_{ac}"),
    "residual": Stage("residual", "R", ("T", "m"), {"X": ("T", "m"), "Y": ("T", "m")}, _residual,
                      "R = X + Y, Y = F(X) the attention sublayer", r"R_{ic} = X_{ic} + Y_{ic}"),
}

# the programs the CLI derives: stages in forward order
SCALED_DOT_PRODUCT = ("scores", "mask", "softmax", "values")
ONE_HEAD = ("query", "key", "value") + SCALED_DOT_PRODUCT + ("output",)
EMBEDDING = ("embedding",)
RESIDUAL = ONE_HEAD + ("residual",)  # R = X + F(X), F the one-head sublayer


def _is_normaliser(e) -> bool:
    """sum_l exp(A[i, l]) over l: the softmax's denominator for row i."""
    if not (isinstance(e, sp.Sum) and len(e.limits) == 1 and isinstance(e.function, sp.exp)):
        return False
    argument = e.function.args[0]
    return isinstance(argument, sp.Indexed) and argument.base == base("A") and argument.indices[1] == e.limits[0][0]


def name_softmax(expression: sp.Expr) -> sp.Expr:
    """The softmax's denominator sum_l exp(A[i, l]) named Z[i] (before the sums are expanded)."""
    return expression.replace(_is_normaliser, lambda e: base("Z")[e.function.args[0].indices[0]])


def exp_to_softmax(expression: sp.Expr) -> sp.Expr:
    """exp(A[i, j]) -> P[i, j] Z[i], read off P[i, j] = exp(A[i, j]) / Z[i]."""
    Z, P, A = base("Z"), base("P"), base("A")
    return expression.replace(lambda e: isinstance(e, sp.exp) and isinstance(e.args[0], sp.Indexed)
                              and e.args[0].base == A,
                              lambda e: P[e.args[0].indices] * Z[e.args[0].indices[0]])
