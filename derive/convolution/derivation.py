"""dX, dW and db of convolution (dX of pooling), found from the forward pass by index calculus.

For an entry V[e] of the input or a parameter, the chain rule over the entries of Y is

    dJ/dV[e] = sum over Y's entries o of G[o] dY[o]/dV[e],

SymPy takes dY[o]/dV[e] (Kronecker deltas), index_calculus.collapse sums them out: the deltas on
n, c, f by substitution, the strided one [i = i0 s + u0 - p] by solving for the output row,
i0 = (i + p - u0) / s, where that is whole and in range. The minus sign in front of u0 is the
rotated kernel: as u0 runs up the kernel, the row of G it meets runs down.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.convolution.forward import LETTERS, ROLES, B, SymbolicLayer, W, X
from derive.convolution.index_calculus import Term, canonical, collapse

BASES = {"X": X, "W": W, "b": B}
NAMES = {"X": "dX", "W": "dW", "b": "db"}


@dataclass(frozen=True)
class IndexGradient:
    """One gradient in index form: the chain-rule sum as SymPy wrote it and its collapse."""

    name: str  # "dX", "dW", "db"
    variable: str  # "X", "W", "b"
    entry: tuple[tuple[sp.Symbol, sp.Expr], ...]  # the entry's letters and their last values
    chain_rule: tuple[Term, ...]  # G * dY/dV[e] with the Kronecker deltas, every forward index summed
    collapsed: tuple[Term, ...]  # deltas summed out, the remaining indices in canonical letters

    @property
    def entry_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(symbol for symbol, _ in self.entry)


@dataclass(frozen=True)
class LayerGradients:
    layer: SymbolicLayer
    gradients: tuple[IndexGradient, ...]

    def by_name(self, name: str) -> IndexGradient:
        return next(g for g in self.gradients if g.name == name)


def chain_rule_terms(layer: SymbolicLayer, variable: str) -> tuple[Term, ...]:
    """sum over the forward's indices of G * dY/dV[e], SymPy's local partial in each term."""
    entry = tuple(symbol for symbol, _ in layer.entry(variable))
    target = BASES[variable][entry]
    terms = []
    for term in layer.cost_terms():
        derivative = sp.diff(term.coefficient, target)
        if derivative != 0:
            terms.append(Term(derivative, term.indices))
    return tuple(terms)


def collapse_terms(terms, entry: tuple[tuple[sp.Symbol, sp.Expr], ...]) -> tuple[Term, ...]:
    ranges = dict(entry)
    return tuple(canonical(collapse(term, ranges), LETTERS_BY_ROLE) for term in terms)


LETTERS_BY_ROLE = {role: LETTERS[role] for role in ROLES}


def derive_gradient(layer: SymbolicLayer, variable: str) -> IndexGradient:
    chain = chain_rule_terms(layer, variable)
    entry = layer.entry(variable)
    return IndexGradient(NAMES[variable], variable, entry, chain, collapse_terms(chain, entry))


def derive_convolution(kind: str = "conv2d") -> LayerGradients:
    """Find the backward pass of `kind` ("conv2d", "conv1d", "maxpool", "avgpool") from its forward pass.

    >>> dX = derive_convolution("conv1d").by_name("dX").collapsed[0]
    >>> dX.coefficient
    G[n, f, (i + p - u)/s]*W[f, c, u]
    >>> [c.numerator for c in dX.conditions]
    [i + p - u]
    """
    layer = SymbolicLayer(kind)
    return LayerGradients(layer, tuple(derive_gradient(layer, v) for v in layer.variables()))
