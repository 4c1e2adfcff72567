"""Three proofs that the derived backprop through time is right, each able to fail.

- entrywise: at a concrete T (2 or 3) and tiny widths, the forward pass is unrolled from the index
  form itself (every sum expanded by SymPy, no matrix form involved), J = sum_s dy_s . y_s, and
  SymPy's diff of J by every parameter, initial state and input entry must equal the derived
  backward run on the same symbols. All entries come from one diff, of J(theta + eps u) by eps,
  where u has one symbol per entry, and the identity is checked coefficient by coefficient. The activations stay opaque (f and f'), so the proof holds
  for every activation of the table at once;
- randomized: at realistic sizes, exactly in GF(2^61 - 1), <derived gradients, a random direction>
  equals the forward pass's derivative along that direction computed by dual numbers (forward
  mode, a second route). Each activation is replaced by a random cubic over GF(p) (and f' by its
  derivative): the derived formulas are written in f and f', so they must hold for every f;
- index level: at symbolic T and widths, with the sum over steps s = 1..T left symbolic, each
  gradient's matrix form written back in indices equals its chain-rule sum after both are
  collapsed; a state's entry holds at a general step t, with delta_{T+1} = 0 and dy_0 = 0 at the
  ends (no consumer outside 1..T).
"""

from __future__ import annotations

import random

import numpy as np
import sympy as sp

from derive.proofs.result import LayerProof

from derive.network.activations import opaque_pair
from derive.proofs.modular import PRIME
from derive.recurrence import matrix_form as mf
from derive.recurrence.derivation import RecurrenceDerivation, p, q, t
from derive.recurrence.errors import check_steps
from derive.recurrence.evaluate import run_backward, run_forward
from derive.recurrence.forward import D, H, M, STEP, T, UNIT, base
from derive.recurrence.index_calculus import canonical, collapse, fresh


ProofResult = LayerProof  # the families' proofs share one result kind (derive/proofs/result.py)


def output_names(derivation: RecurrenceDerivation) -> tuple[str, ...]:
    return tuple(g.name for g in derivation.parameters) + tuple(f"{g.name}_0" for g in derivation.initial) + ("x",)


# ------------------------------------------------------------------ shapes


def _sizes(hidden: int, inputs: int, outputs: int) -> dict:
    return {H: hidden, D: inputs, M: outputs}


def shapes(derivation: RecurrenceDerivation, sizes: dict, batch: int = 1) -> dict:
    """Array shape of every parameter and every step's vectors (2-D, see evaluate)."""
    layer = derivation.layer
    found = {}
    for parameter in layer.parameters:
        dims = tuple(int(d.subs(sizes)) for d in parameter.shape)  # SymPy sizes (H, D, M) of the layer
        found[parameter.name] = dims if len(dims) == 2 else ((dims[0], 1) if layer.column else (1, dims[0]))
    for name, width in layer.widths.items():
        w = int(width.subs(sizes))
        found[name] = (w, batch) if layer.column else (batch, w)
    return found


# ------------------------------------------------------------------ entrywise


def _symbols(stem: str, shape) -> np.ndarray:
    return np.array([[sp.Symbol(f"{stem}_{a}_{b}") for b in range(shape[1])] for a in range(shape[0])], dtype=object)


def _vector_symbols(stem: str, shape, column: bool) -> np.ndarray:
    width = shape[0] if column else shape[1]
    entries = np.array([sp.Symbol(f"{stem}_{j}") for j in range(width)], dtype=object)
    return entries.reshape(shape)


def symbolic_point(derivation, steps: int, sizes: dict):
    shape = shapes(derivation, sizes)
    layer = derivation.layer
    parameters = {}
    for parameter in layer.parameters:
        parameters[parameter.name] = (_symbols(parameter.name, shape[parameter.name]) if len(parameter.shape) == 2
                                      else _vector_symbols(parameter.name, shape[parameter.name], layer.column))
    xs = [_vector_symbols(f"x_{s}", shape["x"], layer.column) for s in range(1, steps + 1)]
    initial = {name: _vector_symbols(f"{name}_0", shape[name], layer.column) for name in layer.initial}
    dys = [_vector_symbols(f"dy_{s}", shape["y"], layer.column) for s in range(1, steps + 1)]
    return parameters, xs, initial, dys


