"""The backward pass of a net with norms, chained from derived pieces; nothing here is a formula.

Each piece was found by a derivation and is read from it, never typed:

- the output delta, the dense layer's three rules (dJ/dH = Delta W^T, dJ/dW = H^T Delta,
  dJ/db = 1^T Delta) and each activation's dJ/dz = dJ/da (.) f'(z): from derivation_of(spec) of a
  plain network with the same activations and cost (its matrix-form search found them);
- each norm's dX, dgamma, dbeta: from derive_normalization (index calculus), with G the delta
  arriving from above.

The recursion walks the layers from the output down; derive.normalization.network_proof proves the
chained result against SymPy's diff of the whole network's cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from derive.backward.derivation import Derivation, derivation_of
from derive.backward.matrix_ops import EntrywiseMap
from derive.network.spec import parse_spec
from derive.normalization import matrix_expression as mx
from derive.normalization.derivation import NormalizationGradients, derive_normalization
from derive.program.norm_layers import KIND_OF, NORM_LAYERS
from derive.program.norm_net import NetActivation, NetDense, NormNet, Tape


@dataclass(frozen=True)
class Piece:
    """One derived rule: the donor's formula, which of its matrices play which role, where it came from."""

    formula: sp.MatrixExpr
    roles: tuple[tuple[str, str], ...]  # (the donor's matrix name, role in the net: delta, W, input, ...)
    source: str

    def evaluate(self, values: dict, numbers) -> np.ndarray:
        """The formula with each role's array (float64 or SymPy object arrays) in place of its matrix."""
        by_name = {name: values[role] for name, role in self.roles}
        return _value(self.formula, by_name, numbers)

    def latex(self, names: dict[str, str]) -> str:
        """The formula with each role's display name (role -> H3, Delta4, W2, y)."""
        from derive.writeup.latex_printer import latex

        renamed = {symbol: sp.MatrixSymbol(names[dict(self.roles)[symbol.name]], *symbol.shape)
                   for symbol in self.formula.atoms(sp.MatrixSymbol)}
        return display_names(latex(self.formula.xreplace(renamed)))


def display_names(text: str) -> str:
    r"""\mathrm{H3}^{\top} -> H^{(3)\top}; \mathrm{Delta3} -> \Delta^{(3)} (the printer knows a, z, W only)."""
    def named(match):
        letter = "H" if match.group(1) == "H" else r"\Delta"
        transposed = r"\top" if match.group(3) else ""
        return letter + "^{(" + match.group(2) + ")" + transposed + "}"

    return re.sub(r"\\mathrm\{(H|Delta)(\d+)\}(\^\{\\top\})?", named, text)


@dataclass(frozen=True)
class NetPieces:
    """Every derived rule the net's backward reads."""

    output_delta: Piece
    condition: str  # what the output delta assumes, e.g. each example's targets sum to 1
    dense_input: Piece
    dense_weight: Piece
    dense_bias: Piece
    activations: dict[str, Piece]
    norms: dict[str, NormalizationGradients]  # by layer name


def donor_spec(net: NormNet, hidden: str):
    """The plain net whose derivation supplies the dense, activation and output rules: D-2-K."""
    return parse_spec(f"2-2-{net.outputs}", activation=hidden, output_activation=net.output_activation,
                      cost=net.cost, reduction=net.reduction, bias="vector", m=net.examples)


def _describe(spec) -> str:
    hidden, output = spec.activations[0], spec.activations[-1]
    return f"derivation_of({'-'.join(map(str, spec.sizes))}, {hidden}, {output}, {spec.cost}, {spec.reduction})"


def _output_piece(derivation: Derivation, source: str) -> tuple[Piece, str]:
    roles = (("a3", "output"), ("y", "targets"), ("z3", "input"))
    simplified = derivation.simplified_output_delta
    if simplified is not None:
        return Piece(simplified.formula, roles, f"{source}: its simplified output delta"), simplified.condition
    return Piece(derivation.step("delta3").formula, roles, f"{source}: step delta3"), ""


