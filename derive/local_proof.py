"""Local proof: each activation's derivative rule equals SymPy's diff of its formula.

With the generic-f proofs (entrywise or randomized), this carries every formula over to the
chosen activation: a formula proved for every f with f' = d f/dx holds for sigmoid once
sigma' = sigma (1 - sigma) is proved here.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from derive.activations import ACTIVATION_TABLE
from derive.proof import Proof, ProofCheck

_x = sp.Symbol("x", real=True)
_SOFTMAX_UNITS = 3


@lru_cache(maxsize=None)  # the rules do not depend on the network: prove each once per process
def _elementwise_check(name: str) -> ProofCheck:
    entry = ACTIVATION_TABLE[name]
    rule, sympy_diff = entry.derivative(_x), sp.diff(entry.function(_x), _x)
    if name == "relu":
        # Heaviside(x, 0) against SymPy's Heaviside(x): compare on each side of the kink.
        positive, negative = sp.Symbol("x", positive=True), sp.Symbol("x", negative=True)
        holds = all(sp.simplify((rule - sympy_diff).subs(_x, s)) == 0 for s in (positive, negative))
        return ProofCheck(f"{name}'(x) = Heaviside(x, 0)", 0, "SymPy diff of Max(0, x), for x != 0",
                          1, holds, "" if holds else "relu' differs from SymPy's diff")
    holds = sp.simplify(rule - sympy_diff) == 0
    from_output = entry.derivative_from_output
    if holds and from_output is not None:
        holds = sp.simplify(from_output(entry.function(_x)) - sympy_diff) == 0
    return ProofCheck(f"{name}'(x)", 0, f"SymPy diff of {entry.function(_x)}", 1, holds,
                      "" if holds else f"the rule for {name}' differs from SymPy's diff")


@lru_cache(maxsize=None)
def _softmax_check() -> ProofCheck:
    """d softmax_j / d z_k = yhat_j ([j = k] - yhat_k), for 3 units."""
    z = sp.symbols(f"z0:{_SOFTMAX_UNITS}", real=True)
    total = sp.Add(*[sp.exp(v) for v in z])
    outputs = [sp.exp(v) / total for v in z]
    holds = all(sp.simplify(sp.diff(outputs[j], z[k]) - outputs[j] * (int(j == k) - outputs[k])) == 0
                for j in range(_SOFTMAX_UNITS) for k in range(_SOFTMAX_UNITS))
    return ProofCheck("d softmax_j/d z_k = yhat_j([j = k] - yhat_k)", 0, "SymPy diff of exp(z_j)/sum exp(z)",
                      _SOFTMAX_UNITS ** 2, holds, "" if holds else "softmax's Jacobian rule is wrong")


def prove_activation_rules(names: set[str]) -> Proof:
    """Proves the derivative rule of each named activation ("f" needs none: it is generic)."""
    checks = []
    for name in sorted(names):
        if name == "f":
            continue
        checks.append(_softmax_check() if name == "softmax" else _elementwise_check(name))
    return Proof("local", "each activation's derivative rule equals SymPy's diff of its formula, so "
                 "the formulas proved for a generic f hold for it", tuple(checks),
                 "relu'(0) is taken as 0; SymPy's Heaviside(0) is 1/2" if "relu" in names else "")