def _entries(array) -> list:
    return list(np.asarray(array, dtype=object).ravel())


def unrolled_cost(derivation, steps: int, sizes: dict, parameters, xs, initial, dys) -> sp.Expr:
    """J = sum_s dy_s . y_s with the forward pass unrolled from the index form (sums expanded)."""
    layer = derivation.layer
    values = {name: {0: _entries(initial[name])} for name in layer.initial}
    values["x"] = {s: _entries(x) for s, x in enumerate(xs, 1)}
    flat = {name: np.asarray(value, dtype=object) for name, value in parameters.items()}

    def entry(indexed):
        name = str(indexed.base)
        if name in flat:
            array = flat[name]
            return array[tuple(indexed.indices)] if array.ndim == 2 and len(indexed.indices) == 2 \
                else array.ravel()[indexed.indices[0]]
        return values[name][int(indexed.indices[0])][int(indexed.indices[1])]

    for s in range(1, steps + 1):
        for equation in layer.equations:
            width = int(equation.width.subs(sizes))
            row = []
            for unit in range(width):
                written = equation.expression.xreplace({STEP: s, UNIT: unit}).subs(sizes).doit()
                row.append(written.replace(lambda e: isinstance(e, sp.Indexed), entry))
            values.setdefault(equation.quantity, {})[s] = row
    return sp.Add(*(dy * y for s in range(1, steps + 1) for dy, y in zip(_entries(dys[s - 1]), values["y"][s])))


def symbolic_functions(derivation) -> dict:
    functions = {}
    for name in derivation.layer.activations:
        f, prime = opaque_pair(name)
        functions[name] = np.frompyfunc(f, 1, 1)
        functions[f"{name}_prime"] = np.frompyfunc(prime, 1, 1)
    return functions


class OpaqueNames:
    """Each application of an opaque f or f' to a (canonically expanded) argument as one symbol.

    Equal arguments give the same symbol, so after naming, both sides are polynomials in symbols
    and their difference is 0 exactly when it is 0 as a polynomial. The arguments are expanded once
    each, bottom up, instead of inside every product."""

    def __init__(self, names: set[str]):
        self.names, self.applications, self.seen = names, {}, {}

    def __call__(self, expression: sp.Expr) -> sp.Expr:
        if expression.is_Atom:
            return expression
        if expression in self.seen:
            return self.seen[expression]
        if isinstance(expression, sp.Function) and type(expression).__name__ in self.names:
            key = (type(expression).__name__, sp.expand(self(expression.args[0])))
            result = self.applications.setdefault(key, sp.Symbol(f"opaque_{len(self.applications)}"))
        else:
            result = expression.func(*(self(argument) for argument in expression.args))
        self.seen[expression] = result
        return result


def _entry_pairs(derivation, derived: dict, variables: dict, xs) -> list[tuple[str, sp.Expr, sp.Symbol]]:
    """(gradient name, derived entry, the variable it is the derivative by), every entry of every output."""
    pairs = []
    for name in output_names(derivation):
        if name == "x":
            got = _entries(np.concatenate([np.asarray(d).ravel() for d in derived["x"]]))
            pairs += [("x", g, v) for g, v in zip(got, [v for x in xs for v in _entries(x)])]
        else:
            pairs += [(name, g, v) for g, v in zip(_entries(derived[name]), _entries(variables[name]))]
    return pairs


def _shifted(array, shift: dict) -> np.ndarray:
    return np.vectorize(lambda entry: shift.get(entry, entry), otypes=[object])(np.asarray(array, dtype=object))


