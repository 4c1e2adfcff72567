"""verify-formula: a NumPy-like formula for one derived quantity, parsed safely and compared two ways."""

# The formula is handed to derive/formulas/expression_parser.py only (Python's ast, a whitelist of node
# types, nothing run), over the network's named matrices:
#   X (= a1), y (or Y), yhat (= a(L)), W1, b1, ..., z2, a2, ..., delta2, ..., m, l2 (or lam)
# and the activation table's functions (sigmoid, tanh, relu, leaky_relu, identity, f, each with its _prime),
# a cost's scalar function (huber, huber_prime), ones(rows, columns).
# As in NumPy, `@` is the matrix product, `*` `/` `+` `-` `**` act entry by entry, a number
# broadcasts over a matrix, and a 1-row or 1-column matrix broadcasts along its length-1 axis.
#
# Two routes compare it with the derived formula:
#   symbolic  entry by entry (derive.backward.matrix_ops.entry_of), every delta, a(l) and f' written out
#             in terms of z (and, when that is not enough, z in terms of the layer below), then
#             derive.backward.matrix_ops.is_zero on the difference; opaque f, f' make it hold for every f;
#   modular   both sides evaluated exactly modulo 2^61 - 1 at random points (derive.proofs.modular),
#             every activation an opaque function with its derivative rule, as the randomized
#             proof does.

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from checks.diagnose import formula_program, mistakes
from derive.proofs import modular
from derive.network.activations import ACTIVATION_TABLE, activation as activation_entry, opaque_pair
from derive.network.costs import L2_STRENGTH
from derive.backward.derivation import Derivation, compared_positions
from derive.formulas.expression_parser import (BuildError, FormulaError, FormulaNode, Grammar, node_source,
                                     parse_tree, to_sympy)
from derive.backward.matrix_ops import EntrywiseMap, apply_entrywise, entry_of, is_zero
from derive.network.symbols import SymbolicNetwork
from derive.proofs.randomized import random_point, tied_scalar
from derive.network.costs import scalar_losses
from derive.network.spec import NetworkSpec

MODULAR_SEEDS = (11, 12)  # two random points: a wrong formula survives each with probability ~1e-18
# Writing z out in terms of the layer below nests the whole net inside every entry: SymPy's
# expand of one such difference took 120 s for a 100-30-10 net. It is done up to this many
# parameters x examples (2-3-1 with m = 4 has 36); above, the exact route decides those cases.
DEEP_EXPANSION_LIMIT = 200

_ENTRY = re.compile(r"^(delta|a|z)(\d+)_(\d+)_(\d+)$")
_TARGET_ALIAS = re.compile(r"^(?:d|dJ_?d|grad_?)([Wb]\d+)$")


class ShapeMismatch(ValueError):
    """Two operands whose shapes do not fit the operator: a wrong formula (exit 1), not bad input."""


class BadArguments(FormulaError):
    """A call whose arguments are not what it takes (ones(0, 2)): bad input (exit 2)."""


# ---------------------------------------------------------------------------------------------
# The grammar: NumPy's operators on SymPy matrix expressions.


def _is_matrix(value) -> bool:
    return getattr(value, "is_Matrix", False)


def _shape(value) -> str:
    return f"{value.shape[0]} x {value.shape[1]}"


def _broadcast(a, b, sign: str):
    """NumPy broadcasting of two matrices: a length-1 axis is repeated with a ones matrix."""
    rows = _broadcast_size(a.shape[0], b.shape[0])
    columns = _broadcast_size(a.shape[1], b.shape[1])
    if rows is None or columns is None:
        raise ShapeMismatch(f"shape error: {_shape(a)} and {_shape(b)} do not broadcast for '{sign}'")
    return _stretched(a, rows, columns), _stretched(b, rows, columns)


def _broadcast_size(first: int, second: int) -> int | None:
    if first == second or second == 1:
        return first
    return second if first == 1 else None


def _stretched(matrix, rows: int, columns: int):
    if matrix.shape[0] != rows:
        matrix = sp.MatMul(sp.OneMatrix(rows, 1), matrix)
    if matrix.shape[1] != columns:
        matrix = sp.MatMul(matrix, sp.OneMatrix(1, columns))
    return matrix


def _entrywise(body, *matrices):
    variables = sp.symbols(f"u0:{len(matrices)}")
    return EntrywiseMap(sp.Lambda(variables, body(*variables)), *matrices)


def _add(a, b, sign: str = "+"):
    scale = 1 if sign == "+" else -1
    if _is_matrix(a) and _is_matrix(b):
        a, b = _broadcast(a, b, sign)
        return sp.MatAdd(a, sp.MatMul(scale, b) if scale == -1 else b)
    if _is_matrix(a):
        return sp.MatAdd(a, sp.MatMul(scale * b, sp.OneMatrix(*a.shape)))
    if _is_matrix(b):
        return sp.MatAdd(sp.MatMul(a, sp.OneMatrix(*b.shape)), sp.MatMul(scale, b) if scale == -1 else b)
    return a + scale * b


