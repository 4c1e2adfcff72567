"""Matrix forms of recurrent-layer entries: the node grammar, read from collapsed index terms.

An entry like  sum_k W_hh[k, p] dz[t+1, k]  is read back as  W_hh^T dz_{t+1}  by the reading rules
in READING (a table: which index pattern of a contraction gives which product in which
convention); nothing here knows the answer. Every node evaluates with any arithmetic (float64
arrays, GF(p) dual numbers, SymPy objects), prints as LaTeX and as NumPy, and writes itself back
in index notation for the index-level proof.

Leaves carry a step offset: h_{t-1} is Leaf("h", -1) relative to the step the entry is at (t, or
the summation step s inside a TimeSum).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


@dataclass(frozen=True)
class Leaf:
    name: str
    offset: int | None  # step offset; None for a parameter (shared by every step)


@dataclass(frozen=True)
class Transpose:
    argument: object


@dataclass(frozen=True)
class MatMul:
    left: object
    right: object


@dataclass(frozen=True)
class Hadamard:
    factors: tuple


@dataclass(frozen=True)
class Apply:
    function: str  # "tanh", "tanh_prime", ...
    argument: object


@dataclass(frozen=True)
class Add:
    terms: tuple


@dataclass(frozen=True)
class TimeSum:
    """sum over s = 1..T of the argument at step s (every shared parameter's gradient).

    last_only is a planted mistake's: the argument at s = T alone (the sum over steps forgotten)."""
    argument: object
    last_only: bool = False


@dataclass(frozen=True)
class Zero:
    """0 of the argument's shape: a planted mistake's (a term never computed)."""
    argument: object


# ------------------------------------------------------------------ reading rules
# A contraction sum_k A[., .] v[step, k] with A a weight: (which index of A is summed, convention)
# -> how the product is written. Column: v is a column, W v; row: v is a row, v W.
READING = {
    (1, "column"): lambda weight, vector: MatMul(weight, vector),              # W[p, k] v[k]  = (W v)_p
    (0, "column"): lambda weight, vector: MatMul(Transpose(weight), vector),   # W[k, p] v[k]  = (W^T v)_p
    (0, "row"): lambda weight, vector: MatMul(vector, weight),                 # v[k] W[k, p]  = (v W)_p
    (1, "row"): lambda weight, vector: MatMul(vector, Transpose(weight)),      # v[k] W[p, k]  = (v W^T)_p
}
# an entry [p, q] = u[p] v[q] of a weight's gradient: the outer product in each convention
OUTER = {
    "column": lambda left, right: MatMul(left, Transpose(right)),   # u v^T
    "row": lambda left, right: MatMul(Transpose(left), right),      # u^T v
}


class Reader:
    """Reads one collapsed entry (free indices `free`, steps relative to `step`) as a node."""

    def __init__(self, convention: str, step: sp.Symbol, parameters: set[str], free: tuple):
        self.convention, self.step, self.parameters, self.free = convention, step, parameters, free

    def leaf(self, factor) -> tuple[object, tuple]:
        """(node, indices it carries besides the step) of one factor."""
        if isinstance(factor, sp.Indexed):
            name = str(factor.base)
            if name in self.parameters:
                return Leaf(name, None), factor.indices
            offset = sp.simplify(factor.indices[0] - self.step)
            if not offset.is_Integer:
                raise ValueError(f"{factor} is not read at a fixed offset from step {self.step}")
            return Leaf(name, int(offset)), factor.indices[1:]
        if isinstance(factor, sp.Function) and len(factor.args) == 1:
            inner, indices = self.leaf(factor.args[0])
            return Apply(type(factor).__name__, inner), indices
        raise ValueError(f"no matrix form for the factor {factor}")

    def read(self, terms) -> object:
        nodes = tuple(self.read_term(term) for term in terms)
        return nodes[0] if len(nodes) == 1 else Add(nodes)

    def read_term(self, term) -> object:
        number, rest = term.coefficient.as_coeff_Mul()
        if number != 1:
            raise ValueError(f"a coefficient {number} in {term.coefficient}: not a product of entries")
        factors = [self.leaf(f) for f in sp.Mul.make_args(rest)]
        contracted = []
        for index, _, _ in term.limits:
            using = [(node, ix) for node, ix in factors if index in ix]
            weights = [(node, ix) for node, ix in using if isinstance(node, Leaf) and node.offset is None and len(ix) == 2]
            vectors = [(node, ix) for node, ix in using if (node, ix) not in weights]
            if len(weights) != 1 or len(vectors) != 1:
                raise ValueError(f"the sum over {index} in {term.coefficient} is not a weight times a vector")
            (weight, wix), (vector, _) = weights[0], vectors[0]
            product = READING[(wix.index(index), self.convention)](weight, vector)
            other = wix[1 - wix.index(index)]
            factors = [f for f in factors if f not in (weights[0], vectors[0])]
            contracted.append((product, (other,)))
        factors = contracted + factors
        if len(self.free) == 2:  # a weight's gradient: u[p] v[q]
            left = [node for node, ix in factors if ix == (self.free[0],)]
            right = [node for node, ix in factors if ix == (self.free[1],)]
            if len(left) != 1 or len(right) != 1 or len(factors) != 2:
                raise ValueError(f"{term.coefficient} is not an outer product u[p] v[q]")
            return OUTER[self.convention](left[0], right[0])
        if any(ix != self.free for _, ix in factors):
            raise ValueError(f"{term.coefficient}: a factor is not entry {self.free} of a vector")
        nodes = sorted((node for node, _ in factors), key=_factor_order)
        return nodes[0] if len(nodes) == 1 else Hadamard(tuple(nodes))


def _factor_order(node) -> tuple:
    """products first, then deltas, then forward quantities, then f'(.): (W^T d) * o * tanh'(c)."""
    if isinstance(node, (MatMul, Add)):
        return (0, "")
    if isinstance(node, Leaf):
        return (1 if node.name.startswith("d") else 2, node.name, node.offset or 0)
    return (3, node.function)


def substitute(node, name: str, replacement):
    """node with Leaf(name, 0) replaced (the recursion: dh_t's form put into delta_t)."""
    if isinstance(node, Leaf):
        return replacement if (node.name, node.offset) == (name, 0) else node
    if isinstance(node, (Transpose, Apply, TimeSum, Zero)):
        fields = {k: v for k, v in vars(node).items() if k != "argument"}
        return type(node)(**fields, argument=substitute(node.argument, name, replacement))
    if isinstance(node, MatMul):
        return MatMul(substitute(node.left, name, replacement), substitute(node.right, name, replacement))
    if isinstance(node, (Hadamard, Add)):
        parts = tuple(substitute(n, name, replacement) for n in (node.factors if isinstance(node, Hadamard) else node.terms))
        return Hadamard(parts) if isinstance(node, Hadamard) else Add(parts)
    raise TypeError(node)


def leaves(node) -> set:
    if isinstance(node, Leaf):
        return {node}
    if isinstance(node, (Transpose, Apply, TimeSum, Zero)):
        return leaves(node.argument)
    if isinstance(node, MatMul):
        return leaves(node.left) | leaves(node.right)
    return set().union(*(leaves(n) for n in (node.factors if isinstance(node, Hadamard) else node.terms)))


# ------------------------------------------------------------------ evaluation


def evaluate(node, value, functions):
    """The node's value: value(name, offset) gives a leaf's array, functions[name](array) applies f."""
    if isinstance(node, Leaf):
        return value(node.name, node.offset)
    if isinstance(node, Transpose):
        return evaluate(node.argument, value, functions).T
    if isinstance(node, MatMul):
        return evaluate(node.left, value, functions) @ evaluate(node.right, value, functions)
    if isinstance(node, Hadamard):
        result = evaluate(node.factors[0], value, functions)
        for factor in node.factors[1:]:
            result = result * evaluate(factor, value, functions)
        return result
    if isinstance(node, Add):
        result = evaluate(node.terms[0], value, functions)
        for term in node.terms[1:]:
            result = result + evaluate(term, value, functions)
        return result
    if isinstance(node, Apply):
        return functions[node.function](evaluate(node.argument, value, functions))
    if isinstance(node, Zero):
        return evaluate(node.argument, value, functions) * 0
    raise TypeError(f"{node!r} is evaluated by the caller (a TimeSum runs over the steps)")


# ------------------------------------------------------------------ printing

_GREEK = {"delta": r"\delta"}


def leaf_latex(name: str, offset, step: str = "t") -> str:
    if name.startswith("d") and len(name) > 1:
        return r"\mathrm{d}" + leaf_latex(name[1:], offset, step)
    if "_" in name:
        stem, sub = name.split("_", 1)
        stem_tex = {"W": "W", "a": "a", "b": "b"}.get(stem, stem)
        if offset is None:
            return f"{stem_tex}_{{{sub}}}"
        return f"{stem_tex}_{{{sub},{_step(offset, step)}}}"
    if offset is None:
        return name
    return f"{name}_{{{_step(offset, step)}}}"


def _step(offset: int, step: str) -> str:
    if step.isdigit():
        return str(int(step) + offset)
    return step if offset == 0 else f"{step}{offset:+d}"


def latex(node, step: str = "t") -> str:
    if isinstance(node, Leaf):
        return leaf_latex(node.name, node.offset, step)
    if isinstance(node, Transpose):
        return latex(node.argument, step) + r"^{\top}"
    if isinstance(node, MatMul):
        return " ".join(_wrap(latex(n, step), n) for n in (node.left, node.right))
    if isinstance(node, Hadamard):
        return r" \odot ".join(_wrap(latex(n, step), n) for n in node.factors)
    if isinstance(node, Add):
        return " + ".join(latex(n, step) for n in node.terms)
    if isinstance(node, Apply):
        name = node.function
        prime = name.endswith("_prime")
        stem = name[:-6] if prime else name
        command = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\operatorname{relu}",
                   "identity": r"\operatorname{id}"}.get(stem, stem)
        mark = "^{\\prime}" if prime else ""
        return f"{command}{mark}({latex(node.argument, step)})"
    if isinstance(node, TimeSum):
        if node.last_only:
            return latex(node.argument, "T")
        return r"\sum_{s=1}^{T} " + _wrap(latex(node.argument, "s"), node.argument, products=False)
    if isinstance(node, Zero):
        return "0"
    raise TypeError(node)


