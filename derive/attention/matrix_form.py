"""A small typed grammar of matrix expressions for the attention block, read back from index form.

Nodes: a named matrix (Leaf), its transpose, a matrix product, an entrywise (Hadamard) product with
NumPy broadcasting, a row sum kept as a T x 1 column (so that rowsum(A) 1^T is its broadcast), a
scalar multiple and a sum. `read_term` turns one collapsed monomial of an entry [p, q] into a node
by following its indices (a summed index shared by A[p, k] and B[k, q] is a product A B; one shared
only by factors [p, k] is a row sum); `factor_terms` collects the monomials with SymPy's factor, each
node an opaque commuting symbol (entrywise products commute), so P dP - P rowsum(dP P) is found as
P (dP - rowsum(dP P)). One tree; LaTeX, NumPy text and evaluation (float64, exact SymPy, GF(p)) each
walk it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np
import sympy as sp

from derive.attention.index_calculus import Term
from derive.proofs.modular import PRIME, inverse

D_KEY = sp.Symbol("d", integer=True, positive=True)  # the key width; the scale is 1/sqrt(d)


@dataclass(frozen=True)
class Leaf:
    name: str


@dataclass(frozen=True)
class Transpose:
    argument: "Node"


@dataclass(frozen=True)
class MatMul:
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Hadamard:
    factors: tuple["Node", ...]


@dataclass(frozen=True)
class RowSum:
    """sum over each row: a T x 1 column, broadcast along the row where it meets a T x T matrix."""
    argument: "Node"


@dataclass(frozen=True)
class Scale:
    coefficient: sp.Expr  # a number, possibly with d (1/sqrt(d))
    argument: "Node"


@dataclass(frozen=True)
class Add:
    terms: tuple["Node", ...]


Node = Union[Leaf, Transpose, MatMul, Hadamard, RowSum, Scale, Add]


def leaves(node: Node) -> set[str]:
    if isinstance(node, Leaf):
        return {node.name}
    return set().union(*(leaves(child) for child in children(node)))


def children(node: Node) -> tuple:
    if isinstance(node, (Transpose, RowSum, Scale)):
        return (node.argument,)
    if isinstance(node, MatMul):
        return (node.left, node.right)
    if isinstance(node, Hadamard):
        return node.factors
    if isinstance(node, Add):
        return node.terms
    return ()


def rebuild(node: Node, change) -> Node:
    """node with change(node) applied bottom-up (change returns its argument to keep it)."""
    if isinstance(node, Transpose):
        node = Transpose(rebuild(node.argument, change))
    elif isinstance(node, RowSum):
        node = RowSum(rebuild(node.argument, change))
    elif isinstance(node, Scale):
        node = Scale(node.coefficient, rebuild(node.argument, change))
    elif isinstance(node, MatMul):
        node = MatMul(rebuild(node.left, change), rebuild(node.right, change))
    elif isinstance(node, Hadamard):
        node = Hadamard(tuple(rebuild(f, change) for f in node.factors))
    elif isinstance(node, Add):
        node = Add(tuple(rebuild(t, change) for t in node.terms))
    return change(node)


# ---------------------------------------------------------------- reading index form back


def _oriented(factor: sp.Indexed, first, second) -> Node:
    """factor[first, second] as a matrix node: the leaf, or its transpose when the indices are swapped."""
    leaf = Leaf(str(factor.base.label))
    if tuple(factor.indices) == (first, second):
        return leaf
    if tuple(factor.indices) == (second, first):
        return Transpose(leaf)
    raise ValueError(f"{factor} is not an entry [{first}, {second}] or its transpose")


def read_term(term: Term, p, q) -> Node:
    """One collapsed monomial of entry [p, q] as a matrix node, found by following its indices."""
    factors = list(sp.Mul.make_args(term.coefficient))
    indexed = [f for f in factors if isinstance(f, sp.Indexed)]
    if any(f.has(sp.Indexed) for f in factors if not isinstance(f, sp.Indexed)):
        raise ValueError(f"a power or function of an entry has no matrix form here: {term.coefficient}")
    scalar = sp.Mul(*[f for f in factors if not isinstance(f, sp.Indexed)])
    parts = []
    for index, _size in term.indices:
        touching = [f for f in indexed if index in f.indices]
        indexed = [f for f in indexed if index not in f.indices]
        outer = [next(i for i in f.indices if i != index) if len(set(f.indices)) == 2 else None for f in touching]
        if len(touching) == 2 and set(outer) == {p, q}:  # A[p, k] B[k, q]: a matrix product
            left, right = (touching if outer[0] == p else touching[::-1])
            parts.append(MatMul(_oriented(left, p, index), _oriented(right, index, q)))
        elif touching and set(outer) == {p}:  # sum_k A[p, k] B[p, k]: a row sum
            parts.append(RowSum(_hadamard([_oriented(f, p, index) for f in touching])))
        else:
            raise ValueError(f"the sum over {index} in {term.coefficient} is neither a product nor a row sum")
    parts += [_oriented(f, p, q) for f in indexed]
    node = _hadamard(parts)
    return node if scalar == 1 else Scale(scalar, node)


def _hadamard(parts: list) -> Node:
    return parts[0] if len(parts) == 1 else Hadamard(tuple(parts))


def factor_terms(nodes: list[Node]) -> Node:
    """The sum of nodes, collected by SymPy's factor with each non-scalar part an opaque symbol."""
    symbols: dict[Node, sp.Symbol] = {}

    def symbol_of(node: Node) -> sp.Expr:
        if isinstance(node, Scale):
            return node.coefficient * symbol_of(node.argument)
        if isinstance(node, Hadamard):
            return sp.Mul(*(symbol_of(f) for f in node.factors))
        if node not in symbols:
            symbols[node] = sp.Symbol(f"z{len(symbols)}_{latex(node)}", commutative=True)
        return symbols[node]

    total = sp.Add(*(symbol_of(n) for n in nodes))
    back = {s: n for n, s in symbols.items()}
    return _from_sympy(sp.factor(total), back)