@lru_cache(maxsize=None)
def pieces_of(net: NormNet) -> NetPieces:
    """Read every rule off the derivations (cached per net: the donors are derived once)."""
    hidden = net.hidden_activations or ("identity",)
    donors = {name: (derivation_of(donor_spec(net, name)), _describe(donor_spec(net, name))) for name in hidden}
    first, first_source = donors[hidden[0]]
    output_delta, condition = _output_piece(first, first_source)
    activations = {}
    for name, (derivation, source) in donors.items():
        # the hidden delta is dJ/da2 (.) f'(z2); dJ/da2 becomes the role "upstream"
        upstream = sp.MatrixSymbol("upstream", *derivation.step("dJ_da2").formula.shape)
        formula = derivation.step("delta2").formula.xreplace({derivation.step("dJ_da2").formula: upstream})
        if upstream not in formula.atoms(sp.MatrixSymbol):
            raise ValueError(f"the hidden delta of {source} is not dJ/da2 times f'(z2): {formula}")
        activations[name] = Piece(formula, (("upstream", "upstream"), ("z2", "input")),
                                  f"{source}: step delta2 with dJ/da2 as the upstream gradient")
    norms = {name: derive_normalization(KIND_OF[name], net.unbiased)
             for name in dict.fromkeys(layer.name for layer in net.layers) if name in NORM_LAYERS}
    return NetPieces(
        output_delta, condition,
        Piece(first.step("dJ_da2").formula, (("delta3", "delta"), ("W2", "W")), f"{first_source}: step dJ_da2"),
        Piece(first.gradient("W2"), (("a2", "input"), ("delta3", "delta")), f"{first_source}: dJ/dW2"),
        Piece(first.gradient("b2"), (("delta3", "delta"),), f"{first_source}: dJ/db2"),
        activations, norms)


def norm_gradients(gradients: NormalizationGradients, upstream, forward, gamma, numbers) -> dict:
    """dX (N x D), dgamma and dbeta (1 x D) of one norm with G = the delta arriving from above."""
    N, D = upstream.shape
    values = {"G": upstream, "Xhat": forward.xhat, "gamma": gamma, "s": forward.s, "N": N, "D": D}
    result = {}
    for gradient in gradients.gradients:
        value = np.asarray(mx.evaluate(gradient.matrix, values, numbers.arithmetic), dtype=numbers.dtype)
        shape = (N, D) if gradient.name == "dX" else (1, D)
        result[gradient.name] = np.array(np.broadcast_to(value, shape))
    return result


def backward(net: NormNet, tape: Tape, parameters: dict, targets, numbers) -> dict[str, np.ndarray]:
    """dJ/d(every parameter), and dJ/dH(k) as "dH{k}", by the delta recursion through the derived pieces."""
    pieces = pieces_of(net)
    last = len(net.layers) - 1
    upstream = pieces.output_delta.evaluate(
        {"output": tape.output, "targets": targets, "input": tape.values[last]}, numbers)
    result = {f"dH{last}": upstream}
    for position in range(last - 1, -1, -1):
        layer, below = net.layers[position], tape.values[position]
        if isinstance(layer, NetDense):
            weights, bias = (name for name, _ in layer.parameters())
            result[weights] = pieces.dense_weight.evaluate({"input": below, "delta": upstream}, numbers)
            result[bias] = pieces.dense_bias.evaluate({"delta": upstream}, numbers)
            upstream = pieces.dense_input.evaluate({"delta": upstream, "W": parameters[weights]}, numbers)
        elif isinstance(layer, NetActivation):
            upstream = pieces.activations[layer.activation].evaluate({"upstream": upstream, "input": below}, numbers)
        else:
            gamma, beta = (name for name, _ in layer.parameters())
            found = norm_gradients(pieces.norms[layer.name], upstream, tape.norms[position],
                                   parameters[gamma], numbers)
            result[gamma], result[beta], upstream = found["dgamma"], found["dbeta"], found["dX"]
        result[f"dH{position}"] = upstream
    return result


# ---------------------------------------------------------------- the donors' matrix expressions on arrays

def _value(expression, values: dict, numbers):
    if isinstance(expression, sp.MatrixSymbol):
        return values[expression.name]
    if isinstance(expression, sp.Transpose):
        return _value(expression.arg, values, numbers).T
    if isinstance(expression, sp.OneMatrix):
        return numbers.ones(tuple(int(size) for size in expression.shape))
    if isinstance(expression, sp.MatMul):
        scalar, matrices = expression.as_coeff_matrices()
        result = _value(matrices[0], values, numbers)
        for matrix in matrices[1:]:
            result = result.dot(_value(matrix, values, numbers))
        return result * numbers.scalar(scalar) if scalar != 1 else result
    if isinstance(expression, sp.MatAdd):
        terms = [_value(term, values, numbers) for term in expression.args]
        return sum(terms[1:], terms[0])
    if isinstance(expression, sp.HadamardProduct):
        factors = [_value(factor, values, numbers) for factor in expression.args]
        result = factors[0]
        for factor in factors[1:]:
            result = result * factor
        return result
    if isinstance(expression, EntrywiseMap):
        if len(expression.matrices) != 1:
            raise ValueError(f"an entrywise map of {len(expression.matrices)} matrices in a derived rule: {expression}")
        return numbers.entrywise(expression.function, _value(expression.matrices[0], values, numbers))
    raise ValueError(f"a derived rule holds {type(expression).__name__}, which the net's backward cannot evaluate")
