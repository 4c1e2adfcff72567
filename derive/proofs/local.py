"""Local proof: each activation's derivative rule equals SymPy's diff of its formula.

With the generic-f proofs (entrywise or randomized), this carries every formula over to the
chosen activation: a formula proved for every f with f' = d f/dx holds for sigmoid once
sigma' = sigma (1 - sigma) is proved here.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from derive.network.activations import ACTIVATION_TABLE, Activation
from derive.network.costs import cost as cost_entry, scalar_losses
from derive.backward.matrix_ops import is_zero
from derive.proofs.result import Proof, ProofCheck

_x = sp.Symbol("x", real=True)


def output_identity_check(entry: Activation) -> ProofCheck:
    """Proves f'(x) = g(f(x)) for the entry's derivative_from_output g, by SymPy's simplify.

    The generated NumPy code (checks/routes/derived.py) evaluates f' through the activation it has
    already computed, a = f(z), with this identity: sigma' = a (1 - a), tanh' = 1 - a^2. It uses
    an identity only where this check holds.

    >>> from derive.network.activations import activation
    >>> output_identity_check(activation("sigmoid")).holds
    True
    """
    if entry.function is None or entry.derivative_from_output is None:
        return ProofCheck(f"{entry.name}'(x) through f(x)", 0, "no identity in the table", 0, False,
                          f"{entry.name} has no derivative_from_output")
    a = entry.function(_x)
    written = entry.derivative_from_output(a)
    holds = sp.simplify(written - sp.diff(a, _x)) == 0
    return ProofCheck(f"{entry.name}'(x) = {entry.derivative_from_output(sp.Symbol('a'))}, a = {entry.name}(x)",
                      0, f"SymPy diff of {a}", 1, holds,
                      "" if holds else f"the output identity for {entry.name}' differs from SymPy's diff")


@lru_cache(maxsize=None)  # the rules do not depend on the network: prove each once per process
def _elementwise_check(name: str) -> ProofCheck:
    entry = ACTIVATION_TABLE[name]
    rule, sympy_diff = entry.derivative(_x), sp.diff(entry.function(_x), _x)
    if entry.kink:
        # Heaviside(x, 0) against SymPy's Heaviside(x): compare on each side of the kink.
        positive, negative = sp.Symbol("x", positive=True), sp.Symbol("x", negative=True)
        holds = all(sp.simplify((rule - sympy_diff).subs(_x, s)) == 0 for s in (positive, negative))
        return ProofCheck(f"{name}'(x) = {rule}", 0, f"SymPy diff of {entry.function(_x)}, for x != 0",
                          1, holds, "" if holds else f"{name}' differs from SymPy's diff")
    # one check per activation (the write-ups list them): the rule, then the identity through f(x)
    failure = "" if sp.simplify(rule - sympy_diff) == 0 else f"the rule for {name}' differs from SymPy's diff"
    if not failure and entry.derivative_from_output is not None:
        failure = output_identity_check(entry).failure
    return ProofCheck(f"{name}'(x)", 0, f"SymPy diff of {entry.function(_x)}", 1, not failure, failure)


@lru_cache(maxsize=None)
def proved_output_identity(name: str) -> bool:
    """True when `name`'s derivative_from_output is in the table and proved (output_identity_check)."""
    entry = ACTIVATION_TABLE.get(name)
    return entry is not None and entry.derivative_from_output is not None and output_identity_check(entry).holds


@lru_cache(maxsize=None)
def _softmax_check(units: int) -> ProofCheck:
    """d softmax_j / d z_k = yhat_j ([j = k] - yhat_k), at the output's own width."""
    z = sp.symbols(f"z0:{units}", real=True)
    total = sp.Add(*[sp.exp(v) for v in z])
    outputs = [sp.exp(v) / total for v in z]
    exponentials = {sp.exp(v): sp.Symbol(f"E{i}", positive=True) for i, v in enumerate(z)}
    # both sides are rational in exp(z_i): name each exp (subs also catches exp(2 z) = exp(z)**2)
    # and test the difference for 0 exactly
    holds = all(is_zero((sp.diff(outputs[j], z[k]) - outputs[j] * (int(j == k) - outputs[k])).subs(exponentials))
                for j in range(units) for k in range(units))
    return ProofCheck(f"d softmax_j/d z_k = yhat_j([j = k] - yhat_k), {units} units", 0,
                      "SymPy diff of exp(z_j)/sum exp(z)", units ** 2, holds,
                      "" if holds else "softmax's Jacobian rule is wrong")


@lru_cache(maxsize=None)
def _scalar_loss_check(name: str) -> ProofCheck:
    """A cost's rho' rule against SymPy's diff of its piecewise rho, on every piece.

    Each piece is covered by a family of points in a positive symbol s (1 + s is every r > 1,
    s/(1 + s) every r in (0, 1)), and the joins by their own points, so the rule is proved on
    the whole real line, not sampled.
    """
    entry = scalar_losses()[name]
    s = sp.Symbol("s", positive=True)
    rule, sympy_diff = entry.derivative(_x), sp.diff(entry.function(_x), _x)
    holds = bool(entry.pieces) and all(sp.simplify((rule - sympy_diff).subs(_x, point(s))) == 0
                                       for point in entry.pieces)
    return ProofCheck(f"{name}'(x) = {rule}", 0, f"SymPy diff of {entry.function(_x)}, on each piece",
                      len(entry.pieces), holds, "" if holds else f"the rule for {name}' differs from SymPy's diff")


def prove_activation_rules(names: set[str], softmax_units: int = 3, cost: str | None = None) -> Proof:
    """Proves the derivative rule of each named activation ("f" needs none: it is generic).

    Args:
        names: the activations used.
        softmax_units: the softmax output's width; its Jacobian rule is proved at that width.
        cost: the cost; one written through a scalar function (Huber's rho) has its rho' proved too.
    """
    checks = []
    for name in sorted(names):
        entry = ACTIVATION_TABLE[name]
        if entry.is_generic:
            continue
        checks.append(_elementwise_check(name) if entry.is_elementwise else _softmax_check(softmax_units))
    if cost is not None and cost_entry(cost).scalar is not None:
        checks.append(_scalar_loss_check(cost))
    caveat = "; ".join(ACTIVATION_TABLE[name].kink for name in sorted(names) if ACTIVATION_TABLE[name].kink)
    return Proof("local", "each activation's derivative rule equals SymPy's diff of its formula, so "
                 "the formulas proved for a generic f hold for it", tuple(checks), caveat)
