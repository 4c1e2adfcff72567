"""The mistakes people make in a hand-written backprop through time, each an edit of the derived one.

Each edit takes a RecurrenceDerivation and returns a copy with the derived matrix forms changed
the way the mistake changes the code, so that `backprop verify --layer rnn|lstm` can name the
mistake whose numbers a function reproduces, and so that each proof can be shown to catch it.
An edit that does not apply to the layer (no forget gate in an RNN) raises NotApplicable.
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from derive.recurrence import matrix_form as mf
from derive.recurrence.derivation import RecurrenceDerivation
from derive.recurrence.forward import STEP


class NotApplicable(ValueError):
    """The mistake cannot be made in this layer."""


def _replace(derivation: RecurrenceDerivation, name: str, role: str, matrix) -> RecurrenceDerivation:
    group = {"state": "states", "initial": "initial", "parameter": "parameters"}[role]
    gradients = tuple(dataclasses.replace(g, matrix=matrix) if g.name == name else g
                      for g in getattr(derivation, group))
    return dataclasses.replace(derivation, **{group: gradients})


def _state(derivation, name):
    return next(g for g in derivation.states if g.name == name)


def _without_next_step_terms(node, names: set[str]):
    """An Add with every term that reads one of `names` at t + 1 dropped."""
    terms = tuple(term for term in node.terms
                  if not any(leaf.name in names and leaf.offset == 1 for leaf in mf.leaves(term)))
    if len(terms) == len(node.terms):
        raise NotApplicable("no term reads the next step")
    return terms[0] if len(terms) == 1 else mf.Add(terms)


def _recurrent_deltas(derivation) -> set[str]:
    """The deltas of the equations that read h_{t-1}: dz (RNN), da_i, da_f, da_o, da_g (LSTM)."""
    return {"d" + e.quantity for e in derivation.layer.equations
            if any(str(ix.base) == "h" and ix.indices[0] == STEP - 1 for ix in e.expression.atoms(sp.Indexed))}


def recursion_cut(derivation):
    """dh_t without W_hh^T delta_{t+1}: the term is never computed, so dh_0 is 0 as well."""
    dh = _state(derivation, "h")
    edited = _replace(derivation, "h", "state", _without_next_step_terms(dh.matrix, _recurrent_deltas(derivation)))
    h0 = next(g for g in derivation.initial if g.name == "h")
    return _replace(edited, "h", "initial", mf.Zero(h0.matrix))


def hidden_not_carried(derivation):
    """dh_prev = W_hh^T delta_t is computed (and returned as dh_0) but not added into the previous
    step's dh: inside the sequence the recursion is cut, at the start it is not."""
    dh = _state(derivation, "h")
    return _replace(derivation, "h", "state", _without_next_step_terms(dh.matrix, _recurrent_deltas(derivation)))


def last_step_only(derivation):
    """Every shared parameter's gradient from the last step alone: not summed over time."""
    for gradient in derivation.parameters:
        derivation = _replace(derivation, gradient.name, "parameter",
                              dataclasses.replace(gradient.matrix, last_only=True))
    return derivation


def _shift_h(node):
    """h_{s-1} -> h_s."""
    if isinstance(node, mf.Leaf):
        return mf.Leaf("h", 0) if (node.name, node.offset) == ("h", -1) else node
    if isinstance(node, mf.Transpose):
        return mf.Transpose(_shift_h(node.argument))
    if isinstance(node, mf.MatMul):
        return mf.MatMul(_shift_h(node.left), _shift_h(node.right))
    if isinstance(node, mf.TimeSum):
        return dataclasses.replace(node, argument=_shift_h(node.argument))
    return node


def h_t_for_h_previous(derivation):
    """dW_hh = sum_s delta_s h_s^T: h_t where h_{t-1} belongs (every recurrent weight)."""
    changed = False
    for gradient in derivation.parameters:
        shifted = _shift_h(gradient.matrix)
        if shifted != gradient.matrix:
            derivation, changed = _replace(derivation, gradient.name, "parameter", shifted), True
    if not changed:
        raise NotApplicable("no gradient reads h_{s-1}")
    return derivation


def _prime_of_output(node, outputs: dict):
    """f'(z) -> f'(a) where a = f(z) is the forward's output (outputs: z name -> a name)."""
    if isinstance(node, mf.Apply) and node.function.endswith("_prime") and isinstance(node.argument, mf.Leaf) \
            and node.argument.name in outputs:
        return mf.Apply(node.function, mf.Leaf(outputs[node.argument.name], node.argument.offset))
    if isinstance(node, mf.Hadamard):
        return mf.Hadamard(tuple(_prime_of_output(f, outputs) for f in node.factors))
    if isinstance(node, mf.Add):
        return mf.Add(tuple(_prime_of_output(t, outputs) for t in node.terms))
    return node


def derivative_at_output(derivation):
    """tanh'(h) where tanh'(z) belongs: f' applied to the activation f(z) instead of to z."""
    outputs = {}
    for name, node in derivation.forward:  # h = f(z): f' belongs at z, the mistake puts it at h
        if isinstance(node, mf.Apply) and isinstance(node.argument, mf.Leaf) and node.argument.offset == 0:
            outputs[node.argument.name] = name
    for gradient in derivation.states:
        edited = _prime_of_output(gradient.matrix, outputs)
        if edited != gradient.matrix:
            derivation = _replace(derivation, gradient.name, "state", edited)
    return derivation


def forget_term_missing(derivation):
    """dc_t without dc_{t+1} * f_{t+1}: the cell's own path to the next step dropped."""
    if derivation.layer.kind != "lstm":
        raise NotApplicable("an RNN has no cell state")
    dc = _state(derivation, "c")
    return _replace(derivation, "c", "state", _without_next_step_terms(dc.matrix, {"dc"}))


# (name, what the person did, edit): the order `verify` reports them in
CATALOGUE = (
    ("recursion cut", "the W_hh^T delta_{t+1} term is missing from dh_t (and so dh_0 is 0)", recursion_cut),
    ("not summed over time", "the shared weights' gradients keep only the last step instead of summing over t",
     last_step_only),
    ("h_t for h_{t-1}", "dW_hh uses h_t where h_{t-1} belongs (delta_t h_t^T)", h_t_for_h_previous),
    ("f'(a) for f'(z)", "tanh'(h) in place of tanh'(z): the derivative taken at the activation, not at z",
     derivative_at_output),
    ("forget term missing", "dc_t lacks dc_{t+1} * f_{t+1}: the cell gradient is not carried back",
     forget_term_missing),
    ("hidden gradient not carried", "dh_prev is computed (and returned as dh_0) but not added into the previous "
     "step's dh", hidden_not_carried),
)