def _multiply(a, b):
    if _is_matrix(a) and _is_matrix(b):
        return sp.HadamardProduct(*_broadcast(a, b, "*"))
    if _is_matrix(a) or _is_matrix(b):
        return sp.MatMul(a, b) if _is_matrix(b) else sp.MatMul(b, a)
    return a * b


def _divide(a, b):
    if _is_matrix(a) and _is_matrix(b):
        return _entrywise(lambda u, v: u / v, *_broadcast(a, b, "/"))
    if _is_matrix(b):
        return _entrywise(lambda u: a / u, b)
    if _is_matrix(a):
        return sp.MatMul(1 / b, a)
    return a / b


def _power(a, b):
    if _is_matrix(b):
        raise ShapeMismatch("a matrix exponent is not accepted: write matrix ** number")
    if _is_matrix(a):
        return _entrywise(lambda u: u ** b, a)
    return a ** b


def _matmul(a, b):
    if not (_is_matrix(a) and _is_matrix(b)):
        raise ShapeMismatch("@ needs two matrices; use * to scale by a number")
    if a.shape[1] != b.shape[0]:
        raise ShapeMismatch(f"shape error: {_shape(a)} @ {_shape(b)}: the left's {a.shape[1]} columns "
                            f"do not match the right's {b.shape[0]} rows")
    return sp.MatMul(a, b)


def _transpose(a):
    if isinstance(a, _Filler):
        return _Filler(a.value, not a.transposed)
    if not _is_matrix(a):
        raise ShapeMismatch(".T needs a matrix")
    return sp.Transpose(a)


@dataclass(frozen=True)
class _Filler:
    r"""LaTeX's \mathbf{1} or \mathbf{0}: a column of ones or zeros (a row, transposed) whose
    length is taken from the matrix it meets."""

    value: int
    transposed: bool = False

    def matrix(self, length: int):
        shape = (1, length) if self.transposed else (length, 1)
        return sp.OneMatrix(*shape) if self.value else sp.ZeroMatrix(*shape)


class AmbiguousProduct(FormulaError):
    r"""A product written by juxtaposition or \cdot that both readings fit: the user must say which."""


def _product(a, b):
    r"""A product written by juxtaposition or \cdot: scaling for a number; for two matrices the
    matrix product when only it fits, the entrywise product when only it fits."""
    if isinstance(a, _Filler) and a.transposed and _is_matrix(b):
        return sp.MatMul(a.matrix(b.shape[0]), b)  # 1^T delta: the sum over the rows
    if isinstance(b, _Filler) and not b.transposed and _is_matrix(a):
        return sp.MatMul(a, b.matrix(a.shape[1]))  # delta 1: the sum over the columns
    if isinstance(a, _Filler) or isinstance(b, _Filler):
        raise ShapeMismatch("a column of ones or zeros whose length nothing fixes")
    if not (_is_matrix(a) and _is_matrix(b)):
        return _multiply(a, b)
    matrix_product = a.shape[1] == b.shape[0]
    entrywise = tuple(a.shape) == tuple(b.shape)
    if matrix_product and entrywise:
        raise AmbiguousProduct(f"the product of two {_shape(a)} matrices written side by side (or with \\cdot) "
                               f"reads both as a matrix product and entry by entry; write \\odot for the "
                               f"entrywise product, or the formula in NumPy with @")
    if matrix_product:
        return sp.MatMul(a, b)
    if entrywise:
        return sp.HadamardProduct(a, b)
    raise ShapeMismatch(f"shape error: {_shape(a)} and {_shape(b)} multiply neither as matrices nor entry by entry")


def _sum(a, axis: str):
    """np.sum: over every entry (1 x 1), over axis 0 (a row), over axis 1 (a column, or with
    keepdims=False the 1-D row sums, which NumPy broadcasts as a row)."""
    if not _is_matrix(a):
        raise ShapeMismatch("np.sum needs a matrix")
    rows, columns = a.shape
    summed = {"all": lambda: sp.MatMul(sp.OneMatrix(1, rows), a, sp.OneMatrix(columns, 1)),
              "axis0": lambda: sp.MatMul(sp.OneMatrix(1, rows), a),
              "axis1": lambda: sp.MatMul(a, sp.OneMatrix(columns, 1)),
              "axis1_flat": lambda: sp.Transpose(sp.MatMul(a, sp.OneMatrix(columns, 1)))}
    return summed[axis]()