def _from_sympy(expression: sp.Expr, back: dict) -> Node:
    if expression in back:
        return back[expression]
    if isinstance(expression, sp.Pow) and expression.base in back and expression.exp.is_Integer \
            and expression.exp > 0:
        return Hadamard((back[expression.base],) * int(expression.exp))
    if isinstance(expression, sp.Mul):
        scalar = sp.Mul(*[f for f in expression.args if not (f.free_symbols & set(back))])
        brackets = [f for f in expression.args if isinstance(f, sp.Add) and f.free_symbols & set(back)]
        if scalar.could_extract_minus_sign() and len(brackets) == 1:  # -(a - b) reads better as (b - a)
            flipped = sp.Mul(-scalar, sp.expand(-brackets[0]), *[f for f in expression.args
                                                                  if f is not brackets[0] and f.free_symbols & set(back)])
            return _from_sympy(flipped, back)
        rest = [_from_sympy(f, back) for f in expression.args if f.free_symbols & set(back)]
        node = _hadamard(rest)
        return node if scalar == 1 else Scale(scalar, node)
    if isinstance(expression, sp.Add):
        return Add(tuple(_from_sympy(t, back) for t in expression.args))
    raise ValueError(f"no matrix form for {expression}")


# ---------------------------------------------------------------- printing

LEAF_LATEX = {"onehot": r"\mathrm{onehot}", "W_q": "W_q", "W_k": "W_k", "W_v": "W_v", "W_o": "W_o"}


def leaf_latex(name: str) -> str:
    if name in LEAF_LATEX:
        return LEAF_LATEX[name]
    if name.startswith("d") and len(name) > 1:
        return r"\mathrm{d}" + leaf_latex(name[1:])
    if "_" in name:  # P_unmasked and other planted leaves
        stem, tail = name.split("_", 1)
        return f"{leaf_latex(stem)}_{{\\mathrm{{{tail.replace('_', ' ')}}}}}"
    return name


def _coefficient_latex(coefficient: sp.Expr) -> str:
    if coefficient == -1:
        return "-"
    return sp.latex(coefficient) + r"\,"


def latex(node: Node) -> str:
    if isinstance(node, Leaf):
        return leaf_latex(node.name)
    if isinstance(node, Transpose):
        inner = latex(node.argument)
        return f"{inner}^\\top" if isinstance(node.argument, Leaf) else f"({inner})^\\top"
    if isinstance(node, MatMul):
        return f"{_wrapped(node.left)}\\,{_wrapped(node.right)}"
    if isinstance(node, Hadamard):
        return r" \odot ".join(_wrapped(f) for f in node.factors)
    if isinstance(node, RowSum):
        return rf"\operatorname{{rowsum}}({latex(node.argument)})\,\mathbf{{1}}^\top"
    if isinstance(node, Scale):
        return _coefficient_latex(node.coefficient) + _wrapped(node.argument)
    if isinstance(node, Add):
        text = latex(node.terms[0])
        for term in node.terms[1:]:
            shown = latex(term)
            text += f" - {shown[1:]}" if shown.startswith("-") else f" + {shown}"
        return text
    raise TypeError(node)


