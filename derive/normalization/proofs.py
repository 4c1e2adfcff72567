"""Three proofs that a derived normalisation gradient is right, each able to fail.

- entrywise: at N x D = 3 x 2 with concrete symbols, the derived matrices equal SymPy's `diff`
  of J = sum G * Y entry by entry (s_t stands for sqrt(v_t + epsilon), so both sides are Laurent
  polynomials and `expand` decides);
- randomized: at any N x D, exactly in GF(2^61 - 1), the derived gradient's inner product with a
  random direction equals the forward pass's derivative along it, computed by dual numbers (a
  second route, forward mode); sqrt exists because epsilon and x are redrawn until var + epsilon
  is a quadratic residue, and p = 3 mod 4 gives sqrt(a) = a^((p+1)/4);
- index level: at symbolic N and D, the chain-rule sum minus the matrix form written back in
  indices collapses to 0 under the rules of index_calculus.
"""

from __future__ import annotations

import random

import numpy as np
import sympy as sp

from derive.proofs.result import LayerProof

from derive.proofs.modular import PRIME, inverse
from derive.normalization import matrix_expression as mx
from derive.normalization.derivation import NormalizationGradients, p, q, reduce_entry
from derive.normalization.errors import check_sizes
from derive.normalization.forward import EPSILON, GAMMA, G, S, XHAT
from derive.normalization.index_calculus import COL, D, N, ROW, Placeholders, fresh_index


ProofResult = LayerProof  # the families' proofs share one result kind (derive/proofs/result.py)


def _symbol_grid(name: str, rows: int, cols: int) -> np.ndarray:
    return np.array([[sp.Symbol(f"{name}_{a}_{b}") for b in range(cols)] for a in range(rows)], dtype=object)


def prove_entrywise(gradients: NormalizationGradients, examples: int = 3, features: int = 2) -> ProofResult:
    """Derived dX, dgamma, dbeta against SymPy's diff of the whole cost, entry by entry.

    Raises:
        NormalizationInputError: a size at which the layer is undefined.
    """
    layer = gradients.layer
    check_sizes(layer.kind, examples, features, layer.unbiased)
    axis = 0 if layer.kind == "batch" else 1
    count = examples if axis == 0 else features
    x, g = _symbol_grid("x", examples, features), _symbol_grid("G", examples, features)
    gamma = np.array([[sp.Symbol(f"gamma_{b}") for b in range(features)]], dtype=object)
    beta = np.array([[sp.Symbol(f"beta_{b}") for b in range(features)]], dtype=object)
    mean = x.sum(axis=axis, keepdims=True) / count
    base = ((x - mean) ** 2).sum(axis=axis, keepdims=True) / (count - 1 if layer.unbiased else count) + EPSILON
    y = gamma * (x - mean) * np.frompyfunc(lambda b: b ** sp.Rational(-1, 2), 1, 1)(base) + beta
    cost = sp.Add(*(g * y).ravel())
    s = np.array([sp.Symbol(f"s_{i}", positive=True) for i in range(base.size)], dtype=object).reshape(base.shape)
    roots = {b: root for b, root in zip(base.ravel(), s.ravel())}

    def oracle(variable):
        derivative = sp.diff(cost, variable).replace(
            lambda e: isinstance(e, sp.Pow) and e.base in roots, lambda e: roots[e.base] ** (2 * e.exp))
        if any(isinstance(e, sp.Pow) and not e.exp.is_Integer for e in derivative.atoms(sp.Pow)):
            raise AssertionError(f"a square root is left in d J / d {variable}: {derivative}")
        return derivative

    values = {"G": g, "Xhat": (x - mean) * np.frompyfunc(lambda v: 1 / v, 1, 1)(s), "gamma": gamma, "s": s,
              "N": examples, "D": features}
    variables = {"dX": x, "dgamma": gamma, "dbeta": beta}
    for gradient in gradients.gradients:
        derived = np.broadcast_to(mx.evaluate(gradient.matrix, values, mx.SymbolicArithmetic()),
                                  variables[gradient.name].shape)
        if any(isinstance(e, float) or (isinstance(e, sp.Basic) and e.has(sp.Float)) for e in derived.ravel()):
            raise AssertionError(f"{gradient.name} evaluated with a float in it: the proof must be exact")
        for index in np.ndindex(*variables[gradient.name].shape):
            variable = variables[gradient.name][index]
            if sp.expand(derived[index] - oracle(variable)) != 0:
                return ProofResult("entrywise", False, (), f"{gradient.name} at d J / d {variable} differs "
                                   f"from SymPy's diff at N x D = {examples} x {features}")
    return ProofResult("entrywise", True, tuple(g.name for g in gradients.gradients))