def _stack(*parts, axis: int):
    """np.hstack (axis 1) or np.vstack (axis 0) of matrices."""
    sized = [p for p in parts if _is_matrix(p)]
    if sized and len(sized) < len(parts):  # [1, a^T] in Ng's layout: the ones take the others' length
        length = sized[0].shape[1 - axis]
        parts = tuple(p.matrix(length) if isinstance(p, _Filler) else p for p in parts)
    if not all(_is_matrix(p) for p in parts):
        raise ShapeMismatch("hstack and vstack take matrices")
    sizes = {p.shape[1 - axis] for p in parts}
    if len(sizes) > 1:
        shapes = ", ".join(_shape(p) for p in parts)
        raise ShapeMismatch(f"shape error: {'hstack' if axis else 'vstack'} of {shapes}: the "
                            f"{'rows' if axis else 'columns'} differ")
    if len(parts) == 1:
        return parts[0]
    return sp.BlockMatrix([list(parts)] if axis else [[p] for p in parts])


def _slice(a, row_start, row_stop, column_start, column_stop):
    """a[r0:r1, c0:c1] with Python's bounds (None: the end, a negative bound counts from it)."""
    if not _is_matrix(a):
        raise ShapeMismatch("a slice needs a matrix")
    bounds = []
    for size, start, stop in ((a.shape[0], row_start, row_stop), (a.shape[1], column_start, column_stop)):
        first, last, _ = slice(None if start is None else int(start),
                               None if stop is None else int(stop)).indices(int(size))
        if last <= first:
            raise ShapeMismatch(f"the slice leaves no {'rows' if size is a.shape[0] else 'columns'} of a "
                                f"{_shape(a)} matrix")
        bounds.append((first, last))
    (r0, r1), (c0, c1) = bounds
    if (r0, r1, c0, c1) == (0, a.shape[0], 0, a.shape[1]):
        return a
    return sp.MatrixSlice(a, (r0, r1, 1), (c0, c1, 1))


OPERATORS = {
    "product": _product,
    "ones_block": lambda: _Filler(1),
    "zeros_block": lambda: _Filler(0),
    "sum_all": lambda a: _sum(a, "all"),
    "sum_axis0": lambda a: _sum(a, "axis0"),
    "sum_axis1": lambda a: _sum(a, "axis1"),
    "sum_axis1_flat": lambda a: _sum(a, "axis1_flat"),
    "hstack": lambda *parts: _stack(*parts, axis=1),
    "vstack": lambda *parts: _stack(*parts, axis=0),
    "slice": _slice,
    "add": lambda a, b: _add(a, b, "+"),
    "sub": lambda a, b: _add(a, b, "-"),
    "mul": _multiply,
    "div": _divide,
    "pow": _power,
    "neg": lambda a: sp.MatMul(-1, a) if _is_matrix(a) else -a,
    "matmul": _matmul,
    "transpose": _transpose,
}


def _applied(function: type[sp.Function]):
    def apply(matrix):
        if not _is_matrix(matrix):
            raise BadArguments(f"{function.__name__} takes a matrix, not a number")
        return apply_entrywise(function, matrix)
    return apply


def _ones(rows, columns):
    if not (rows.is_Integer and columns.is_Integer and rows >= 1 and columns >= 1):
        raise BadArguments("ones(rows, columns) takes two positive whole numbers")
    return sp.OneMatrix(int(rows), int(columns))


def _zeros(rows, columns):
    if not (rows.is_Integer and columns.is_Integer and rows >= 1 and columns >= 1):
        raise BadArguments("zeros(rows, columns) takes two positive whole numbers")
    return sp.ZeroMatrix(int(rows), int(columns))


def _functions() -> dict:
    functions = {}
    for name in [name for name, entry in ACTIVATION_TABLE.items() if entry.is_elementwise] + list(scalar_losses()):
        function, prime = opaque_pair(name)
        functions[name], functions[f"{name}_prime"] = _applied(function), _applied(prime)
    functions["ones"] = _ones
    functions["zeros"] = _zeros
    # np.exp and np.log act entry by entry
    functions["exp"] = lambda matrix: _entrywise(sp.exp, matrix) if _is_matrix(matrix) else sp.exp(matrix)
    functions["log"] = lambda matrix: _entrywise(sp.log, matrix) if _is_matrix(matrix) else sp.log(matrix)
    return functions


FUNCTIONS = _functions()


def formula_names(network: SymbolicNetwork) -> dict[str, sp.Basic]:
    """Every name a formula may use for this network, and what it stands for."""
    names: dict[str, sp.Basic] = {"X": network.inputs.symbol, "a1": network.inputs.symbol,
                                  "y": network.targets.symbol, "Y": network.targets.symbol,
                                  "yhat": network.output.symbol, "m": sp.Integer(network.spec.m),
                                  "l2": L2_STRENGTH, "lam": L2_STRENGTH}
    for quantity in network.parameters():
        names[quantity.name] = quantity.symbol
        if quantity.kind == "weight":  # Ng's course calls the weights Theta1, Theta2, ...
            names["Theta" + quantity.name[1:]] = quantity.symbol
    for layer in range(2, network.output_layer + 1):
        for quantity in (network.pre_activation(layer), network.activation(layer), network.delta(layer)):
            names[quantity.name] = quantity.symbol
    return names