def _wrapped(node: Node) -> str:
    return f"({latex(node)})" if isinstance(node, (Add, Hadamard, Scale)) else latex(node)


def numpy_text(node: Node) -> str:
    if isinstance(node, Leaf):
        return node.name
    if isinstance(node, Transpose):
        return f"{_numpy_wrapped(node.argument)}.T"
    if isinstance(node, MatMul):
        return f"{_numpy_wrapped(node.left)} @ {_numpy_wrapped(node.right)}"
    if isinstance(node, Hadamard):
        return " * ".join(_numpy_wrapped(f) for f in node.factors)
    if isinstance(node, RowSum):
        return f"{_numpy_wrapped(node.argument)}.sum(axis=1, keepdims=True)"
    if isinstance(node, Scale):
        coefficient = str(node.coefficient).replace("sqrt(d)", "np.sqrt(d)")
        return f"-{_numpy_wrapped(node.argument)}" if node.coefficient == -1 else \
            f"({coefficient}) * {_numpy_wrapped(node.argument)}"
    if isinstance(node, Add):
        return " + ".join(numpy_text(t) for t in node.terms).replace("+ -", "- ")
    raise TypeError(node)


def _numpy_wrapped(node: Node) -> str:
    return f"({numpy_text(node)})" if isinstance(node, (Add, Hadamard, Scale, MatMul)) else numpy_text(node)


# ---------------------------------------------------------------- evaluation


class Arithmetic:
    """float64: NumPy as it is."""

    def scalar(self, coefficient: sp.Expr, key_width: int):
        return float(coefficient.subs(D_KEY, key_width))

    def reduce(self, array):
        return array


class SymbolicArithmetic(Arithmetic):
    """Exact: object arrays of SymPy expressions, the scale kept as 1/sqrt(d) exactly."""

    def scalar(self, coefficient: sp.Expr, key_width: int):
        return coefficient.subs(D_KEY, key_width)


class ModularArithmetic(Arithmetic):
    """GF(2^61 - 1) on object arrays of ints; sqrt(d) must exist there (d a quadratic residue)."""

    def scalar(self, coefficient: sp.Expr, key_width: int):
        root = modular_sqrt(key_width)
        value = coefficient.subs(sp.sqrt(D_KEY), sp.Symbol("root")).subs(D_KEY, key_width)
        numerator, denominator = sp.fraction(sp.together(value))
        as_int = sp.lambdify(sp.Symbol("root"), numerator)(root), sp.lambdify(sp.Symbol("root"), denominator)(root)
        return int(as_int[0]) * inverse(int(as_int[1])) % PRIME

    def reduce(self, array):
        return np.asarray(array, dtype=object) % PRIME


def modular_sqrt(value: int) -> int:
    """sqrt in GF(p), p = 3 (mod 4): value^((p+1)/4), checked."""
    root = pow(value % PRIME, (PRIME + 1) // 4, PRIME)
    if root * root % PRIME != value % PRIME:
        raise ValueError(f"{value} has no square root modulo 2^61 - 1")
    return root


def evaluate(node: Node, values: dict, key_width: int, arithmetic: Arithmetic = Arithmetic()):
    """node's value: values maps each leaf name to an array (T x T, T x d, ...)."""
    reduce = arithmetic.reduce
    if isinstance(node, Leaf):
        return values[node.name]
    if isinstance(node, Transpose):
        return np.swapaxes(evaluate(node.argument, values, key_width, arithmetic), -1, -2)
    if isinstance(node, MatMul):  # matmul and the last two axes: a leading batch axis comes for free
        return reduce(np.matmul(evaluate(node.left, values, key_width, arithmetic),
                                evaluate(node.right, values, key_width, arithmetic)))
    if isinstance(node, Hadamard):
        result = evaluate(node.factors[0], values, key_width, arithmetic)
        for factor in node.factors[1:]:
            result = reduce(result * evaluate(factor, values, key_width, arithmetic))
        return result
    if isinstance(node, RowSum):
        return reduce(evaluate(node.argument, values, key_width, arithmetic).sum(axis=-1, keepdims=True))
    if isinstance(node, Scale):
        return reduce(arithmetic.scalar(node.coefficient, key_width)
                      * evaluate(node.argument, values, key_width, arithmetic))
    if isinstance(node, Add):
        result = evaluate(node.terms[0], values, key_width, arithmetic)
        for term in node.terms[1:]:
            result = reduce(result + evaluate(term, values, key_width, arithmetic))
        return result
    raise TypeError(node)
