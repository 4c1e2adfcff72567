"""The matrix form of the backward pass, found by deriving through im2col.

im2col gathers every window of the padded input into a column: A[(c, u, v), (n, i, j)] =
X_pad[n, c, i s + u, j s + v]. The convolution is then one matrix product, the dense layer's:

    Y_col = W_col A + b 1^T,    W_col[f, (c, u, v)] = W[f, c, u, v],  Y_col[f, (n, i, j)] = Y[n, f, i, j]

and pooling is a weighting of each window: Y[c, q] = sum_k P[c, k, q] A[c, k, q] (P = S for max,
1 / (K_h K_w) for average). The same index calculus as derivation.py, applied to these flat forms,
gives dA, dW_col and db as sums of products; `read_product` reads a sum over one shared index as a
matrix product, and which slot that index sits in says which factor is transposed (the table
PRODUCT_BY_SLOTS). dX is then the adjoint of the gather: col2im adds each column back into the
window it came from. So dX = col2im(W_col^T G_col): the dense layer's W^T, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.convolution.index_calculus import Term, canonical, collapse, fresh

WCOL, ACOL, GCOL, BIAS, POOL = (sp.IndexedBase(name) for name in ("W_col", "A", "G_col", "b", "P"))
ROWS_F, ROWS_K, COLS_Q, CHANNELS = sp.symbols("F CKK NHW C", integer=True, positive=True)
FLAT_ROLES = ("c", "f", "k", "q")
FLAT_LETTERS = {role: sp.Symbol(role, integer=True) for role in FLAT_ROLES}
f, k, q, c = (FLAT_LETTERS[r] for r in ("f", "k", "q", "c"))

# (slot of the summed index in the left factor, in the right factor) -> (left transposed, right transposed)
PRODUCT_BY_SLOTS = {(1, 0): (False, False), (0, 0): (True, False), (1, 1): (False, True), (0, 1): (True, True)}


@dataclass(frozen=True)
class Product:
    """left^(T?) right^(T?), or left^(T?) 1 when right is None (a sum along a row)."""

    left: str
    left_transposed: bool
    right: str | None
    right_transposed: bool = False

    def latex(self) -> str:
        def one(name, transposed):
            return _LATEX[name] + (r"^\top" if transposed else "")
        right = r"\mathbf{1}" if self.right is None else one(self.right, self.right_transposed)
        return f"{one(self.left, self.left_transposed)}\\, {right}"

    def numpy_text(self) -> str:
        left = _NUMPY[self.left] + (".T" if self.left_transposed else "")
        if self.right is None:
            return f"{left}.sum(axis=1)"
        return f"{left} @ {_NUMPY[self.right]}" + (".T" if self.right_transposed else "")


@dataclass(frozen=True)
class Weighted:
    """P ⊙ (1 G): each column of G spread over its window, weighted entry by entry."""

    weight: str  # "P"
    operand: str  # "G_col"

    def latex(self) -> str:
        return rf"{_LATEX[self.weight]} \odot (\mathbf{{1}}\, {_LATEX[self.operand]})"

    def numpy_text(self) -> str:
        return f"{_NUMPY[self.weight]} * {_NUMPY[self.operand]}[:, None, :]"


_NUMPY = {"W_col": "W_col", "G_col": "G_col", "A": "im2col(X)", "P": "P"}
_LATEX = {"W_col": r"W_{\mathrm{col}}", "G_col": r"G_{\mathrm{col}}", "A": r"\operatorname{im2col}(X)", "P": "P"}


@dataclass(frozen=True)
class MatrixGradient:
    """One gradient in matrix form: the flat derivative found, and whether col2im scatters it back."""

    name: str  # "dX", "dW", "db"
    flat: Term  # the collapsed flat derivative, e.g. sum_f W_col[f, k] G_col[f, q]
    form: Product | Weighted
    scatter: bool  # dX: col2im of the flat gradient

    def numpy_text(self) -> str:
        """The line of the generated route, as numeric.evaluate_matrix evaluates it (dW then reshaped to W)."""
        inner = self.form.numpy_text()
        return f"{self.name} = " + (f"col2im({inner})" if self.scatter else inner)

    def latex(self) -> str:
        inner = self.form.latex()
        return rf"\operatorname{{col2im}}\big({inner}\big)" if self.scatter else inner


def flat_cost(is_convolution: bool) -> list[Term]:
    """J = sum G * Y of the flat forward pass (Y_col = W_col A + b 1^T, or Y = sum_k P A)."""
    if is_convolution:
        f0, q0, k0 = fresh("f", ROWS_F - 1), fresh("q", COLS_Q - 1), fresh("k", ROWS_K - 1)
        product = GCOL[f0.symbol, q0.symbol] * WCOL[f0.symbol, k0.symbol] * ACOL[k0.symbol, q0.symbol]
        return [Term(product, (f0, q0, k0)),
                Term(GCOL[f0.symbol, q0.symbol] * BIAS[f0.symbol], (f0, q0))]
    c0, q0, k0 = fresh("c", CHANNELS - 1), fresh("q", COLS_Q - 1), fresh("k", ROWS_K - 1)
    return [Term(GCOL[c0.symbol, q0.symbol] * POOL[c0.symbol, k0.symbol, q0.symbol]
                 * ACOL[c0.symbol, k0.symbol, q0.symbol], (c0, q0, k0))]


def flat_derivative(is_convolution: bool, target: sp.Indexed, ranges: dict) -> Term:
    terms = [Term(sp.diff(t.coefficient, target), t.indices) for t in flat_cost(is_convolution)]
    collapsed = [canonical(collapse(t, ranges), FLAT_LETTERS) for t in terms if t.coefficient != 0]
    if len(collapsed) != 1:
        raise ValueError(f"d J / d {target} is not one product: {collapsed}")
    return collapsed[0]


def read_product(term: Term, entry: tuple[sp.Symbol, ...]) -> Product | Weighted:
    """A collapsed flat derivative as a matrix expression (entry: its row and column letters)."""
    factors = [x for x in sp.Mul.make_args(term.coefficient) if isinstance(x, sp.Indexed)]
    if len(factors) != len(sp.Mul.make_args(term.coefficient)):
        raise ValueError(f"{term.coefficient} has a factor that is not an array entry")
    if not term.indices and len(factors) == 2 and all(len(x.indices) in (2, 3) for x in factors):
        weight = next(x for x in factors if len(x.indices) == 3)
        operand = next(x for x in factors if len(x.indices) == 2)
        return Weighted(str(weight.base), str(operand.base))
    if len(term.indices) != 1:
        raise ValueError(f"{term.coefficient} summed over {len(term.indices)} indices is not one matrix product")
    summed = term.indices[0].symbol
    if len(factors) == 1:  # a sum along one index: a product with the ones vector
        (only,) = factors
        return Product(str(only.base), only.indices.index(summed) == 0, None)
    row, _ = entry
    left = next(x for x in factors if row in x.indices)
    right = next(x for x in factors if x is not left)
    left_t, right_t = PRODUCT_BY_SLOTS[(left.indices.index(summed), right.indices.index(summed))]
    return Product(str(left.base), left_t, str(right.base), right_t)


def find_matrix_forms(is_convolution: bool) -> tuple[MatrixGradient, ...]:
    """dX (through dA and col2im), dW and db read off the flat forward pass."""
    if is_convolution:
        dA = flat_derivative(True, ACOL[k, q], {k: ROWS_K - 1, q: COLS_Q - 1})
        dW = flat_derivative(True, WCOL[f, k], {f: ROWS_F - 1, k: ROWS_K - 1})
        db = flat_derivative(True, BIAS[f], {f: ROWS_F - 1})
        return (MatrixGradient("dX", dA, read_product(dA, (k, q)), True),
                MatrixGradient("dW", dW, read_product(dW, (f, k)), False),
                MatrixGradient("db", db, read_product(db, (f,)), False))
    dA = flat_derivative(False, ACOL[c, k, q], {c: CHANNELS - 1, k: ROWS_K - 1, q: COLS_Q - 1})
    return (MatrixGradient("dX", dA, read_product(dA, (k, q)), True),)