def matrix_grammar(spec: NetworkSpec) -> Grammar:
    """What a formula for `spec` may contain: its names, FUNCTIONS, @, .T and NumPy's spellings."""
    network = formula_program.formula_set(spec).network
    return Grammar(frozenset(formula_names(network)), FUNCTIONS, matmul=True, transpose=True, numpy=True)


def parse_matrix_tree(text: str, spec: NetworkSpec) -> FormulaNode:
    """The formula's tree, checked against matrix_grammar(spec); nothing is built or run."""
    return parse_tree(text, matrix_grammar(spec))


def build_matrix_formula(tree: FormulaNode, spec: NetworkSpec) -> sp.MatrixExpr:
    """The tree as a SymPy matrix expression over the network's named matrices.

    Raises:
        BuildError: shapes that do not fit (its reason a ShapeMismatch; the message gives them).
        FormulaError: a number where a matrix is meant.
    """
    network = formula_program.formula_set(spec).network
    value = to_sympy(tree, formula_names(network), FUNCTIONS, OPERATORS)
    if not _is_matrix(value):
        raise FormulaError(f"the formula {node_source(tree)!r} is a number, not a matrix")
    return value


def parse_matrix_formula(text: str, spec: NetworkSpec) -> sp.MatrixExpr:
    """The formula as a SymPy matrix expression over the network's named matrices.

    Raises:
        FormulaError: anything outside the grammar, or shapes that do not fit (the message
            gives the shapes).
    """
    return build_matrix_formula(parse_matrix_tree(text, spec), spec)


def _transpose_toggles(node: FormulaNode):
    """(name, added, tree) for each single name whose transpose is added (W2 -> W2.T) or dropped."""
    if node.kind == "name":
        yield node.head, True, FormulaNode("operator", "transpose", (node,), text=f"{node.head}.T")
        return
    if node.kind == "operator" and node.head == "transpose" and node.args[0].kind == "name":
        yield node.args[0].head, False, node.args[0]
        return
    for index, arg in enumerate(node.args):
        for name, added, changed in _transpose_toggles(arg):
            yield name, added, dataclasses.replace(node, args=node.args[:index] + (changed,) + node.args[index + 1:])


def transpose_fixes(tree: FormulaNode, spec: NetworkSpec, shape: tuple[int, int]) -> list[tuple[str, FormulaNode]]:
    """The single transposes added or dropped that make the formula build with `shape`, each
    with the sentence naming it ("W2 (3x1) needs its transpose here")."""
    names = formula_names(formula_program.formula_set(spec).network)
    fixes = []
    for name, added, changed in _transpose_toggles(tree):
        if not _is_matrix(names[name]):
            continue
        try:
            value = build_matrix_formula(changed, spec)
        except FormulaError:
            continue
        if tuple(value.shape) == tuple(shape):
            rows, columns = names[name].shape
            fixes.append((f"{name} ({rows}x{columns}) needs its transpose here" if added else
                          f"{name}.T ({columns}x{rows}) needs no transpose here: {name} is {rows}x{columns}",
                          changed))
    return fixes


# ---------------------------------------------------------------------------------------------
# The derived side.


def resolve_target(target: str, derivation: Derivation) -> tuple[str, sp.MatrixExpr]:
    """("W1", dJ/dW1's formula) for "W1", "dW1", "dJ_dW1"; ("delta2", ...) for "delta2"; steps by name."""
    name = target.strip()
    match = _TARGET_ALIAS.match(name)
    parameters = dict(derivation.gradients)
    if match and match.group(1) in parameters:
        name = match.group(1)
    if name in parameters:
        return name, parameters[name]
    deltas = dict(derivation.deltas())
    if name in deltas:
        return name, deltas[name]
    steps = {s.name: s.formula for s in derivation.steps}
    if name in steps:
        return name, steps[name]
    accepted = ", ".join(list(deltas) + list(parameters) + [s for s in steps if s.startswith("dJ_d")])
    raise ValueError(f"unknown quantity {target!r} for --for; accepted: {accepted}")


# ---------------------------------------------------------------------------------------------
# Route 1: symbolic, entry by entry.


