"""The proof that the delta recursion runs through the norm: the chained backward equals SymPy's
diff of the whole network's cost, entry by entry, at a small size.

Every input, weight, gamma, beta and target is a SymPy symbol; the activations are the table's
opaque functions (so the result holds for any f); epsilon is a positive symbol. The same forward
pass builds J; the chained backward (derive.normalization.network.backward) is evaluated on the
same symbolic arrays. For each parameter entry, chained minus diff(J, entry) must cancel to 0:
after imposing sum_k y[n, k] = 1 where the output delta assumed it, each exp(...), f(...),
f'(...) and (var + eps)^(k/2) is read as an independent symbol and the difference is a rational
function that cancels exactly (no floating point, no sampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive.network.costs import cost as cost_entry, reduction_factor
from derive.normalization.network import backward, pieces_of
from derive.normalization.network_arithmetic import SymbolicNumbers
from derive.program.norm_net import NormNet, build_net, forward_pass

PROOF_LIMIT = 60  # parameter entries: each is a diff of the whole cost and a cancellation


@dataclass(frozen=True)
class NetworkProof:
    net_text: str
    examples: int
    inputs: int
    entries: int  # parameter entries compared
    failures: tuple[str, ...]  # "W1[0, 2]" where chained - diff did not cancel
    condition: str

    @property
    def holds(self) -> bool:
        return not self.failures

    def text(self) -> str:
        verdict = "holds" if self.holds else f"FAILS at {', '.join(self.failures)}"
        return (f"entrywise against SymPy's diff of the whole network cost ({self.net_text}, "
                f"N = {self.examples}, D = {self.inputs}, {self.entries} parameter entries): {verdict}")


def symbolic_arrays(net: NormNet) -> tuple[np.ndarray, dict, np.ndarray]:
    """X, the parameters and the targets Y as object arrays of real symbols."""
    def matrix(name, rows, columns):
        return np.array([[sp.Symbol(f"{name}_{i}_{j}", real=True) for j in range(columns)] for i in range(rows)],
                        dtype=object)

    X = matrix("x", net.examples, net.inputs)
    parameters = {name: matrix(name, *shape) for name, shape in net.parameters()}
    return X, parameters, matrix("y", net.examples, net.outputs)


def network_cost(net: NormNet, output: np.ndarray, targets: np.ndarray) -> sp.Expr:
    loss = cost_entry(net.cost).example_loss
    total = sp.Add(*[loss(list(targets[n]), list(output[n])) for n in range(net.examples)])
    return reduction_factor(net.reduction, net.examples) * total


def _targets_constraint(targets: np.ndarray) -> dict:
    """y[n, K-1] = 1 - sum of the others: each example's targets sum to 1."""
    return {row[-1]: 1 - sum(row[:-1]) for row in targets}


def _as_rational(expression: sp.Expr, names: dict) -> sp.Expr:
    """exp(..), the activations and their derivatives, and (var + eps)^(k/2) as plain symbols."""
    def symbol_for(atom):
        # SymPy writes 1/exp(z) as exp(-z) and exp(z)^2 as exp(2 z): each is read as a power of
        # the one symbol for exp(z)
        if isinstance(atom, sp.exp):
            argument = atom.args[0]
            content, rest = argument.primitive() if isinstance(argument, sp.Add) else argument.as_coeff_Mul()
            if rest.could_extract_minus_sign():
                content, rest = -content, -rest
            if content != 1:
                return symbol_for(sp.exp(rest)) ** content
        if atom not in names:
            names[atom] = sp.Dummy(f"u{len(names)}")
        return names[atom]

    opaque = lambda e: isinstance(e, sp.exp) or (isinstance(e, sp.Function) and type(e).__module__ != "sympy"
                                                and not isinstance(e, sp.log))
    expression = expression.replace(opaque, symbol_for)
    # s = sqrt(var + eps): every power of a base that appears under a square root, as a power of s
    bases = {power.base for power in expression.atoms(sp.Pow) if power.exp.is_Rational and power.exp.q == 2}
    roots = {base: sp.Dummy(f"s{index}", positive=True) for index, base in enumerate(sorted(bases, key=sp.default_sort_key))}
    return expression.replace(lambda e: isinstance(e, sp.Pow) and e.base in roots and e.exp.is_Rational,
                              lambda power: roots[power.base] ** int(power.exp * 2))


def prove_network(net: NormNet) -> NetworkProof:
    """Chained backward minus diff(J) cancels at every parameter entry (see the module docstring)."""
    entries = sum(rows * columns for _, (rows, columns) in net.parameters())
    if entries > PROOF_LIMIT:
        raise ValueError(f"the entrywise network proof runs at {PROOF_LIMIT} parameter entries or fewer; "
                         f"this net has {entries}")
    numbers = SymbolicNumbers()
    X, parameters, targets = symbolic_arrays(net)
    tape = forward_pass(net, X, parameters, numbers)
    J = network_cost(net, tape.output, targets)
    chained = backward(net, tape, parameters, targets, numbers)
    pieces = pieces_of(net)
    constraint = _targets_constraint(targets) if pieces.condition else {}
    failures, names = [], {}
    for name, (rows, columns) in net.parameters():
        for i in range(rows):
            for j in range(columns):
                difference = chained[name][i, j] - sp.diff(J, parameters[name][i, j])
                difference = _as_rational(sp.expand_log(difference.xreplace(constraint), force=True), names)
                if sp.cancel(sp.together(difference)) != 0:
                    failures.append(f"{name}[{i}, {j}]")
    return NetworkProof(net.text.text, net.examples, net.inputs, entries, tuple(failures), pieces.condition)


def proof_net(text: str = "dense(3) batchnorm relu dense(2) softmax", inputs: int = 2, examples: int = 3,
              **options) -> NormNet:
    return build_net(text, inputs, examples, **options)