def directional_derivative(derivation, steps: int, sizes: dict, parameters, xs, initial, dys,
                           direction: dict) -> sp.Expr:
    """SymPy's d/d(eps) of J(theta + eps u) at eps = 0, the forward pass unrolled from the index form.

    One diff gives every entry at once: the coefficient of the direction symbol u_i is dJ/d(theta_i),
    so a polynomial identity in the u_i is the entrywise identity, each entry separately (the u_i
    occur nowhere else). Diffing J by each of the ~40 entries in turn costs 6x more at T = 3."""
    eps = sp.Dummy("epsilon")
    shift = {variable: variable + eps * u for variable, u in direction.items()}
    cost = unrolled_cost(derivation, steps, sizes, {n: _shifted(v, shift) for n, v in parameters.items()},
                         [_shifted(x, shift) for x in xs],
                         {n: _shifted(v, shift) for n, v in initial.items()}, dys)
    return sp.diff(cost, eps).xreplace({eps: 0})


def prove_entrywise(derivation: RecurrenceDerivation, steps: int = 2, hidden: int = 2, inputs: int = 1,
                    outputs: int = 1) -> ProofResult:
    """Derived backward = SymPy's diff of the unrolled cost, every entry, at concrete T and tiny widths."""
    check_steps(steps)
    sizes = _sizes(hidden, inputs, outputs)
    parameters, xs, initial, dys = symbolic_point(derivation, steps, sizes)
    functions = symbolic_functions(derivation)
    forward = run_forward(derivation, parameters, xs, initial, functions)
    derived = run_backward(derivation, parameters, forward, dys, functions)
    variables = dict(parameters, **{f"{name}_0": value for name, value in initial.items()})
    pairs = _entry_pairs(derivation, derived, variables, xs)
    direction = {variable: sp.Symbol(f"u_{k}") for k, (_, _, variable) in enumerate(pairs)}
    named = OpaqueNames(set(functions))
    by_diff = named(directional_derivative(derivation, steps, sizes, parameters, xs, initial, dys, direction))
    by_derivation = sp.Add(*(direction[variable] * named(got) for _, got, variable in pairs))
    # exact sparse polynomial arithmetic over QQ: the same canonical form as sp.expand, 5x faster here
    symbols = sorted(by_diff.free_symbols | by_derivation.free_symbols, key=str)
    ring, *_ = sp.polys.rings.ring(symbols, sp.QQ)
    monomials = (ring(by_diff) - ring(by_derivation)).monoms()
    for name, _, variable in pairs:
        position = symbols.index(direction[variable])
        if any(monomial[position] for monomial in monomials):
            return ProofResult("entrywise", False, (), f"d{name}: dJ/d{variable} differs from SymPy's diff "
                               f"(T = {steps}, H = {hidden})")
    if monomials:  # both sides are linear in the u_i, so this is a term without any: not a gradient's
        return ProofResult("entrywise", False, (), "a difference free of every direction symbol")
    return ProofResult("entrywise", True, output_names(derivation))


# ------------------------------------------------------------------ GF(p)


class Dual:
    """a + b e with e^2 = 0, over GF(p): the tangent b carries a directional derivative."""

    __slots__ = ("value", "tangent")

    def __init__(self, value, tangent=0):
        self.value, self.tangent = value % PRIME, tangent % PRIME

    def __add__(self, other):
        other = other if isinstance(other, Dual) else Dual(other)
        return Dual(self.value + other.value, self.tangent + other.tangent)

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Dual) else Dual(other)
        return Dual(self.value * other.value, self.value * other.tangent + self.tangent * other.value)

    __rmul__ = __mul__


def random_cubic(generator: random.Random):
    """(f, f') for f(z) = a z^3 + b z^2 + c z + d with random coefficients over GF(p)."""
    a, b, c, d = (generator.randrange(1, PRIME) for _ in range(4))

    def f(z):
        return ((z * a + b) * z + c) * z + d

    def prime(z):
        return (z * (3 * a) + 2 * b) * z + c

    return np.frompyfunc(f, 1, 1), np.frompyfunc(prime, 1, 1)


