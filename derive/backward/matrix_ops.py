"""Matrix expressions the derivation needs beyond SymPy's: a scalar formula applied entrywise.

SymPy's ElementwiseApplyFunction takes one matrix and prints as `Lambda(...)` (unreadable in
LaTeX, a SyntaxError in lambdify, see KNOWN.md). EntrywiseMap takes a Lambda of several scalars
and as many same-shaped matrices; our printers render it as f'(z) or (Yhat - Y) in matrix form.
"""

from __future__ import annotations

from functools import lru_cache, singledispatch

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from derive.network import naming
class EntrywiseMap(sp.MatrixExpr):
    """g applied entry by entry: EntrywiseMap(Lambda((u, v), g), A, B)[i, j] = g(A[i, j], B[i, j])."""

    def __new__(cls, function: sp.Lambda, *matrices: sp.MatrixExpr):
        if not matrices:
            raise ValueError("EntrywiseMap needs at least one matrix")
        shapes = {tuple(matrix.shape) for matrix in matrices}
        if len(shapes) != 1:
            raise ValueError(f"EntrywiseMap needs matrices of one shape, got {sorted(shapes)}")
        return sp.Basic.__new__(cls, function, *matrices)

    @property
    def function(self) -> sp.Lambda:
        return self.args[0]

    @property
    def matrices(self) -> tuple[sp.MatrixExpr, ...]:
        return self.args[1:]

    @property
    def shape(self):
        return self.matrices[0].shape

    def _entry(self, i, j, **kwargs):
        return self.function(*[matrix._entry(i, j, **kwargs) for matrix in self.matrices])

    def _eval_transpose(self):
        return EntrywiseMap(self.function, *[matrix.T for matrix in self.matrices])


class Softmax(sp.MatrixExpr):
    """softmax along the unit axis (1 in row form, 0 in column form): it couples an example's units."""

    def __new__(cls, matrix: sp.MatrixExpr, axis: int):
        return sp.Basic.__new__(cls, matrix, sp.Integer(axis))

    @property
    def shape(self):
        return self.args[0].shape


class LogSoftmax(Softmax):
    """log softmax along the unit axis, computed from z so that it never takes the log of 0."""


def apply_entrywise(function: type[sp.Function], matrix: sp.MatrixExpr) -> EntrywiseMap:
    """f(Z) entry by entry, e.g. apply_entrywise(sigmoid_prime, z2) prints as sigma'(z2)."""
    t = sp.Symbol("t")  # not a Dummy: two derivations of one spec must compare equal
    return EntrywiseMap(sp.Lambda(t, function(t)), matrix)


def entry_of(expression: sp.MatrixExpr, row: int, column: int) -> sp.Expr:
    """The scalar entry of a matrix expression, written with entry symbols (W1_0_2).

    >>> A, B = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("B", 2, 3)
    >>> entry_of(A.T * B, 1, 2)
    A_0_1*B_0_2 + A_1_1*B_1_2
    """
    return _entry(expression, row, column)


@lru_cache(maxsize=1 << 16)  # candidates share factors: delta W^T's entries recur in every product with f'(z)
def _entry(expression, i: int, j: int) -> sp.Expr:
    # SymPy's MatMul._entry builds a Sum and calls doit(), several times slower than this walk.
    return _entry_rule(expression, i, j)


@singledispatch
def _entry_rule(expression, i: int, j: int) -> sp.Expr:
    """Entry (i, j) of one kind of matrix expression; one rule per node type, registered below."""
    return to_entry_symbols(expression._entry(i, j))


@_entry_rule.register
def _(expression: sp.MatrixSymbol, i, j):
    return naming.entry_symbol(expression.name, i, j)


@_entry_rule.register
def _(expression: sp.Transpose, i, j):
    return _entry(expression.arg, j, i)


@_entry_rule.register
def _(expression: sp.MatAdd, i, j):
    return sp.Add(*[_entry(term, i, j) for term in expression.args])