class _Expander:
    """Writes entries of delta, a and (on request) z in terms of the layers below them."""

    def __init__(self, derivation: Derivation):
        self.derivation = derivation
        self.network = derivation.network
        self.deltas = dict(derivation.deltas())
        self.memo: dict[tuple[sp.Symbol, bool], sp.Expr] = {}
        self.primes = {}
        for name in set(self.network.spec.activations):
            entry = activation_entry(name)
            if name != "softmax" and entry.derivative_from_output is not None:
                function, prime = opaque_pair(name)
                self.primes[prime] = lambda t, f=function, e=entry: e.derivative_from_output(f(t))

    def expand(self, expression: sp.Expr, deep: bool) -> sp.Expr:
        symbols = [s for s in expression.free_symbols if _ENTRY.match(s.name)]
        replaced = expression.xreplace({s: self._symbol(s, deep) for s in symbols})
        return replaced.replace(lambda e: type(e) in self.primes, lambda e: self.primes[type(e)](e.args[0]))

    def _symbol(self, symbol: sp.Symbol, deep: bool) -> sp.Expr:
        key = (symbol, deep)
        if key not in self.memo:
            kind, layer, row, column = _ENTRY.match(symbol.name).groups()
            layer, position = int(layer), (int(row), int(column))
            if kind == "delta":
                value = self.expand(entry_of(self.deltas[symbol.name[: -len(f"_{row}_{column}")]], *position), deep)
            elif kind == "a":
                value = self.expand(self.network.activation_entry(layer, position), deep)
            elif deep:  # z
                value = self.expand(self.network.pre_activation_entry(layer, position), deep)
            else:
                value = symbol
            self.memo[key] = value
        return self.memo[key]


@dataclass(frozen=True)
class EntryComparison:
    """The symbolic route's result; equal is None when an entry is equal only if z is written
    out, which is too large for this net (see DEEP_EXPANSION_LIMIT)."""

    equal: bool | None
    compared: int
    total: int
    entry: tuple[int, int] | None = None
    formula_entry: sp.Expr | None = None
    derived_entry: sp.Expr | None = None


def compare_symbolically(formula: sp.MatrixExpr, derived: sp.MatrixExpr, derivation: Derivation,
                         positions: list[tuple[int, int]] | None = None) -> EntryComparison:
    """Entry by entry: formula[i, j] - derived[i, j] is exactly zero, for every f (opaque f, f').

    formula[i, j] = derived[i, j] is checked with delta and a written out in terms of z (sigma'
    as sigma (1 - sigma), tanh' as 1 - tanh^2); when that fails, with z written out too, so that
    sigmoid_prime(X @ W1) equals sigmoid_prime(z2), for nets within DEEP_EXPANSION_LIMIT.

    Args:
        positions: the entries to compare; every entry of a small matrix, a fixed sample of a
            large one (derive.backward.derivation.compared_positions) when None.
    """
    expander = _Expander(derivation)
    spec = derivation.spec
    deep = spec.parameter_count * spec.m <= DEEP_EXPANSION_LIMIT
    positions = compared_positions(tuple(int(n) for n in derived.shape)) if positions is None else positions
    total = derived.shape[0] * derived.shape[1]
    for position in positions:
        mine, theirs = entry_of(formula, *position), entry_of(derived, *position)
        if mine == theirs or is_zero(expander.expand(mine, False) - expander.expand(theirs, False)):
            continue
        if not deep:
            return EntryComparison(None, len(positions), total, position, mine, theirs)
        if is_zero(expander.expand(mine, True) - expander.expand(theirs, True)):
            continue
        return EntryComparison(False, len(positions), total, position, mine, theirs)
    return EntryComparison(True, len(positions), total)


# ---------------------------------------------------------------------------------------------
# Route 2: exact evaluation modulo a prime.


class _OpaqueValues:
    """Each activation an opaque function on GF(p): one value per argument, tied to the network's
    own values (f(z(l)) = a(l), f'(z(l)) as the randomized proof drew it) and to the derivative
    rule (sigma' = sigma (1 - sigma), tanh' = 1 - tanh^2, relu = relu' x, relu' in {0, 1})."""

    def __init__(self, network: SymbolicNetwork, env: dict, seed: int):
        self.generator = random.Random(seed)
        self.values: dict[tuple[str, int], int] = {}
        for layer in range(2, network.output_layer + 1):
            name = network.spec.activation(layer)
            if name == "softmax":
                continue
            z, a = env[f"z{layer}"], env[f"a{layer}"]
            prime = env[(f"{name}_prime", f"z{layer}")]
            for index in np.ndindex(z.shape):
                self.values[(name, int(z[index]))] = int(a[index])
                self.values[(f"{name}_prime", int(z[index]))] = int(prime[index])

    def __call__(self, function: str, argument: int) -> int:
        key = (function, argument)
        base = function.removesuffix("_prime")
        if base in scalar_losses():  # a cost's rho, rho': the values the derived side sees too
            return modular.opaque_value(function, argument)
        if key not in self.values:
            self.values[(base, argument)], self.values[(f"{base}_prime", argument)] = \
                tied_scalar(base, argument, self.generator)
        return self.values[key]