def _random_duals(generator, shape, direction: bool) -> tuple[np.ndarray, np.ndarray]:
    values = [generator.randrange(PRIME) for _ in range(int(np.prod(shape)))]
    tangents = [generator.randrange(PRIME) if direction else 0 for _ in values]
    duals = np.array([Dual(v, d) for v, d in zip(values, tangents)], dtype=object).reshape(shape)
    return duals, np.array(tangents, dtype=object).reshape(shape)


def _pairing(gradient, direction) -> int:
    return sum(int(g.value) * int(d) for g, d in zip(np.asarray(gradient).ravel(), np.asarray(direction).ravel())) % PRIME


def randomized_once(derivation, generator, steps, sizes, along: set) -> tuple[int, int]:
    """(sum of <derived gradient, direction> over `along`, forward-mode derivative along the direction)."""
    shape = shapes(derivation, sizes)
    functions = {}
    for name in derivation.layer.activations:
        functions[name], functions[f"{name}_prime"] = random_cubic(generator)
    parameters, directions = {}, {}
    for parameter in derivation.layer.parameters:
        parameters[parameter.name], directions[parameter.name] = _random_duals(
            generator, shape[parameter.name], parameter.name in along)
    initial = {}
    for name in derivation.layer.initial:
        initial[name], directions[f"{name}_0"] = _random_duals(generator, shape[name], f"{name}_0" in along)
    xs, x_directions = zip(*(_random_duals(generator, shape["x"], "x" in along) for _ in range(steps)))
    dys = [_random_duals(generator, shape["y"], False)[0] for _ in range(steps)]
    forward = run_forward(derivation, parameters, list(xs), initial, functions)
    cost = sum((dy * y).sum() for dy, y in zip(dys, forward.values["y"][1:]))
    derived = run_backward(derivation, parameters, forward, dys, functions)
    paired = sum(_pairing(derived[name], directions[name]) for name in along if name != "x")
    if "x" in along:
        paired += sum(_pairing(g, d) for g, d in zip(derived["x"], x_directions))
    return paired % PRIME, int(cost.tangent)


def prove_randomized(derivation: RecurrenceDerivation, steps: int = 6, hidden: int = 8, inputs: int = 5,
                     outputs: int = 3, trials: int = 1, seed: int = 0) -> ProofResult:
    """Exact random-point test over GF(2^61 - 1): all gradients at once, then the failing one named."""
    check_steps(steps)
    sizes = _sizes(hidden, inputs, outputs)
    names = output_names(derivation)
    for trial in range(trials):
        got, expected = randomized_once(derivation, random.Random(seed + trial), steps, sizes, set(names))
        if got != expected:
            wrong = [n for n in names if len(set(randomized_once(derivation, random.Random(seed + trial), steps,
                                                                  sizes, {n}))) == 2]
            return ProofResult("randomized GF(p)", False, (), f"d{', d'.join(wrong) or '?'}: <derived, direction> "
                               f"differs from the forward-mode derivative (T = {steps}, H = {hidden}, trial {trial})")
    return ProofResult("randomized GF(p)", True, names)


# ------------------------------------------------------------------ symbolic T and widths


def node_shape(node, derivation) -> tuple:
    """Symbolic (rows, cols) of a node."""
    layer = derivation.layer
    if isinstance(node, mf.Leaf):
        if node.offset is None:
            parameter = next(x for x in layer.parameters if x.name == node.name)
            return parameter.shape if len(parameter.shape) == 2 else \
                ((parameter.shape[0], 1) if layer.column else (1, parameter.shape[0]))
        name = node.name[1:] if node.name.startswith("d") and node.name[1:] in layer.widths else node.name
        width = layer.widths[name]
        return (width, 1) if layer.column else (1, width)
    if isinstance(node, mf.Transpose):
        return node_shape(node.argument, derivation)[::-1]
    if isinstance(node, mf.MatMul):
        return node_shape(node.left, derivation)[0], node_shape(node.right, derivation)[1]
    if isinstance(node, (mf.Apply, mf.TimeSum, mf.Zero)):
        return node_shape(node.argument, derivation)
    return node_shape((node.factors if isinstance(node, mf.Hadamard) else node.terms)[0], derivation)