@_entry_rule.register
def _(expression: sp.HadamardProduct, i, j):
    return sp.Mul(*[_entry(factor, i, j) for factor in expression.args])


@_entry_rule.register
def _(expression: sp.MatMul, i, j):
    scalars = [a for a in expression.args if not getattr(a, "is_Matrix", False)]
    matrices = [a for a in expression.args if getattr(a, "is_Matrix", False)]
    return sp.Mul(*scalars) * _product_entry(matrices, i, j)


@_entry_rule.register
def _(expression: EntrywiseMap, i, j):
    return expression.function(*[_entry(m, i, j) for m in expression.matrices])


@_entry_rule.register
def _(expression: sp.OneMatrix, i, j):
    return sp.Integer(1)


@_entry_rule.register
def _(expression: sp.ZeroMatrix, i, j):
    return sp.Integer(0)


@_entry_rule.register
def _(expression: sp.MatrixSlice, i, j):
    rows, columns = expression.rowslice, expression.colslice
    return _entry(expression.parent, rows[0] + i * rows[2], columns[0] + j * columns[2])


@_entry_rule.register
def _(expression: sp.BlockMatrix, i, j):
    return _block_entry(expression, i, j)


def _product_entry(matrices, i: int, j: int) -> sp.Expr:
    if len(matrices) == 1:
        return _entry(matrices[0], i, j)
    first, rest = matrices[0], matrices[1:]
    inner = first.shape[1]
    rest_expression = rest[0] if len(rest) == 1 else sp.MatMul(*rest)
    # sp.Mul directly: the * operator sympifies both sides first, a fifth of the cost here
    return sp.Add(*[sp.Mul(_entry(first, i, k), _entry(rest_expression, k, j)) for k in range(inner)])


def _block_entry(block: sp.BlockMatrix, i: int, j: int) -> sp.Expr:
    row_offset = 0
    for block_row in range(block.blockshape[0]):
        height = block.blocks[block_row, 0].shape[0]
        if i < row_offset + height:
            column_offset = 0
            for block_column in range(block.blockshape[1]):
                piece = block.blocks[block_row, block_column]
                if j < column_offset + piece.shape[1]:
                    return _entry(piece, i - row_offset, j - column_offset)
                column_offset += piece.shape[1]
        row_offset += height
    raise IndexError(f"entry ({i}, {j}) outside a {block.shape} block matrix")


def to_entry_symbols(expression: sp.Expr) -> sp.Expr:
    """Replaces MatrixElement W1[0, 2] by the symbol W1_0_2 and ones-matrix entries by 1."""
    replacements = {}
    for element in expression.atoms(MatrixElement):
        parent, row, column = element.args
        if isinstance(parent, sp.MatrixSymbol):
            replacements[element] = naming.entry_symbol(parent.name, int(row), int(column))
    return expression.xreplace(replacements) if replacements else expression


def is_zero(expression: sp.Expr) -> bool:
    """Exactly zero as a rational function of its symbols (and function applications).

    Expands, then sums the numerators of the terms that share a denominator: if every group is
    zero, so is the whole. Only when that fails are the groups put over one denominator, which
    is exact but can be slow (sp.together on long sums takes minutes).
    """
    expanded = sp.expand(expression)
    if expanded == 0:
        return True
    groups: dict[sp.Expr, list[sp.Expr]] = {}
    for term in sp.Add.make_args(expanded):
        numerator, denominator = sp.fraction(term)
        groups.setdefault(denominator, []).append(numerator)
    if len(groups) == 1:
        return False
    sums = {d: sp.expand(sp.Add(*n)) for d, n in groups.items()}
    remaining = {d: n for d, n in sums.items() if n != 0}
    if not remaining:
        return True
    together = sp.Add(*[n / d for d, n in remaining.items()])
    return sp.expand(sp.numer(sp.together(together))) == 0