def _with_opaque_values(expression, env: dict, opaque: _OpaqueValues, counter: list):
    """Replaces each f(M) by a fresh matrix symbol holding its values, innermost first."""
    if not _is_matrix(expression) or isinstance(expression, sp.MatrixSymbol):
        return expression
    arguments = [_with_opaque_values(a, env, opaque, counter) for a in expression.args]
    if isinstance(expression, EntrywiseMap):
        call = mistakes._opaque_call(expression)
        if call is not None:
            inner = modular.evaluate(arguments[1], env)
            values = np.array([[opaque(call[0], int(v)) for v in row] for row in inner], dtype=object)
            counter.append(0)
            name = f"opaque_{len(counter)}"
            env[name] = values.reshape(inner.shape)
            return sp.MatrixSymbol(name, *expression.shape)
    if all(a is b for a, b in zip(arguments, expression.args)):
        return expression
    return expression.func(*arguments)


@lru_cache(maxsize=16)
def _point_values(spec: NetworkSpec, seed: int) -> dict:
    """The randomized proof's point for `spec`, with every derived delta evaluated there."""
    derivation = formula_program.cached_derivation(spec)
    env = dict(random_point(derivation.network, seed, tied=True).values)
    for name, formula in derivation.deltas():
        env[name] = modular.evaluate(formula, env)
    return env


def modular_values(expression, derivation: Derivation, seed: int):
    """The expression's exact value modulo 2^61 - 1 at the seeded random point."""
    env = dict(_point_values(derivation.spec, seed))
    opaque = _OpaqueValues(derivation.network, env, seed)
    return modular.evaluate(_with_opaque_values(expression, env, opaque, []), env) % modular.PRIME


def first_modular_difference(formula, derived, derivation: Derivation) -> tuple[int, int] | None:
    """The first entry where the two sides differ at a seeded point, by the exact route."""
    for seed in MODULAR_SEEDS:
        mine, theirs = modular_values(formula, derivation, seed), modular_values(derived, derivation, seed)
        differing = np.argwhere(mine != theirs)
        if len(differing):
            return tuple(int(i) for i in differing[0])
    return None


def compare_modular(formula, derived, derivation: Derivation, seeds=MODULAR_SEEDS) -> bool | None:
    """True when both sides agree exactly at every seeded point; None where the route does not apply."""
    try:
        return all(np.array_equal(modular_values(formula, derivation, s), modular_values(derived, derivation, s))
                   for s in seeds)
    except (ValueError, KeyError, ZeroDivisionError):
        return None


# ---------------------------------------------------------------------------------------------
# The verdict.


@dataclass(frozen=True)
class FormulaVerdict:
    """check_formula's answer."""

    source: str  # the formula as the person wrote it
    target: str
    formula: sp.MatrixExpr
    derived: sp.MatrixExpr
    spec: NetworkSpec
    shape_error: str
    symbolic: EntryComparison | None
    modular: bool | None
    explanations: tuple[mistakes.Mistake, ...]
    factor: sp.Rational | None = None  # the formula is exactly this times the derived one
    fixes: tuple[str, ...] = ()  # for shapes that do not fit: the transposes that make them fit
    tree: FormulaNode | None = None  # the formula as parsed
    simplified: str = ""  # the derived formula simplified (a3 - y for sigmoid with cross-entropy)

    @property
    def passed(self) -> bool:
        """Neither route finds a difference, and one of them proves equality."""
        if self.shape_error or self.symbolic is None or self.symbolic.equal is False or self.modular is False:
            return False
        return bool(self.symbolic.equal or self.modular)

    def text(self) -> str:
        shape = lambda e: f"{e.shape[0]} x {e.shape[1]}"
        if self.formula is None:
            lines = [f"formula: {self.source.strip()}  (its shapes do not fit)"]
        else:
            lines = [f"formula: {self.source.strip()}  ({shape(self.formula)})",
                     f"read as: {formula_program.formula_text(self.formula)}"]
        lines += [
                  f"derived: {self.target} = {self.simplified or formula_program.formula_text(self.derived)}  "
                  f"({shape(self.derived)})"]
        if self.simplified:
            lines.append(f"         = {formula_program.formula_text(self.derived)}  (as derived, before "
                         f"writing f' in terms of the output)")
        if self.shape_error:
            lines.append(self.shape_error)
            lines += [f"fix: {fix}" for fix in self.fixes]
        else:
            s = self.symbolic
            part = f"{s.compared} of {s.total}" if s.compared < s.total else f"all {s.total}"
            if s.equal:
                lines.append(f"symbolic, entry by entry ({part} entries, for every f): equal")
            elif s.equal is None:
                lines.append(f"symbolic, entry by entry: undecided at entry {list(s.entry)}: the two agree only "
                             f"if z is written out in terms of the layer below, too large for this net (over "
                             f"{DEEP_EXPANSION_LIMIT} parameters x examples); the exact route decides")
            else:
                lines.append(f"symbolic, entry by entry: differs at entry {list(s.entry)}: the formula gives "
                             f"{_entry_text(s.formula_entry)}, the derivation {_entry_text(s.derived_entry)}")
            exact = {True: "equal", False: "differs", None: "not applicable to this formula"}[self.modular]
            lines.append(f"exact, modulo 2^61 - 1 at {len(MODULAR_SEEDS)} random points: {exact}")
            if None not in (self.symbolic.equal, self.modular) and self.symbolic.equal != self.modular:
                lines.append("the two routes disagree: a bug in this tool; please report it")
        if self.explanations:
            lines.append("diagnosis: the formula equals " + ("this" if len(self.explanations) == 1 else "each of these")
                         + " mistaken form from the catalogue:")
            lines += [f"  - {m}" for m in self.explanations]
        if self.factor is not None:
            why = {sp.Integer(-1): " (the sign flipped)"}.get(
                self.factor, f" (m = {self.spec.m}: a 1/m missing or extra)" if abs(self.factor) in
                (self.spec.m, sp.Rational(1, self.spec.m)) else "")
            lines.append(f"diagnosis: the formula is exactly {self.factor} times the derived one{why}")
        lines.append("verdict: CORRECT" if self.passed else f"verdict: WRONG for {self.target}")
        return "\n".join(lines)