# ---------------------------------------------------------------- GF(p)

_EULER = (PRIME - 1) // 2
_SQRT = (PRIME + 1) // 4  # p = 3 (mod 4): sqrt(a) = a^((p+1)/4) for a quadratic residue a
_mod = np.frompyfunc(lambda v: int(v) % PRIME, 1, 1)
_inverse = np.frompyfunc(inverse, 1, 1)
_sqrt = np.frompyfunc(lambda a: pow(int(a), _SQRT, PRIME), 1, 1)
_is_residue = np.frompyfunc(lambda a: pow(int(a), _EULER, PRIME) == 1, 1, 1)


def _random(generator: random.Random, shape) -> np.ndarray:
    return np.array([generator.randrange(1, PRIME) for _ in range(int(np.prod(shape)))], dtype=object).reshape(shape)


def _statistics_mod(layer, x, epsilon):
    axis = 0 if layer.kind == "batch" else 1
    count = x.shape[axis]
    divisor = count - 1 if layer.unbiased else count
    mean = _mod(x.sum(axis=axis, keepdims=True) * inverse(count))
    centred = _mod(x - mean)
    variance = _mod((centred * centred).sum(axis=axis, keepdims=True) * inverse(divisor))
    return axis, count, divisor, mean, centred, _mod(variance + epsilon)


def _draw_point(layer, generator, examples, features):
    """x and epsilon with var + epsilon a nonzero quadratic residue for every statistic."""
    epsilon = generator.randrange(1, PRIME)
    x = _random(generator, (examples, features))
    for _ in range(200):  # each redraw succeeds with probability 1/2 per statistic
        axis, *_, base = _statistics_mod(layer, x, epsilon)
        bad = ~np.array(_is_residue(base), dtype=bool) | (base == 0)
        if not bad.any():
            return x, epsilon
        mask = np.broadcast_to(bad, x.shape)
        x = np.where(mask, _random(generator, x.shape), x)
    raise AssertionError("no quadratic residue after 200 redraws")


def directional_derivative(layer, x, gamma, beta, g, epsilon, dx, dgamma, dbeta):
    """d/dt J(x + t dx, gamma + t dgamma, beta + t dbeta) at t = 0, in GF(p), by dual numbers."""
    axis, count, divisor, mean, centred, base = _statistics_mod(layer, x, epsilon)
    dmean = _mod(dx.sum(axis=axis, keepdims=True) * inverse(count))
    dcentred = _mod(dx - dmean)
    dbase = _mod((2 * centred * dcentred).sum(axis=axis, keepdims=True) * inverse(divisor))
    s = _sqrt(base)
    ds = _mod(dbase * _inverse(_mod(2 * s)))  # (sqrt a)' = a' / (2 sqrt a)
    inverse_s = _inverse(s)
    xhat = _mod(centred * inverse_s)
    dxhat = _mod(_mod(dcentred * s - centred * ds) * _mod(inverse_s * inverse_s))
    dy = _mod(dgamma * xhat + _mod(gamma * dxhat) + dbeta)
    return int(_mod((g * dy).sum())), s, xhat


