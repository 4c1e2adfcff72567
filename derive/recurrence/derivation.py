"""Backprop through time found from the forward pass: every gradient by the chain rule over entries.

For a quantity q read by later equations, dJ/dq[t, p] is a sum over its consumers. The consumers are
found by scanning the equations for a read of q and solving the read's step for the consumer's step
(z[s] reads h[s - 1], so h at t is read by z at s = t + 1: that is where W_hh^T delta_{t+1} comes
from, for the same reason as W(2)^T in a dense network). Each consumer contributes

    sum_u d<consumer>[s, u] * d consumer[s, u] / d q[t, p]

with SymPy's own local partial (Kronecker deltas), collapsed by index_calculus and read as a matrix
product by matrix_form. A shared parameter is read by the consumer at every step, so its chain rule
also sums over s = 1..T -- the same argument as the sum over examples of a dense layer: a shared
weight gets a gradient from every place it is used. The sum over s stays symbolic (general T).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from derive.recurrence import matrix_form as mf
from derive.recurrence.forward import STEP, T, UNIT, RecurrentLayer, base, recurrent_layer
from derive.recurrence.index_calculus import collapse, solve_step

t = sp.Symbol("t", integer=True)  # the step a state gradient is at
p, q = sp.symbols("p q", integer=True)  # the entry being differentiated
u = sp.Symbol("u", integer=True)  # the consumer's entry, summed


@dataclass(frozen=True)
class ChainTerm:
    """One consumer's contribution: the chain-rule sum as SymPy writes it, and collapsed."""

    consumer: str
    step: sp.Expr  # the consumer's step (t, t + 1, 1, or s inside the sum over steps)
    chain_rule: sp.Expr
    collapsed: sp.Expr


@dataclass(frozen=True)
class Gradient:
    """dJ/d(name): its entry (index form), the chain terms it came from, and its matrix form."""

    name: str
    role: str  # "state" (at step t), "initial" (h_0, c_0) or "parameter" (summed over steps)
    entry: sp.Expr
    terms: tuple[ChainTerm, ...]
    matrix: object

    @property
    def delta(self) -> str:
        return "d" + self.name


@dataclass(frozen=True)
class RecurrenceDerivation:
    layer: RecurrentLayer
    forward: tuple[tuple[str, object], ...]  # (quantity, matrix form of one step)
    states: tuple[Gradient, ...]  # backward order: each reads only deltas found before it or at t + 1
    initial: tuple[Gradient, ...]
    parameters: tuple[Gradient, ...]
    recursion: tuple[str, object] | None  # the RNN's delta_t with dh_t put in

    @property
    def gradients(self) -> tuple[Gradient, ...]:
        return self.states + self.initial + self.parameters

    def gradient(self, name: str) -> Gradient:
        return next(g for g in self.gradients if g.name == name)

    @property
    def outputs(self) -> tuple[Gradient, ...]:
        """What a backward returns: every parameter's gradient, the initial states' and dx."""
        return self.parameters + self.initial + (self.gradient("x"),)


def reads(layer: RecurrentLayer, quantity: str, target: sp.Expr):
    """(equation, consumer step) for every equation that reads `quantity` at step `target`."""
    found = []
    for equation in layer.equations:
        read_steps = {ix.indices[0] for ix in equation.expression.atoms(sp.Indexed) if str(ix.base) == quantity}
        for read in sorted(read_steps, key=sp.default_sort_key):
            found.append((equation, solve_step(read, STEP, target)))
    return found


def _chain_term(equation, step, variable) -> ChainTerm:
    local = sp.diff(equation.expression.xreplace({STEP: step, UNIT: u}), variable)
    chain = sp.Sum(base("d" + equation.quantity)[step, u] * local, (u, 0, equation.width - 1))
    collapsed = collapse(chain)
    return ChainTerm(equation.quantity, step, chain, sp.Add(*(term.as_expr() for term in collapsed)))


def _state_gradient(layer: RecurrentLayer, quantity: str, at, role: str) -> Gradient:
    """dJ/d quantity[at, p]: consumers at steps outside 1..T are dropped (none reads h_0 at step 0)."""
    parameters = {param.name for param in layer.parameters}
    chain_terms, terms = [], []
    for equation, step in reads(layer, quantity, at):
        if step.is_Integer and not 1 <= step:
            continue
        term = _chain_term(equation, step, base(quantity)[at, p])
        chain_terms.append(term)
        terms += collapse(term.chain_rule)
    step_symbol = t if role == "state" else sp.Integer(0)
    reader = mf.Reader(layer.convention, step_symbol, parameters, (p,))
    entry = sp.Add(*(term.collapsed for term in chain_terms))
    return Gradient(quantity, role, entry, tuple(chain_terms), reader.read(terms))


def _parameter_gradient(layer: RecurrentLayer, parameter) -> Gradient:
    names = {param.name for param in layer.parameters}
    free = (p, q)[:len(parameter.shape)]
    variable = base(parameter.name)[free]
    chain_terms, terms = [], []
    for equation in layer.equations:
        if any(str(ix.base) == parameter.name for ix in equation.expression.atoms(sp.Indexed)):
            term = _chain_term(equation, STEP, variable)
            chain_terms.append(term)
            terms += collapse(term.chain_rule)
    summand = mf.Reader(layer.convention, STEP, names, free).read(terms)
    entry = sp.Sum(sp.Add(*(term.collapsed for term in chain_terms)), (STEP, 1, T))
    return Gradient(parameter.name, "parameter", entry, tuple(chain_terms), mf.TimeSum(summand))


def forward_matrices(layer: RecurrentLayer) -> tuple[tuple[str, object], ...]:
    """Each equation read as one step's matrix form (z_s = W_xh x_s + W_hh h_{s-1} + b)."""
    names = {param.name for param in layer.parameters}
    reader = mf.Reader(layer.convention, STEP, names, (UNIT,))
    return tuple((e.quantity, reader.read(collapse(e.expression))) for e in layer.equations)


@lru_cache(maxsize=None)
def derive_recurrence(kind: str = "rnn", convention: str = "column", activation: str = "tanh") -> RecurrenceDerivation:
    """Find every gradient of an RNN or LSTM from its forward pass (see the module docstring).

    >>> print(mf.latex(derive_recurrence("rnn").gradient("W_hh").matrix))
    \\sum_{s=1}^{T} \\mathrm{d}z_{s} h_{s-1}^{\\top}
    """
    layer = recurrent_layer(kind, convention, activation)
    computed = [e.quantity for e in layer.equations if e.quantity != "y"]
    states = tuple(_state_gradient(layer, name, t, "state") for name in reversed(computed)) + (
        _state_gradient(layer, "x", t, "state"),)
    initial = tuple(_state_gradient(layer, name, sp.Integer(0), "initial") for name in layer.initial)
    parameters = tuple(_parameter_gradient(layer, param) for param in layer.parameters)
    recursion = None
    if kind == "rnn":
        dz = next(g for g in states if g.name == "z")
        dh = next(g for g in states if g.name == "h")
        recursion = ("z", mf.substitute(dz.matrix, "dh", dh.matrix))
    return RecurrenceDerivation(layer, forward_matrices(layer), states, initial, parameters, recursion)
