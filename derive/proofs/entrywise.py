"""Entrywise proof: each derived formula minus SymPy's diff of the whole cost is exactly zero.

The strongest statement we make, and the most expensive: J is built as one expression of the
inputs and parameters, and SymPy differentiates it by each parameter (and by each z, for the
deltas). The derived side is the matrix formula's entry with every delta, a and z replaced by
its definition. Both sides are then polynomials (rational functions for a concrete activation)
in the same atoms f(...), f'(...), exp(...); renaming each distinct atom to a fresh symbol and
finding the difference identically zero proves the identity for all values of those atoms.
"""

from __future__ import annotations

import sympy as sp

from derive.backward.derivation import Derivation, target_sum_constraint
from derive.backward.matrix_ops import entry_of, is_zero
from derive.network.activations import ACTIVATION_TABLE
from derive.network.symbols import SymbolicNetwork, forward_values, with_concrete_activations
from derive.proofs.result import Proof, ProofCheck
from derive.network.spec import NetworkSpec

# Beyond this many parameters the whole-cost expression grows too fast (KNOWN.md: 14 s at
# 2-4-4-4-1 the naive way); the randomized exact proof covers larger nets.
# Measured: 2-3-1 (m = 4, 36 units of work) 0.2 s, 2-2-2 with biases (48) 0.8 s, 2-4-4-4-1 (176) 13 s.
ENTRYWISE_WORK_LIMIT = 64


# With the activations written out (1/(1 + exp(-x))) both sides are rational functions whose
# expansion grows fast and unpredictably: 2-1 with m = 1 takes 0.08 s, 1-1 with m = 4 took 50 s,
# the XOR net 2-3-1 with m = 4 took 47 s.
CONCRETE_WORK_LIMIT = 2


def affordable(spec: NetworkSpec, concrete: bool = False) -> bool:
    """Whether the whole-cost oracle is cheap enough: parameters times examples, and depth."""
    limit = CONCRETE_WORK_LIMIT if concrete else ENTRYWISE_WORK_LIMIT
    return spec.parameter_count * spec.m <= limit and spec.layer_count <= 4


def _rename_atoms(*expressions: sp.Expr) -> list[sp.Expr]:
    """Each distinct function application (f(...), exp(...), ...) becomes one fresh symbol."""
    atoms = set()
    for expression in expressions:
        atoms |= expression.atoms(sp.Function)
    mapping = {atom: sp.Dummy(f"atom{index}") for index, atom in enumerate(sorted(atoms, key=sp.default_sort_key))}
    return [expression.xreplace(mapping) for expression in expressions]


def _identically_zero(difference: sp.Expr) -> bool:
    (renamed,) = _rename_atoms(difference)
    return is_zero(renamed)


def _relu_tie(expression: sp.Expr) -> sp.Expr:
    # Our relu'(0) = 0 is Heaviside(z, 0); SymPy's diff of Max(0, z) gives Heaviside(z), which
    # is 1/2 at 0. They agree wherever relu has a derivative, so the proof compares them there.
    return expression.replace(lambda e: isinstance(e, sp.Heaviside), lambda e: sp.Heaviside(e.args[0]))


def _delta_values(derivation: Derivation) -> dict[sp.Symbol, sp.Expr]:
    """Every delta entry written without delta symbols (each formula fed the later ones)."""
    network = derivation.network
    values: dict[sp.Symbol, sp.Expr] = {}
    for name, formula in derivation.deltas():
        layer = int(name.removeprefix("delta"))
        delta = network.delta(layer)
        for position in delta.positions():
            values[delta.entry(*position)] = sp.expand(entry_of(formula, *position).xreplace(values))
    return values


def _softmax_constraint(network: SymbolicNetwork) -> dict:
    return target_sum_constraint(network) if network.spec.output_activation == "softmax" else {}


def prove_entrywise(derivation: Derivation, concrete: bool) -> Proof:
    """Proves every delta and gradient formula against SymPy's diff, entry by entry.

    Args:
        derivation: the derived rule.
        concrete: False proves it with the generic opaque f of each layer (so for every
            activation); True with each layer's concrete formula (sigmoid = 1/(1 + exp(-x))).
    """
    spec = derivation.spec
    network = derivation.network
    deltas = _delta_values(derivation)
    constraint = _softmax_constraint(network)
    route = "SymPy diff of J, " + ("with " + ", ".join(sorted(set(spec.activations))) if concrete
                                   else "activations left as undefined functions")
    checks = []
    for name, formula in derivation.deltas():
        layer = int(name.removeprefix("delta"))
        checks.append(_check(network, name, layer, formula, network.delta(layer), start=layer,
                             deltas=deltas, concrete=concrete, constraint=constraint, route=route,
                             variable=lambda p, layer=layer: network.pre_activation(layer).entry(*p)))
    for parameter in network.parameters():
        layer = int(parameter.name[1:])
        checks.append(_check(network, f"dJ/d{parameter.name}", layer, derivation.gradient(parameter.name),
                             parameter, start=1, deltas=deltas, concrete=concrete, constraint=constraint,
                             route=route, variable=lambda p, q=parameter: q.entry(*p)))
    caveat = ""
    kinks = [ACTIVATION_TABLE[name].kink for name in sorted(set(spec.activations)) if ACTIVATION_TABLE[name].kink]
    if concrete and kinks:
        caveat = "compared where z != 0; " + "; ".join(kinks)
    if constraint:
        caveat = (caveat + "; " if caveat else "") + "softmax: both sides use sum_k y[n, k] = 1"
    return Proof("entrywise", "every entry of every formula minus SymPy's diff of the whole cost "
                 "expands to exactly 0", tuple(checks), caveat)


def _check(network, quantity, layer, formula, target, *, start, deltas, concrete, constraint, route, variable):
    spec = network.spec
    forward = forward_values(spec, start)
    cost = network.cost.xreplace(forward)
    if spec.output_activation == "softmax":
        # log(exp(z_k) / sum_j exp(z_j)) = z_k - log sum_j exp(z_j) for real z: the same J,
        # written so that its derivative does not carry the quotient rule through every term.
        cost = sp.expand_log(cost, force=True)
    if concrete:
        cost = with_concrete_activations(cost, spec)
    for position in target.positions():
        oracle = sp.diff(cost, variable(position))
        derived = entry_of(formula, *position).xreplace(deltas).xreplace(forward)
        if concrete:
            derived = _relu_tie(with_concrete_activations(derived, spec))
        if constraint:
            oracle, derived = oracle.xreplace(constraint), derived.xreplace(constraint)
        if not _identically_zero(derived - oracle):
            return ProofCheck(quantity, layer, route, target.size, False,
                              f"layer {layer}, entry {position}: the formula and SymPy's diff differ")
    return ProofCheck(quantity, layer, route, target.size, True)