def _entry_text(value: sp.Expr) -> str:
    return sp.sstr(value.xreplace({L2_STRENGTH: sp.Symbol("l2")}))


def check_formula(text: str, target: str, spec: NetworkSpec) -> FormulaVerdict:
    """Checks a NumPy-like formula for one derived quantity of `spec`.

    Args:
        text: e.g. "delta3 @ W2.T * sigmoid_prime(z2)".
        target: what it claims to be: "delta2", "W1" (or "dJ_dW1", "dW1"), "b1", "dJ_dyhat", ...
        spec: the network.

    Returns:
        The FormulaVerdict: shapes, both routes, and the catalogue mistakes it equals when wrong.

    Raises:
        FormulaError: the text is outside the grammar or its shapes do not fit inside it.
        ValueError: an unknown target.

    >>> from derive.network.spec import XOR_SPEC
    >>> check_formula("delta3 @ W2.T * sigmoid_prime(z2)", "delta2", XOR_SPEC).passed
    True
    """
    return check_tree(parse_matrix_tree(text, spec), text, target, spec)


def check_tree(tree: FormulaNode, text: str, target: str, spec: NetworkSpec,
               derived_step: str | None = None) -> FormulaVerdict:
    """check_formula for a formula already parsed (from NumPy text or from LaTeX).

    Args:
        tree: the formula, over matrix_grammar(spec)'s names and operators.
        text: how the user wrote it, for the report.
        target: what it claims to be.
        spec: the network.
        derived_step: compare with this step of the derivation instead (dJ_dW1, the weight
            gradient without its L2 term).
    """
    derivation = formula_program.cached_derivation(spec)
    if derived_step is None:
        name, derived = resolve_target(target, derivation)
    else:
        name, derived = derived_step, {s.name: s.formula for s in derivation.steps}[derived_step]
    verdict = _check_built(tree, text, name, derived, spec, derivation)
    return dataclasses.replace(verdict, tree=tree, simplified=simplified_formula(name, derived, derivation))


_WHOLE = re.compile(r"^([A-Za-z]+\d*)_0_0$")


@lru_cache(maxsize=64)
def _simplified(name: str, spec: NetworkSpec) -> str:
    derivation = formula_program.cached_derivation(spec)
    derived = resolve_target(name, derivation)[1]
    if not isinstance(derived, sp.HadamardProduct):
        return ""
    entry = sp.factor(sp.cancel(_Expander(derivation).expand(entry_of(derived, 0, 0), False)))
    for call in entry.atoms(sp.Function):  # f(z_l) is a_l, where f is layer l's activation
        layer = re.match(r"^z(\d+)_0_0$", str(call.args[0])) if len(call.args) == 1 else None
        if layer is None or spec.activation(int(layer.group(1))) != type(call).__name__:
            return ""
        entry = entry.xreplace({call: sp.Symbol(f"a{layer.group(1)}_0_0")})
    entry = sp.factor(entry)
    renamed = {}
    for symbol in entry.free_symbols:
        whole = _WHOLE.match(symbol.name)
        if whole is None and symbol.name != "l2":
            return ""
        if whole is not None:
            renamed[symbol] = sp.Symbol(whole.group(1))
    entry = entry.xreplace(renamed)
    # shown only when f' cancels into something linear, as sigma' does against cross-entropy's
    # 1/(a (1 - a)); a product such as a3 (1 - a3) (a3 - y) is no simpler than f' written out
    if not entry.is_polynomial(*entry.free_symbols) or sp.Poly(entry, *entry.free_symbols).total_degree() > 1:
        return ""
    # SymPy distributes a number over a sum ((a3 - y)/4 prints a3/4 - y/4): keep the factor apart
    factor, rest = entry.as_content_primitive()
    text = formula_program.scalar_text(rest)
    if factor != 1:
        text = f"({text})/{factor.q}" if factor.p == 1 else f"{factor}*({text})"
    if len(text) >= len(formula_program.formula_text(derived)):
        return ""
    try:  # the simplified form is shown only when the checker itself finds it equal, every entry
        verdict = _check_built(parse_matrix_tree(text, spec), text, name, derived, spec, derivation)
    except FormulaError:
        return ""
    return text if verdict.passed else ""


