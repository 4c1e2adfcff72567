"""Randomized exact proof: every derived formula against forward-mode differentiation in GF(p).

The second route runs the network forward with dual numbers (value, tangent) modulo a large
prime: each parameter moves along a random direction V, and the tangent of J is the exact
directional derivative sum_w dJ/dw V_w. The derived side evaluates the matrix formulas at the
same point and forms sum_w (formula)_w V_w. Activations are opaque: a(l) and f'(z(l)) are random
values (tied as the activation demands: sigma' = a(1 - a), tanh' = 1 - a^2, relu' in {0, 1}), so
agreement proves the formulas for every f with that derivative rule. A wrong entry survives with
probability about 1/p ~ 4e-19 per direction (Schwartz-Zippel); a failure is bisected to one entry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import sympy as sp

from derive.network.activations import ACTIVATION_TABLE
from derive.network.costs import L2_STRENGTH, scalar_losses
from derive.backward.derivation import Derivation
from derive.proofs.modular import PRIME, evaluate, inverse, opaque_value, random_array, reduce
from derive.network.symbols import SymbolicNetwork
from derive.proofs.result import Proof, ProofCheck

ROUTE = "forward-mode dual numbers modulo 2^61 - 1 at a random point"


@dataclass(frozen=True)
class _Point:
    values: dict  # MatrixSymbol name -> array; (prime name, z name) -> array; "lambda" -> int
    network: SymbolicNetwork


def _activation_values(name: str, z, generator: random.Random, tied: bool):
    """(a, f'(z)) for one layer: independent, non-zero random values unless `tied`.

    Every derived formula holds for any f with its f', so the proof does not tie a and f' by
    the activation's rule (that rule has its own local proof). Tying them would weaken it:
    relu' is 0 or 1, and a layer whose f' came out all 0 hides every wrong formula below it.
    Tied values are for checking a person's formula that writes the rule out (a (1 - a)).
    """
    slopes = ACTIVATION_TABLE[name].slopes
    if tied and slopes is not None:  # piecewise linear: f'(z) one of its slopes, a = f'(z) z
        prime = np.array([_slope(slopes, generator) for _ in range(z.size)], dtype=object).reshape(z.shape)
        return reduce(prime * z), prime
    a = random_array(generator, z.shape, low=2)
    rule = ACTIVATION_TABLE[name].derivative_from_output if tied else None
    if rule is None:
        return a, random_array(generator, z.shape)
    return a, _rule_values(rule, a)


def _slope(slopes: tuple, generator: random.Random) -> int:
    """One of a piecewise-linear activation's slopes (relu: 0 or 1) as an element of GF(p)."""
    slope = slopes[generator.randrange(len(slopes))] if len(slopes) > 1 else slopes[0]
    return int(slope.p) * inverse(int(slope.q)) % PRIME


def tied_scalar(name: str, argument: int, generator: random.Random) -> tuple[int, int]:
    """(f(x), f'(x)) of one argument in GF(p), tied as the activation table says: a slope of a
    piecewise-linear f and f(x) = f'(x) x; f' = rule(f(x)) where the table has the identity
    through the output; otherwise (the generic f) independent random values."""
    entry = ACTIVATION_TABLE[name]
    if entry.slopes is not None:
        prime = _slope(entry.slopes, generator)
        return prime * argument % PRIME, prime
    value = generator.randrange(2, PRIME)
    if entry.derivative_from_output is not None:
        return value, int(entry.derivative_from_output(sp.Integer(value))) % PRIME
    return value, generator.randrange(1, PRIME)


def _rule_values(rule, a):
    """f' from a = f(z) by the activation's rule (sigma' = a (1 - a)), entry by entry in GF(p)."""
    return np.vectorize(lambda v: int(rule(sp.Integer(v))) % PRIME, otypes=[object])(a)


def _linear(network: SymbolicNetwork, previous, weights, biases=None, fill: int = 1):
    """z from a: a W + 1 b (row form) or W a + b 1^T (column form); with Ng's bias unit, a gains
    a column (row) of `fill`: 1 for values, 0 for tangents, since the constant 1 does not move."""
    if network.has_bias_unit:
        shape = (previous.shape[0], 1) if network.is_row else (1, previous.shape[1])
        constant = np.full(shape, fill, dtype=object)
        previous = np.hstack([constant, previous]) if network.is_row else np.vstack([constant, previous])
    z = previous.dot(weights) if network.is_row else weights.dot(previous)
    if biases is not None:
        z = z + biases  # broadcasts the row (column) over the examples
    return reduce(z)


def random_point(network: SymbolicNetwork, seed: int, tied: bool = False) -> _Point:
    """Every named matrix of the network at a random point of GF(p) (see _activation_values)."""
    generator = random.Random(seed)
    values: dict = {"X": random_array(generator, network.inputs.shape)}
    targets = random_array(generator, network.targets.shape)
    if network.spec.output_activation == "softmax":
        # each example's targets sum to 1, the condition the softmax delta is derived under
        axis = 1 if network.is_row else 0
        rest = targets.take(range(targets.shape[axis] - 1), axis=axis).sum(axis=axis)
        if network.is_row:
            targets[:, -1] = reduce(1 - rest)
        else:
            targets[-1, :] = reduce(1 - rest)
    values["y"] = targets
    for quantity in network.parameters():
        values[quantity.name] = random_array(generator, quantity.shape)
    values[L2_STRENGTH.name] = generator.randrange(1, PRIME)
    previous = values["X"]
    for layer in range(2, network.output_layer + 1):
        biases = network.biases(layer - 1)
        z = _linear(network, previous, values[f"W{layer - 1}"], None if biases is None else values[biases.name])
        name = network.spec.activation(layer)
        if name == "softmax":
            exponentials = random_array(generator, z.shape)
            axis = 1 if network.is_row else 0
            totals = exponentials.sum(axis=axis, keepdims=True) % PRIME
            a = reduce(exponentials * np.frompyfunc(inverse, 1, 1)(totals))
            prime = None
        else:
            a, prime = _activation_values(name, z, generator, tied)
            values[(f"{name}_prime", f"z{layer}")] = prime
        values[f"z{layer}"], values[f"a{layer}"] = z, a
        previous = a
    return _Point(values, network)


def _softmax_tangent(network: SymbolicNetwork, a, tangent_z):
    axis = 1 if network.is_row else 0
    weighted = reduce(a * tangent_z).sum(axis=axis, keepdims=True) % PRIME
    return reduce(a * (tangent_z - weighted))


def _dual(expression: sp.Expr, env: dict, cache: dict) -> tuple[int, int]:
    """(value, tangent) of a scalar expression; log's value is an opaque random constant."""
    if expression in cache:
        return cache[expression]
    if isinstance(expression, sp.Symbol):
        result = env[expression]
    elif expression.is_Number:
        result = (int(expression.p) * inverse(int(expression.q)) % PRIME, 0)
    elif isinstance(expression, sp.Add):
        value = tangent = 0
        for term in expression.args:
            v, t = _dual(term, env, cache)
            value, tangent = (value + v) % PRIME, (tangent + t) % PRIME
        result = (value, tangent)
    elif isinstance(expression, sp.Mul):
        value, tangent = 1, 0
        for factor in expression.args:
            v, t = _dual(factor, env, cache)
            value, tangent = value * v % PRIME, (tangent * v + value * t) % PRIME
        result = (value, tangent)
    elif isinstance(expression, sp.Pow) and expression.exp.is_Integer:
        v, t = _dual(expression.base, env, cache)
        n = int(expression.exp)
        power = pow(v, n, PRIME) if n >= 0 else pow(inverse(v), -n, PRIME)
        result = (power, n % PRIME * pow(v, n - 1, PRIME) * t % PRIME if n - 1 >= 0
                  else n % PRIME * pow(inverse(v), 1 - n, PRIME) * t % PRIME)
    elif isinstance(expression, sp.log):
        v, t = _dual(expression.args[0], env, cache)
        result = (hash(expression) % PRIME, t * inverse(v) % PRIME)  # d log u = du / u
    elif type(expression).__name__ in scalar_losses():
        # an opaque scalar function of the cost (Huber's rho): d rho(u) = rho'(u) du, with rho and
        # rho' the fixed values derive.proofs.modular gives the same functions in the formulas
        v, t = _dual(expression.args[0], env, cache)
        name = type(expression).__name__
        result = (opaque_value(name, v), opaque_value(f"{name}_prime", v) * t % PRIME)
    else:
        raise ValueError(f"forward mode cannot evaluate {expression}")
    cache[expression] = result
    return result


def _cost_tangent(point: _Point, a_output, tangent_output, parameter_tangents: dict) -> int:
    network = point.network
    output, targets = network.output, network.targets
    env = {}
    for (i, j) in output.positions():
        env[output.entry(i, j)] = (int(a_output[i, j]), int(tangent_output[i, j]))
        env[targets.entry(i, j)] = (int(point.values["y"][i, j]), 0)
    tangent = _dual(network.data_cost, env, {})[1]
    if network.regularization_factor != 0:
        reg_env = {L2_STRENGTH: (point.values[L2_STRENGTH.name], 0)}
        for quantity in network.parameters():
            if quantity.kind == "weight":
                values = point.values[quantity.name]
                tangents = parameter_tangents.get(quantity.name)
                for (i, j) in quantity.positions():
                    reg_env[quantity.entry(i, j)] = (int(values[i, j]), 0 if tangents is None else int(tangents[i, j]))
        tangent = (tangent + _dual(network.regularization_term, reg_env, {})[1]) % PRIME
    return tangent


def forward_tangent(point: _Point, parameter_tangents: dict, start_layer: int = 1, z_tangent=None) -> int:
    """dJ along the given tangents of the parameters (or of z(start_layer)), exactly mod p."""
    network, values = point.network, point.values
    tangent_a = np.zeros(network.inputs.shape, dtype=object)
    for layer in range(2, network.output_layer + 1):
        previous = values["X"] if layer == 2 else values[f"a{layer - 1}"]
        # product rule: d(a W) = da W + a dW, and db moves z directly
        tangent_z = _linear(network, tangent_a, values[f"W{layer - 1}"], fill=0)
        d_weights = parameter_tangents.get(f"W{layer - 1}")
        if d_weights is not None:
            tangent_z = reduce(tangent_z + _linear(network, previous, d_weights))
        biases = network.biases(layer - 1)
        if biases is not None and biases.name in parameter_tangents:
            tangent_z = reduce(tangent_z + parameter_tangents[biases.name])
        if layer == start_layer and z_tangent is not None:
            tangent_z = reduce(tangent_z + z_tangent)
        name = network.spec.activation(layer)
        if name == "softmax":
            tangent_a = _softmax_tangent(network, values[f"a{layer}"], tangent_z)
        else:
            tangent_a = reduce(values[(f"{name}_prime", f"z{layer}")] * tangent_z)
    return _cost_tangent(point, values[f"a{network.output_layer}"], tangent_a, parameter_tangents)


def _derived_values(derivation: Derivation, point: _Point) -> dict:
    env = dict(point.values)
    for name, formula in derivation.deltas():
        env[name] = evaluate(formula, env)
    for name, formula in derivation.gradients:
        env[f"dJ/d{name}"] = evaluate(formula, env)
    return env


def _pairing(values, direction) -> int:
    return int(reduce(values * direction).sum()) % PRIME


def _bisect(check, positions: list) -> tuple[int, int]:
    """One entry where check(subset) fails, by halving the failing set."""
    while len(positions) > 1:
        half = positions[: len(positions) // 2]
        positions = half if not check(half) else positions[len(half):]
    return positions[0]


def prove_randomized(derivation: Derivation, seed: int = 0) -> Proof:
    """Checks every delta and every parameter gradient at a random point, along random directions."""
    network = derivation.network
    point = random_point(network, seed)
    derived = _derived_values(derivation, point)
    generator = random.Random(seed + 1)
    checks = []

    def masked_direction(shape, positions):
        direction = np.zeros(shape, dtype=object)
        for (i, j) in positions:
            direction[i, j] = generator.randrange(1, PRIME)
        return direction

    for name, _ in derivation.deltas():
        layer = int(name.removeprefix("delta"))
        z = network.pre_activation(layer)

        def holds(positions, name=name, layer=layer, z=z):
            direction = masked_direction(z.shape, positions)
            return forward_tangent(point, {}, layer, direction) == _pairing(derived[name], direction)

        checks.append(_verdict(name, layer, z, holds, derived[name]))
    for quantity in network.parameters():
        layer = int(quantity.name[1:])

        def holds(positions, quantity=quantity):
            direction = masked_direction(quantity.shape, positions)
            return forward_tangent(point, {quantity.name: direction}) == \
                _pairing(derived[f"dJ/d{quantity.name}"], direction)

        checks.append(_verdict(f"dJ/d{quantity.name}", layer, quantity, holds, derived[f"dJ/d{quantity.name}"]))
    checks.extend(_simplified_delta_check(derivation, point))
    return Proof("randomized exact", "every entry of every formula, paired with a random direction, "
                 "equals forward-mode differentiation exactly in GF(2^61 - 1) at a random point",
                 tuple(checks))


def _simplified_delta_check(derivation: Derivation, point: _Point) -> list[ProofCheck]:
    """The shortened output delta equals the chain-rule one once f' is written with a = f(z)."""
    simplified = derivation.simplified_output_delta
    network = derivation.network
    layer = network.output_layer
    name = network.spec.output_activation
    rule = ACTIVATION_TABLE[name].derivative_from_output
    if simplified is None or rule is None or simplified.condition:
        return []  # softmax: the chain-rule delta is itself the short form, checked above
    env = dict(point.values)
    a = env[f"a{layer}"]
    env[(f"{name}_prime", f"z{layer}")] = _rule_values(rule, a)
    chain_rule_value = evaluate(derivation.step(f"delta{layer}").formula, env)
    short_value = evaluate(simplified.formula, env)
    holds = bool(np.array_equal(chain_rule_value, short_value))
    failure = ""
    if not holds:
        rows, columns = np.nonzero(chain_rule_value != short_value)
        failure = f"layer {layer}, entry ({rows[0]}, {columns[0]}): the shortened delta differs"
    return [ProofCheck(f"delta{layer} = {simplified.formula}", layer,
                       f"the chain-rule delta with {name}' written in a = {name}(z), in GF(p)",
                       chain_rule_value.size, holds, failure)]


def _verdict(quantity_name, layer, quantity, holds, derived_values) -> ProofCheck:
    positions = quantity.positions()
    if holds(positions):
        return ProofCheck(quantity_name, layer, ROUTE, len(positions), True)
    entry = _bisect(holds, positions)
    return ProofCheck(quantity_name, layer, ROUTE, len(positions), False,
                      f"layer {layer}, entry {entry}: the formula disagrees with forward-mode "
                      f"differentiation there")