def to_indexed(node, derivation, row, col, step) -> sp.Expr:
    """Entry (row, col) of a node at `step`, in index notation (sums as SymPy Sums)."""
    if isinstance(node, mf.Leaf):
        if node.offset is None:
            parameter = next(x for x in derivation.layer.parameters if x.name == node.name)
            if len(parameter.shape) == 2:
                return base(node.name)[row, col]
            return base(node.name)[row if derivation.layer.column else col]
        return base(node.name)[step + node.offset, row if derivation.layer.column else col]
    if isinstance(node, mf.Transpose):
        return to_indexed(node.argument, derivation, col, row, step)
    if isinstance(node, mf.MatMul):
        inner = node_shape(node.left, derivation)[1]
        if inner == 1:
            return to_indexed(node.left, derivation, row, 0, step) * to_indexed(node.right, derivation, 0, col, step)
        k = fresh("k")
        return sp.Sum(to_indexed(node.left, derivation, row, k, step) * to_indexed(node.right, derivation, k, col, step),
                      (k, 0, inner - 1))
    if isinstance(node, mf.Hadamard):
        return sp.Mul(*(to_indexed(f, derivation, row, col, step) for f in node.factors))
    if isinstance(node, mf.Add):
        return sp.Add(*(to_indexed(f, derivation, row, col, step) for f in node.terms))
    if isinstance(node, mf.Apply):
        name = node.function
        function = opaque_pair(name[:-6])[1] if name.endswith("_prime") else opaque_pair(name)[0]
        return function(to_indexed(node.argument, derivation, row, col, step))
    if isinstance(node, mf.Zero):
        return sp.Integer(0)
    if isinstance(node, mf.TimeSum):
        if node.last_only:
            return to_indexed(node.argument, derivation, row, col, T)
        return sp.Sum(to_indexed(node.argument, derivation, row, col, STEP), (STEP, 1, T))
    raise TypeError(node)


def _entry_position(gradient, derivation) -> tuple:
    if gradient.role == "parameter" and isinstance(gradient.matrix, mf.TimeSum) and \
            len(next(x for x in derivation.layer.parameters if x.name == gradient.name).shape) == 2:
        return p, q
    return (p, 0) if derivation.layer.column else (0, p)


def prove_index_level(derivation: RecurrenceDerivation) -> ProofResult:
    """Chain-rule sum minus matrix form in indices collapses to 0, at symbolic T, H, D, M and step t."""
    for gradient in derivation.gradients:
        chain = sp.Add(*(term.chain_rule for term in gradient.terms))
        if gradient.role == "parameter":
            chain = sp.Sum(chain, (STEP, 1, T))
        step = t if gradient.role == "state" else sp.Integer(0)
        written = to_indexed(gradient.matrix, derivation, *_entry_position(gradient, derivation), step)
        if sp.expand(canonical(collapse(chain)) - canonical(collapse(written))) != 0:
            return ProofResult("index level", False, (), f"d{gradient.name}: the matrix form "
                               f"{mf.latex(gradient.matrix)} is not the chain-rule sum {gradient.entry}")
    return ProofResult("index level", True, tuple(g.name if g.role != "initial" else f"{g.name}_0"
                                                  for g in derivation.gradients))


def prove_all(derivation: RecurrenceDerivation, steps: int = 2) -> tuple[ProofResult, ...]:
    return prove_entrywise(derivation, steps), prove_randomized(derivation), prove_index_level(derivation)