def simplified_formula(name: str, derived, derivation: Derivation) -> str:
    """The derived formula in a shorter form, checked equal to it: with f' written in terms of the
    output, sigmoid with cross-entropy gives delta3 = a3 - y (or (a3 - y)/m when averaged)."""
    if not isinstance(derived, sp.HadamardProduct):
        return ""
    return _simplified(name, derivation.spec)


def _check_built(tree, text, name, derived, spec, derivation) -> FormulaVerdict:
    try:
        formula = build_matrix_formula(tree, spec)
    except BuildError as error:
        if not isinstance(error.reason, ShapeMismatch):
            raise
        return _unbuildable(tree, text, name, derived, spec, error)
    if tuple(formula.shape) != tuple(derived.shape):
        convention = "m x n" if spec.convention == "row" else "n x m"
        hint = " (the transpose of what it should be)" if tuple(formula.shape) == tuple(derived.shape)[::-1] else ""
        error = (f"shape error: the formula gives a {formula.shape[0]} x {formula.shape[1]} matrix{hint}; "
                 f"{name} is {derived.shape[0]} x {derived.shape[1]}"
                 + (f" ({convention} in {spec.convention} form)" if name.startswith("delta") else ""))
        return FormulaVerdict(text, name, formula, derived, spec, error, None, None, ())
    exact = compare_modular(formula, derived, derivation)
    # a difference the exact route found is shown (and confirmed) symbolically at its entry only
    where = first_modular_difference(formula, derived, derivation) if exact is False else None
    symbolic = compare_symbolically(formula, derived, derivation, [where] if where else None)
    verdict = FormulaVerdict(text, name, formula, derived, spec, "", symbolic, exact, ())
    if verdict.passed:
        return verdict
    explanations = _matching_mistakes(formula, name, derivation)
    factor = None if explanations else _constant_factor(formula, derived, derivation)
    return dataclasses.replace(verdict, explanations=explanations, factor=factor)


def _unbuildable(tree: FormulaNode, text: str, name: str, derived, spec: NetworkSpec,
                 error: BuildError) -> FormulaVerdict:
    """The verdict on a formula whose shapes do not fit: WRONG, with the transposes that fix it."""
    fixes = []
    derivation = formula_program.cached_derivation(spec)
    for sentence, changed in transpose_fixes(tree, spec, tuple(derived.shape)):
        fixed = _check_built(changed, node_source(changed), name, derived, spec, derivation)
        outcome = "with it the formula is correct" if fixed.passed else "with it the formula still differs"
        fixes.append(f"{sentence}: {node_source(changed)} ({outcome})")
    fixes.sort(key=lambda fix: not fix.endswith("is correct)"))
    message = str(error).replace("cannot build", "shape error in", 1).replace(": shape error:", ":", 1)
    return FormulaVerdict(text, name, None, derived, spec, message, None, None, (), fixes=tuple(fixes))


def _constant_factor(formula, derived, derivation: Derivation) -> sp.Rational | None:
    """c when the formula is exactly c times the derived one, for the factors a slip makes."""
    m = derivation.spec.m
    for c in (sp.Integer(-1), sp.Integer(m), sp.Rational(1, m), sp.Integer(-m), sp.Rational(-1, m),
              sp.Integer(2), sp.Rational(1, 2)):
        if c not in (0, 1) and compare_modular(formula, sp.MatMul(c, derived), derivation):
            return c
    return None


def _matching_mistakes(formula, name: str, derivation: Derivation) -> tuple[mistakes.Mistake, ...]:
    """The catalogue mistakes whose version of `name`'s formula equals the user's, exactly."""
    formulas = formula_program.formula_set(derivation.spec)
    if name.startswith("delta"):
        own = {name}
    elif f"grad_{name}" in formulas.names:
        own = {f"grad_{name}", f"dJ_d{name}", f"dR_d{name}"}
    else:
        return ()
    found = []
    for mistake in mistakes.catalogue(derivation.spec):
        if not mistake.touched <= own:
            continue
        changed = mistakes.apply_mistakes(formulas, (mistake,))
        if changed is None:
            continue
        changed = dict(changed)
        variant = changed[name] if name.startswith("delta") else changed[f"grad_{name}"].xreplace(
            {sp.MatrixSymbol(n, *formula.shape): changed[n] for n in own if n in changed and n != f"grad_{name}"})
        if tuple(variant.shape) == tuple(formula.shape) and compare_modular(formula, variant, derivation):
            found.append(mistake)
    return tuple(found)
