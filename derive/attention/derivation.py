"""The attention block's gradients, found from its forward pass by index calculus.

For a matrix M read by stages s1, s2, ... (each with output Out_s and upstream gradient dOut_s),
the chain rule over the graph gives one sum per stage, and they add where the paths meet:

    dM[p, q] = sum_s sum_{i, c} dOut_s[i, c] * dOut_s[i, c] / dM[p, q]

SymPy takes each local partial (a Kronecker delta where an index must match), index_calculus sums
the deltas out, the softmax's own definition renames exp(A) / Z back to P, and matrix_form reads
each surviving monomial back as a matrix (a shared summed index is a product, a row-only one a row
sum) and collects them. Nothing of the answer is typed in: only the forward stages of forward.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.attention import matrix_form as mf
from derive.attention.forward import SIZES, STAGES, Stage, base, exp_to_softmax, name_softmax
from derive.attention.index_calculus import Term, as_sum, collapse_all, renamed, substitute

p, q = sp.symbols("p q", integer=True, nonnegative=True)  # the entry being differentiated
_i, _c = sp.symbols("i_out c_out", integer=True)
CONSTANTS = ("B", "onehot")  # the mask and the one-hot tokens: inputs with no gradient


@dataclass(frozen=True)
class Path:
    """The chain-rule sum through one consuming stage, and what it collapsed to."""

    stage: str
    chain_rule: sp.Expr  # sum_{i,c} dOut[i,c] dOut[i,c]/dM[p,q], SymPy's own partials inside
    collapsed: tuple[Term, ...]  # deltas summed out, exp(A) named P
    matrix: mf.Node


@dataclass(frozen=True)
class Gradient:
    """dM for one matrix M: its paths and the matrix form found from them."""

    name: str  # "dQ"
    of: str  # "Q"
    paths: tuple[Path, ...]
    matrix: mf.Node

    def latex(self) -> str:
        return mf.latex(self.matrix)

    def equation_latex(self) -> str:
        return f"{mf.leaf_latex(self.name)} = {self.latex()}"

    def numpy_text(self) -> str:
        return f"{self.name} = {mf.numpy_text(self.matrix)}"


@dataclass(frozen=True)
class Program:
    """A block's stages and its backward program: the gradients in the order they can be computed."""

    stages: tuple[str, ...]
    top: str  # the upstream gradient given to the program, "dY"
    gradients: tuple[Gradient, ...]

    def gradient(self, name: str) -> Gradient:
        return next(g for g in self.gradients if g.name == name)

    def replace(self, name: str, matrix: mf.Node) -> "Program":
        """A copy with one gradient's matrix replaced (the planted mistakes)."""
        return Program(self.stages, self.top, tuple(
            Gradient(g.name, g.of, g.paths, matrix) if g.name == name else g for g in self.gradients))


def chain_rule(stage: Stage, of: str) -> sp.Expr:
    """sum over the stage's output entries of dOut * (SymPy's partial of the entry by of[p, q])."""
    rows, cols = (SIZES[s] for s in stage.shape)
    local = sp.diff(stage.entry(_i, _c), base(of)[p, q])
    return sp.Sum(base("d" + stage.output)[_i, _c] * local, (_i, 0, rows - 1), (_c, 0, cols - 1))


def collapse_path(stage: Stage, chain: sp.Expr) -> list[Term]:
    """Deltas summed out; through the softmax, exp(A) / Z renamed P (and Z checked to cancel)."""
    terms = collapse_all(name_softmax(chain))
    if stage.name == "softmax":
        terms = substitute(terms, exp_to_softmax)
        left = [t for t in terms if t.coefficient.has(base("Z")) or t.coefficient.has(sp.exp)]
        if left:
            raise ValueError(f"the softmax's normaliser does not cancel: {as_sum(left[0])}")
    return [renamed(t) for t in terms]


def derive_path(stage: Stage, of: str) -> Path:
    chain = chain_rule(stage, of)
    terms = collapse_path(stage, chain)
    matrix = mf.factor_terms([mf.read_term(t, p, q) for t in terms])
    return Path(stage.name, chain, tuple(terms), matrix)


def backward_order(stage_names: tuple[str, ...]) -> list[str]:
    """Every non-constant input, once all the stages reading it have passed, walking backwards."""
    stages = [STAGES[s] for s in stage_names]
    readers = {}
    for stage in stages:
        for name in stage.inputs:
            readers.setdefault(name, []).append(stage.name)
    order, visited = [], set()
    for stage in reversed(stages):
        visited.add(stage.name)
        for name in stage.inputs:
            if name not in CONSTANTS and name not in order and set(readers[name]) <= visited:
                order.append(name)
    return order


def derive_program(stage_names: tuple[str, ...]) -> Program:
    """Find every gradient of a block (a tuple of forward.STAGES names in forward order)."""
    stages = [STAGES[s] for s in stage_names]
    gradients = []
    for name in backward_order(stage_names):
        paths = tuple(derive_path(stage, name) for stage in stages if name in stage.inputs)
        terms = [mf.read_term(t, p, q) for path in paths for t in path.collapsed]
        gradients.append(Gradient("d" + name, name, paths, mf.factor_terms(terms)))
    return Program(tuple(stage_names), "d" + stages[-1].output, tuple(gradients))
