"""The one LaTeX printer of the write-ups: matrix expressions and entry symbols as a textbook prints them.

SymPy's own latex() prints the Hadamard product as \\circ, the transpose as ^{T}, an entrywise
activation as (t -> ...)_circ(...) and the symbol W1_0_2 as W_{1 0 2} (see KNOWN.md). This
subclass prints \\odot or \\circ, ^{\\top} or ^{T}, sigma'(z^{(2)}), W^{(1)}_{02} and, for Ng's
bias unit, \\bar{W}^{(2)} and [1, a^{(2)}], with every name decided by derive.network.naming.

>>> import sympy as sp
>>> latex(sp.MatrixSymbol("delta3", 4, 1) * sp.MatrixSymbol("W2", 3, 1).T)
'\\\\delta^{(3)} W^{(2)\\\\top}'
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from derive.network import naming
from derive.network.activations import ACTIVATION_TABLE, opaque_pair
from derive.network.costs import scalar_losses
from derive.backward.matrix_ops import EntrywiseMap
from derive.network.naming import LatexNotation

# Generic entry indices for a matrix written entry by entry: [g(A_ij, B_ij)]_ij.
GENERIC_ROW, GENERIC_COLUMN = "i", "j"

# Greek letters the indexed (size-independent) argument uses as IndexedBase names.
_INDEXED_BASES = {"delta": r"\delta", "W": "W", "a": "a", "z": "z"}
# Scalars with a conventional letter.
_SCALAR_NAMES = {"eta": r"\eta", "lambda": r"\lambda"}


def _opaque_functions() -> dict[type, str]:
    """Each opaque function of the tables and its derivative -> LaTeX (sigma, sigma'; huber, huber')."""
    found = {}
    latex = {name: entry.latex for name, entry in ACTIVATION_TABLE.items()}
    latex.update((name, entry.latex) for name, entry in scalar_losses().items())
    for name, command in latex.items():
        function, prime = opaque_pair(name)
        found[function] = command
        found[prime] = command + "'"
    return found


class BackpropLatexPrinter(LatexPrinter):
    """LatexPrinter with the project's notation.

    Args:
        notation: which Hadamard and transpose symbols and which layer index style to use.
    """

    printmethod = "_backprop_latex"

    def __init__(self, notation: LatexNotation = LatexNotation(), settings: dict | None = None,
                 relabel: dict[int, str] | None = None):
        super().__init__(settings)
        self.notation = notation
        self.relabel = relabel or {}  # layer number -> label printed instead, e.g. {3: "l+1"}
        self._functions = _opaque_functions()

    # --- names -------------------------------------------------------------------------------
    def _print_Symbol(self, expr, style="plain"):
        entry = naming.entry_latex(expr.name, self.notation)
        if entry is not None:
            return entry
        if expr.name in _SCALAR_NAMES:
            return _SCALAR_NAMES[expr.name]
        return super()._print_Symbol(expr, style)

    def _print_MatrixSymbol(self, expr):
        if expr.name in _INDEXED_BASES:  # the size-independent argument's delta, W, a
            return _INDEXED_BASES[expr.name]
        return self._matrix_name(expr.name)

    def _matrix_name(self, name: str) -> str:
        text = naming.matrix_latex(name, self.notation)
        layer = naming_layer(name)
        if layer is not None and layer in self.relabel:  # delta3 -> delta^{(l+1)} in a recursion
            label = self.relabel[layer]
            text = text.replace(f"^{{({layer})}}", f"^{{({label})}}").replace(f"_{{{layer}}}", f"_{{{label}}}")
        return text

    def _print_Add(self, expr, order=None):
        terms = self._as_ordered_terms(expr, order=order)
        if not terms[0].could_extract_minus_sign():
            return super()._print_Add(expr, order)
        # y - a rather than - a + y: a positive term first, as written by hand
        terms.sort(key=lambda term: term.could_extract_minus_sign())
        text = self._print(terms[0])
        for term in terms[1:]:
            negative = term.could_extract_minus_sign()
            body = self.parenthesize(-term if negative else term, PRECEDENCE["Add"])
            text += (" - " if negative else " + ") + body
        return text

    def _print_Indexed(self, expr):
        base = str(expr.base.label)
        base_latex = _INDEXED_BASES.get(base, base)
        indices = [self._print(index) for index in expr.indices]
        separator = "" if all(len(index) == 1 for index in indices) else ","
        return f"{base_latex}_{{{separator.join(indices)}}}"

    def _print_KroneckerDelta(self, expr, exp=None):
        # Iverson's bracket: delta is already the name of the error signal.
        left, right = (self._print(arg) for arg in expr.args)
        return f"[{left} = {right}]"

    def _print_Function(self, expr, exp=None):
        name = self._functions.get(type(expr))
        if name is None:
            return super()._print_Function(expr, exp)
        text = f"{name}({self._print(expr.args[0])})"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_Sum(self, expr):
        # one \sum per index, outermost first (SymPy lists the innermost limit first)
        text = ""
        for variable, low, high in reversed(expr.limits):
            text += rf"\sum_{{{self._print(variable)}={self._print(low)}}}^{{{self._print(high)}}} "
        body = expr.function
        inner = self._print(body)
        return text + (rf"\left({inner}\right)" if isinstance(body, sp.Add) else inner)

    # --- matrices ------------------------------------------------------------------------------
    def _transposed(self, base: sp.MatrixExpr) -> str:
        symbol = self.notation.transpose_symbol
        if isinstance(base, (sp.MatrixSymbol, sp.MatrixSlice)):
            text = self._print(base)
            if text.endswith(")}") and "^{(" in text:  # W^{(2)} -> W^{(2)\top}, not a double superscript
                return text[:-1] + symbol + "}"
            if "^" in text:
                return rf"\left({text}\right)^{{{symbol}}}"
            return f"{text}^{{{symbol}}}"
        if isinstance(base, sp.OneMatrix):
            return self._print(sp.OneMatrix(base.shape[1], base.shape[0]))
        if isinstance(base, EntrywiseMap) or base.is_Atom:
            return f"{{{self._print(base)}}}^{{{symbol}}}"
        return rf"\left({self._print(base)}\right)^{{{symbol}}}"

    def _print_Transpose(self, expr):
        return self._transposed(expr.arg)

    def _factor(self, factor, hadamard: bool) -> str:
        """A factor of a product, in parentheses when it is a sum (or a product of the other kind)."""
        other = sp.MatMul if hadamard else sp.HadamardProduct
        if isinstance(factor, (sp.MatAdd, sp.Add, other)) or (hadamard and isinstance(factor, sp.MatMul)):
            return rf"\left({self._print(factor)}\right)"
        return self._print(factor)

    def _print_HadamardProduct(self, expr):
        return f" {self.notation.hadamard_symbol} ".join(self._factor(arg, True) for arg in expr.args)

    def _print_MatMul(self, expr):
        coefficient, matrices = expr.as_coeff_matrices()
        text = " ".join(self._factor(matrix, False) for matrix in matrices)
        if coefficient == 1:
            return text
        if coefficient == -1:
            return "- " + text
        if coefficient.could_extract_minus_sign():
            return "- " + self._scalar(-coefficient) + " " + text
        return self._scalar(coefficient) + " " + text

    def _scalar(self, coefficient) -> str:
        if isinstance(coefficient, sp.Add):
            return rf"\left({self._print(coefficient)}\right)"
        return self._print(coefficient)

    def _print_MatAdd(self, expr):
        terms = list(expr.args)
        # a3 - y: the positive term first, as it is written by hand
        terms.sort(key=lambda term: term.could_extract_minus_sign())
        text = self._print(terms[0])
        for term in terms[1:]:
            if term.could_extract_minus_sign():
                text += " - " + self._print(-term)
            else:
                text += " + " + self._print(term)
        return text

    def _print_OneMatrix(self, expr):
        rows, columns = expr.shape
        if rows == 1 and columns != 1:  # a row of ones is the transpose of the column 1
            return r"\mathbf{1}^{" + self.notation.transpose_symbol + "}"
        return r"\mathbf{1}"

    def _print_ZeroMatrix(self, expr):
        return r"\mathbf{0}"

    def _print_MatrixSlice(self, expr):
        parent = expr.parent
        rows, columns = expr.rowslice, expr.colslice
        full_rows = rows[0] == 0 and rows[1] == parent.shape[0] and rows[2] == 1
        full_columns = columns[0] == 0 and columns[1] == parent.shape[1] and columns[2] == 1
        drops_first_row = rows[0] == 1 and rows[1] == parent.shape[0] and full_columns
        drops_first_column = columns[0] == 1 and columns[1] == parent.shape[1] and full_rows
        if isinstance(parent, sp.MatrixSymbol) and (drops_first_row or drops_first_column):
            # Ng's bias unit: W without the weights of the constant 1
            return self._matrix_name(parent.name + "bar")
        return super()._print_MatrixSlice(expr)

    def _print_BlockMatrix(self, expr):
        blocks = expr.blocks
        rows = [[self._print(blocks[i, j]) for j in range(blocks.shape[1])] for i in range(blocks.shape[0])]
        if len(rows) == 1:
            return r"\left[" + r",\ ".join(rows[0]) + r"\right]"
        body = r" \\ ".join(" & ".join(row) for row in rows)
        return r"\begin{bmatrix} " + body + r" \end{bmatrix}"

    def _print_MatrixElement(self, expr):
        parent, row, column = expr.args
        indices = self._print(row) + self._print(column)
        if isinstance(parent, sp.MatrixSymbol):
            return f"{self._print(parent)}_{{{indices}}}"
        return rf"\left({self._print(parent)}\right)_{{{indices}}}"

    def _print_EntrywiseMap(self, expr):
        function, matrices = expr.function, expr.matrices
        body = function.expr
        if len(matrices) == 1 and isinstance(body, sp.Function) and body.args == function.variables:
            return self._print_Function(type(body)(matrices[0]))
        # any other scalar formula: the matrix whose (i, j) entry is g(A_ij, B_ij, ...)
        generic = {variable: sp.Symbol(f"ENTRY{index}")
                   for index, variable in enumerate(function.variables)}
        placeholder_latex = {f"ENTRY{index}": self._generic_entry(matrix)
                             for index, matrix in enumerate(matrices)}
        text = self._with_names(body.xreplace(generic), placeholder_latex)
        return rf"\left[{text}\right]_{{{GENERIC_ROW}{GENERIC_COLUMN}}}"

    def _with_names(self, expr, names: dict[str, str]) -> str:
        printer = BackpropLatexPrinter(self.notation, {"symbol_names": {sp.Symbol(k): v for k, v in names.items()}},
                                       self.relabel)
        return printer._print(expr)

    def _generic_entry(self, matrix: sp.MatrixExpr) -> str:
        """The (i, j) entry of a matrix: a^{(3)}_{ij}, y_{ij}, or (M)_{ij} for a compound one."""
        indices = GENERIC_ROW + GENERIC_COLUMN
        if isinstance(matrix, sp.MatrixSymbol):
            # naming writes entry (0, 0) as ..._{00} (or ..._{1,00} for W_{1}); swap in i and j
            template = naming.entry_latex(f"{matrix.name}_0_0", self.notation)
            if template is not None and template.endswith("00}"):
                return template[:-3] + indices + "}"
        return rf"\left({self._print(matrix)}\right)_{{{indices}}}"


def latex(expr, notation: LatexNotation = LatexNotation(), relabel: dict[int, str] | None = None) -> str:
    """LaTeX for a scalar or matrix expression of the derivation, in the given notation.

    Args:
        expr: a SymPy scalar or matrix expression.
        notation: the Hadamard and transpose symbols and the layer index style.
        relabel: layer numbers printed as labels instead, e.g. {3: "l+1", 2: "l"}.
    """
    return BackpropLatexPrinter(notation, relabel=relabel)._print(expr)


def naming_layer(name: str) -> int | None:
    """The layer number of a matrix name ("delta3" -> 3, "W2bar" -> 2), None for X, y, ..."""
    digits = "".join(character for character in name if character.isdigit())
    return int(digits) if digits and name.rstrip("bar").endswith(digits) else None


def shape_latex(shape) -> str:
    """"4 \\times 3" for the shape (4, 3)."""
    return rf"{shape[0]} \times {shape[1]}"