def prove_randomized(gradients: NormalizationGradients, examples: int = 64, features: int = 32,
                     trials: int = 2, seed: int = 0) -> ProofResult:
    """Exact random-point test in GF(2^61 - 1): <derived gradient, direction> = forward-mode derivative.

    A wrong gradient passes one trial with probability about (its degree) / p ~ 1e-17.

    Raises:
        NormalizationInputError: a size at which the layer is undefined.
    """
    layer = gradients.layer
    check_sizes(layer.kind, examples, features, layer.unbiased)
    generator = random.Random(seed)
    zero_matrix = np.zeros((examples, features), dtype=object)
    zero_row = np.zeros((1, features), dtype=object)
    for trial in range(trials):
        x, epsilon = _draw_point(layer, generator, examples, features)
        gamma, beta = _random(generator, (1, features)), _random(generator, (1, features))
        g = _random(generator, (examples, features))
        directions = {"dX": _random(generator, (examples, features)), "dgamma": _random(generator, (1, features)),
                      "dbeta": _random(generator, (1, features))}
        for gradient in gradients.gradients:
            dx = directions["dX"] if gradient.name == "dX" else zero_matrix
            dgamma = directions["dgamma"] if gradient.name == "dgamma" else zero_row
            dbeta = directions["dbeta"] if gradient.name == "dbeta" else zero_row
            expected, s, xhat = directional_derivative(layer, x, gamma, beta, g, epsilon, dx, dgamma, dbeta)
            values = {"G": g, "Xhat": xhat, "gamma": gamma, "s": s, "N": examples, "D": features}
            derived = mx.evaluate(gradient.matrix, values, mx.ModularArithmetic())
            got = int(_mod((np.broadcast_to(derived, directions[gradient.name].shape) * directions[gradient.name]).sum()))
            if got != expected:
                return ProofResult("randomized GF(p)", False, (), f"{gradient.name}: <derived, direction> = {got} but "
                                   f"the forward pass's derivative is {expected} (trial {trial}, N x D = {examples} x {features})")
    return ProofResult("randomized GF(p)", True, tuple(g.name for g in gradients.gradients))


# ---------------------------------------------------------------- symbolic N and D

_BASES = {"G": G, "Xhat": XHAT, "gamma": GAMMA, "s": S}


def to_indexed(node: mx.Node, row, col) -> sp.Expr:
    """A matrix expression's entry (row, col) in index notation, axis sums as SymPy Sums."""
    if isinstance(node, mx.Leaf):
        base = _BASES[node.name]
        return {mx.MATRIX: lambda: base[row, col], mx.ROW_VECTOR: lambda: base[col],
                mx.COLUMN_VECTOR: lambda: base[row]}[node.shape]()
    if isinstance(node, mx.Size):
        return {"N": N, "D": D}[node.name]
    if isinstance(node, mx.Number):
        return sp.Rational(node.numerator, node.denominator)
    if isinstance(node, mx.Power):
        return to_indexed(node.base, row, col) ** node.exponent
    if isinstance(node, mx.Product):
        return sp.Mul(*(to_indexed(f, row, col) for f in node.factors))
    if isinstance(node, mx.Add):
        return sp.Add(*(to_indexed(t, row, col) for t in node.terms))
    if isinstance(node, mx.AxisSum):
        if node.axis == 0:
            k = fresh_index(ROW)
            return sp.Sum(to_indexed(node.argument, k, col), (k, 0, N - 1))
        k = fresh_index(COL)
        return sp.Sum(to_indexed(node.argument, row, k), (k, 0, D - 1))
    raise TypeError(f"not a node of the normalisation grammar: {node!r}")


def prove_index_level(gradients: NormalizationGradients) -> ProofResult:
    """At symbolic N and D: sum of the chain-rule paths - matrix form in indices collapses to 0."""
    for gradient in gradients.gradients:
        chain_rule = sp.Add(*(path.chain_rule for path in gradient.paths))
        placeholders = Placeholders()
        residual = reduce_entry(chain_rule - to_indexed(gradient.matrix, p, q), gradients.layer, placeholders).in_statistics
        # coefficients are rational in N (1/(N - 1) next to 1/N): over one denominator, the sums
        # being placeholder symbols, a zero numerator is zero
        if sp.expand(sp.numer(sp.together(residual))) != 0:
            return ProofResult("index level", False, (), f"{gradient.name}[p, q]: chain rule minus matrix form "
                               f"leaves {placeholders.as_sums(sp.factor(residual))}")
    return ProofResult("index level", True, tuple(g.name for g in gradients.gradients))


def prove_all(gradients: NormalizationGradients, examples: int = 3, features: int = 2) -> tuple[ProofResult, ...]:
    """The three proofs: entrywise at examples x features, randomized at 64 x 32, index level."""
    return (prove_entrywise(gradients, examples, features), prove_randomized(gradients),
            prove_index_level(gradients))