def _wrap(text: str, node, products: bool = True) -> str:
    return f"\\left({text}\\right)" if isinstance(node, Add) or (isinstance(node, Hadamard) and products) else text


def numpy_text(node, step: str = "t") -> str:
    """The node as one NumPy expression over per-step lists (h[t - 1]) and parameters."""
    if isinstance(node, Leaf):
        return node.name if node.offset is None else f"{node.name}[{_step_code(node.offset, step)}]"
    if isinstance(node, Transpose):
        return numpy_text(node.argument, step) + ".T"
    if isinstance(node, MatMul):
        return " @ ".join(_paren(numpy_text(n, step), n) for n in (node.left, node.right))
    if isinstance(node, Hadamard):
        return " * ".join(_paren(numpy_text(n, step), n) for n in node.factors)
    if isinstance(node, Add):
        return " + ".join(numpy_text(n, step) for n in node.terms)
    if isinstance(node, Apply):
        return f"{node.function}({numpy_text(node.argument, step)})"
    if isinstance(node, Zero):
        return "0"
    if isinstance(node, TimeSum):
        if node.last_only:
            return numpy_text(node.argument, "T")
        return f"sum({numpy_text(node.argument, 's')} for s in range(1, T + 1))"
    raise TypeError(node)


def _step_code(offset: int, step: str) -> str:
    if step.isdigit():
        return str(int(step) + offset)
    return step if offset == 0 else f"{step} {'+' if offset > 0 else '-'} {abs(offset)}"


def _paren(text: str, node) -> str:
    return f"({text})" if isinstance(node, (Add, Hadamard)) else text
