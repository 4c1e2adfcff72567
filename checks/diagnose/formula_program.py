"""The network's formulas as one evaluable program: forward pass, cost and derived backward formulas."""

# The program is a list of matrix assignments (row form shown; column form is the transpose, as in
# checks/handwritten/network.py):
#   forward   z(l+1) = a(l) W(l) [+ 1 b(l)],  a(l+1) = f(z(l+1)),  yhat = a(L)
#   cost      J = c 1^T loss(a(L), y) 1 + (lambda/2) c sum of the non-bias W(l)^2   (c = 1 or 1/m)
#   backward  delta(L), ..., delta(2), dJ_dW(l), dR_dW(l), dJ_db(l): derive_rule(spec)'s steps
#   outputs   grad_W(l) = dJ_dW(l) + dR_dW(l),  grad_b(l) = dJ_db(l)
# Only the forward pass and the cost are written here (from the symbolic network and the cost
# table); every backward formula is the derivation's own. `run` evaluates it in float64 and
# `formula_text` prints it the way NumPy code reads.

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache, singledispatch
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from checks.routes.derived import entry_loss
from checks.handwritten.network import ACTIVATIONS as NUMERIC_ACTIVATIONS, SCALAR_LOSSES, softmax
from derive.network.costs import L2_STRENGTH
from derive.backward.derivation import Derivation
from derive.backward.matrix_ops import EntrywiseMap, Softmax
from derive.network.symbols import SymbolicNetwork, symbolic_network
from derive.network.spec import NetworkSpec
from derive.program.program import program_of

# ---------------------------------------------------------------------------------------------
# The formula set.


@dataclass(frozen=True)
class FormulaSet:
    """The network's formulas as named assignments, in evaluation order.

    kinds: "forward", "cost", "delta", "gradient_part" (dJ_dW1, dR_dW1, dJ_db1) or "output"
    (grad_W1, grad_b1).
    """

    spec: NetworkSpec
    formulas: tuple[tuple[str, sp.MatrixExpr], ...]
    kinds: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.formulas)

    def formula(self, name: str) -> sp.MatrixExpr:
        return dict(self.formulas)[name]

    def named(self, kind: str) -> tuple[str, ...]:
        return tuple(name for name, k in self.kinds if k == kind)

    @property
    def output_delta(self) -> str:
        return f"delta{len(self.spec.sizes)}"

    @property
    def network(self) -> SymbolicNetwork:
        return symbolic_network(self.spec)


def assignment_of(output: str) -> str:
    """The assignment holding a user-facing output: "cost" -> "J", "W1" -> "grad_W1", "delta2" -> "delta2",
    and the forward pass's "z2", "a2" as themselves."""
    if output == "cost":
        return "J"
    if output.startswith("delta") or re.fullmatch(r"[za]\d+", output):
        return output
    return f"grad_{output}"


def output_values(env: dict, output: str) -> np.ndarray:
    """An output's value from an evaluated env: "cost", "W1", "delta2" or an entry "W2[0, 0]"."""
    name, entry = split_entry(output)
    value = np.asarray(env[assignment_of(name)], dtype=np.float64)
    if name == "cost":
        return value.reshape(())
    return value[entry] if entry is not None else value


def split_entry(output: str) -> tuple[str, tuple[int, int] | None]:
    """("W2", (0, 0)) for "W2[0,0]"; (name, None) for a whole output."""
    if "[" not in output:
        return output, None
    name, rest = output.split("[", 1)
    row, column = (int(part) for part in rest.rstrip("]").split(","))
    return name, (row, column)


def cached_derivation(spec: NetworkSpec) -> Derivation:
    """derive_rule(spec) through the derived route's cache: one derivation per spec, not two."""
    from checks.routes.derived import cached_derivation as shared
    return shared(spec)


@lru_cache(maxsize=32)
def formula_set(spec: NetworkSpec) -> FormulaSet:
    """The forward pass, the cost and derive_rule(spec)'s backward formulas as one program."""
    return formula_set_from_small_derivation(spec) or _formula_set(spec)


@lru_cache(maxsize=32)
def formula_set_from_small_derivation(spec: NetworkSpec) -> FormulaSet | None:
    """The formula set from a derivation at no more examples than the derived route's own m0
    (checks.routes.derived.derivation_examples): at spec.m when m <= m0, else the route's own
    derivation at m0, resized to spec.m. None where an m0 in it cannot be told apart from another
    constant (formula_set then derives at the full m).

    A failing check then derives once: derive_rule at the full m = 200 took 25 s at 100-50-10 and
    minutes at 3072-50-10, against seconds at m0 = 3.
    """
    from checks.routes.derived import NotGeneralizable, derivation_examples
    m0 = derivation_examples(spec)
    if spec.m <= m0:
        return _formula_set(spec)
    try:
        return _resized(_formula_set(replace(spec, m=m0)), spec)
    except NotGeneralizable:
        return None


def _resized(formulas: FormulaSet, spec: NetworkSpec) -> FormulaSet:
    """The formula set derived at m0 = formulas.spec.m, with every dimension m0 made spec.m and every
    1/m0 of the mean made 1/m.

    As in the derived route, m0 differs from every other dimension and is coprime to every other
    denominator, so a dimension m0 is the example count and a denominator with one factor m0 is
    the mean's 1/m. Any other number holding m0 is refused (NotGeneralizable), not guessed.
    """
    from checks.routes.derived import NotGeneralizable
    m0, m = formulas.spec.m, spec.m
    numbers = {sp.Integer(m0): sp.Integer(m)}  # only dimensions hold m0 itself: checked just below
    for name, formula in formulas.formulas:
        for number in _scalar_numbers(formula):
            if number.p % m0 == 0 and number != 0 or number.q % (m0 * m0) == 0:
                raise NotGeneralizable(f"the constant {number} in {name} = {formula} is a multiple of m0 = {m0}")
            if number.q % m0 == 0:
                numbers[number] = sp.Rational(number.p * m0, number.q * m)
    resized = tuple((name, formula.xreplace(numbers)) for name, formula in formulas.formulas)
    return FormulaSet(spec, resized, formulas.kinds)


def _scalar_numbers(expression) -> set:
    """The numbers in a matrix expression outside its shapes and slice bounds."""
    if isinstance(expression, (sp.MatrixSymbol, sp.OneMatrix, sp.ZeroMatrix, sp.Identity)):
        return set()
    if isinstance(expression, sp.MatrixSlice):
        return _scalar_numbers(expression.parent)
    if isinstance(expression, sp.Rational):
        return {expression}
    return set().union(*(_scalar_numbers(argument) for argument in expression.args))


def _formula_set(spec: NetworkSpec) -> FormulaSet:
    derivation = cached_derivation(spec)
    network = derivation.network
    formulas: list[tuple[str, sp.MatrixExpr, str]] = []
    formulas += [(name, formula, "forward") for name, formula in program_of(spec).forward()]
    formulas.append(("J_data", data_cost(network), "cost"))
    total = sp.MatrixSymbol("J_data", 1, 1)
    if network.regularization_factor != 0:
        formulas.append(("J_reg", regularization_cost(network, include_bias=False), "cost"))
        total = total + sp.MatrixSymbol("J_reg", 1, 1)
    formulas.append(("J", total, "cost"))
    for name, formula in derivation.deltas():
        formulas.append((name, formula, "delta"))
    for step in derivation.steps:
        if step.kind in ("weight_gradient", "regularization_gradient", "bias_gradient"):
            formulas.append((step.name, step.formula, "gradient_part"))
    for quantity in network.parameters():
        kind = "W" if quantity.kind == "weight" else "b"
        layer = quantity.name[1:]
        total = sp.MatrixSymbol(f"dJ_d{kind}{layer}", *quantity.shape)
        if kind == "W" and network.regularization_factor != 0:
            total = total + sp.MatrixSymbol(f"dR_dW{layer}", *quantity.shape)
        formulas.append((f"grad_{quantity.name}", total, "output"))
    return FormulaSet(spec, tuple((n, f) for n, f, _ in formulas), tuple((n, k) for n, _, k in formulas))


def pre_activation_formula(network: SymbolicNetwork, layer: int) -> sp.MatrixExpr:
    """z(layer) = a W + 1 b (row form) or W a + b 1^T (column form), as the program's dense layer builds it."""
    return program_of(network.spec).dense(layer - 1).forward(network)


def _sum_all(matrix: sp.MatrixExpr) -> sp.MatrixExpr:
    rows, columns = matrix.shape
    return sp.OneMatrix(1, rows) * matrix * sp.OneMatrix(columns, 1)


def unit_loss(network: SymbolicNetwork) -> sp.Lambda:
    """One output entry's loss as Lambda((yhat, y), loss), read off the cost table (derived_route)."""
    y, yhat, loss = entry_loss(network.spec.cost, network.units(network.output_layer))
    return sp.Lambda((yhat, y), loss)


def data_cost(network: SymbolicNetwork, loss: sp.Lambda | None = None) -> sp.MatrixExpr:
    """J_data = c 1^T loss(yhat, y) 1, with the cost table's loss unless another is given."""
    loss = unit_loss(network) if loss is None else loss
    return network.reduction * _sum_all(EntrywiseMap(loss, network.output.symbol, network.targets.symbol))


def _regularized_part(network: SymbolicNetwork, layer: int, include_bias: bool) -> sp.MatrixExpr:
    weights = network.weights(layer).symbol
    if not network.has_bias_unit or include_bias:
        return weights
    return weights[1:, :] if network.is_row else weights[:, 1:]


def regularization_cost(network: SymbolicNetwork, include_bias: bool) -> sp.MatrixExpr:
    """J_reg = (lambda/2) c sum_l sum_jk W(l)[j, k]^2 over the non-bias weights (all of them if include_bias)."""
    terms = []
    for layer in range(1, network.output_layer):
        part = _regularized_part(network, layer, include_bias)
        terms.append(_sum_all(sp.HadamardProduct(part, part)))
        biases = network.biases(layer)
        if include_bias and biases is not None:
            terms.append(_sum_all(sp.HadamardProduct(biases.symbol, biases.symbol)))
    return network.regularization_factor * sp.MatAdd(*terms)


# ---------------------------------------------------------------------------------------------
# Float64 evaluation of the formulas.


def _numeric_activations() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    table: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for name, entry in NUMERIC_ACTIVATIONS.items():
        if entry.derivative is None:  # softmax is not entrywise
            continue
        table[name] = lambda x, f=entry.f: f(x, 1)
        table[f"{name}_prime"] = entry.derivative
    table.update(SCALAR_LOSSES)  # a cost's rho and rho' (huber, huber_prime)
    return table


NUMERIC_FUNCTIONS = _numeric_activations()


def point_env(spec: NetworkSpec, X: np.ndarray, Y: np.ndarray, params: Mapping[str, np.ndarray]) -> dict:
    """The values a formula set starts from: X, y, every parameter and the L2 strength."""
    env = {"X": np.asarray(X, dtype=np.float64), "y": np.asarray(Y, dtype=np.float64), L2_STRENGTH.name: spec.l2}
    env.update({name: np.asarray(value, dtype=np.float64) for name, value in params.items()})
    return env


def run(formulas: Sequence[tuple[str, sp.MatrixExpr]], env: dict, start: int = 0) -> dict:
    """Evaluates the assignments from index `start` on, in float64, adding each to (a copy of) env."""
    env = dict(env)
    with np.errstate(all="ignore"):  # a wrong formula may divide by 0: its inf is a value to compare
        for name, formula in formulas[start:]:
            env[name] = matrix_value(formula, env)
    return env


@singledispatch
def matrix_value(expression, env: dict) -> np.ndarray:
    """A matrix expression of the formula set's vocabulary, in float64."""
    raise ValueError(f"cannot evaluate {type(expression).__name__} numerically")


@matrix_value.register
def _(expression: sp.MatrixSymbol, env):
    return env[expression.name]


@matrix_value.register
def _(expression: sp.Transpose, env):
    return matrix_value(expression.arg, env).T


@matrix_value.register
def _(expression: sp.MatAdd, env):
    return sum(matrix_value(term, env) for term in expression.args)


@matrix_value.register
def _(expression: sp.MatMul, env):
    factor, product = 1.0, None
    for argument in expression.args:
        if getattr(argument, "is_Matrix", False):
            value = matrix_value(argument, env)
            product = value if product is None else product @ value
        else:
            factor *= float(_scalar_value(argument, {}, env))
    return factor * product


@matrix_value.register
def _(expression: sp.HadamardProduct, env):
    product = matrix_value(expression.args[0], env)
    for argument in expression.args[1:]:
        product = product * matrix_value(argument, env)
    return product


@matrix_value.register
def _(expression: sp.HadamardPower, env):
    return matrix_value(expression.base, env) ** float(expression.exp)


@matrix_value.register
def _(expression: EntrywiseMap, env):
    function = expression.function
    values = {v: matrix_value(m, env) for v, m in zip(function.variables, expression.matrices)}
    return np.broadcast_to(_scalar_value(function.expr, values, env), expression.shape).astype(np.float64)


@matrix_value.register
def _(expression: Softmax, env):
    return softmax(matrix_value(expression.args[0], env), int(expression.args[1]))


@matrix_value.register
def _(expression: sp.OneMatrix, env):
    return np.ones(tuple(int(n) for n in expression.shape))


@matrix_value.register
def _(expression: sp.ZeroMatrix, env):
    return np.zeros(tuple(int(n) for n in expression.shape))


@matrix_value.register
def _(expression: sp.Identity, env):
    return np.eye(int(expression.shape[0]))


@matrix_value.register
def _(expression: sp.MatrixSlice, env):
    rows, columns = expression.rowslice, expression.colslice
    parent = matrix_value(expression.parent, env)
    return parent[int(rows[0]):int(rows[1]):int(rows[2]), int(columns[0]):int(columns[1]):int(columns[2])]


@matrix_value.register
def _(expression: sp.BlockMatrix, env):
    blocks = expression.blocks
    return np.block([[matrix_value(blocks[i, j], env) for j in range(blocks.shape[1])]
                     for i in range(blocks.shape[0])])


@matrix_value.register
def _(expression: sp.MatrixBase, env):
    return _explicit(expression)


@lru_cache(maxsize=4096)
def _explicit(matrix: sp.ImmutableMatrix) -> np.ndarray:
    return np.array(matrix.tolist(), dtype=np.float64)


def _scalar_value(expression: sp.Expr, values: dict, env: dict):
    """A scalar formula over arrays (Lambda variables) and known scalars (lambda), entrywise."""
    if expression in values:
        return values[expression]
    return _scalar_rule(expression, values, env)


@singledispatch
def _scalar_rule(expression, values: dict, env: dict):
    if expression.is_Number:
        return float(expression)
    name = type(expression).__name__
    if name in NUMERIC_FUNCTIONS:
        return NUMERIC_FUNCTIONS[name](np.asarray(_scalar_value(expression.args[0], values, env), dtype=np.float64))
    raise ValueError(f"cannot evaluate {expression} numerically")


@_scalar_rule.register
def _(expression: sp.Symbol, values, env):
    return env[expression.name]


@_scalar_rule.register
def _(expression: sp.Add, values, env):
    return sum(_scalar_value(term, values, env) for term in expression.args)


@_scalar_rule.register
def _(expression: sp.Mul, values, env):
    product = 1.0
    for factor in expression.args:
        product = product * _scalar_value(factor, values, env)
    return product


@_scalar_rule.register
def _(expression: sp.Pow, values, env):
    return _scalar_value(expression.base, values, env) ** float(expression.exp)


@_scalar_rule.register
def _(expression: sp.log, values, env):
    return np.log(_scalar_value(expression.args[0], values, env))


@_scalar_rule.register
def _(expression: sp.exp, values, env):
    return np.exp(_scalar_value(expression.args[0], values, env))


# ---------------------------------------------------------------------------------------------
# Printing formulas the way NumPy code reads.


def formula_text(expression, names: Mapping[str, str] | None = None) -> str:
    """NumPy-like text: @ for products, * for entrywise products, .T for transposes.

    >>> A, B = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("B", 2, 2)
    >>> formula_text(sp.HadamardProduct(B * A, A))
    '(B @ A) * A'
    """
    names = names or {}
    return _text(expression, names)


@singledispatch
def _text(e, names) -> str:
    return scalar_text(e)


@_text.register
def _(e: sp.MatrixSymbol, names):
    return names.get(e.name, e.name)


@_text.register
def _(e: sp.Transpose, names):
    return _wrapped(e.arg, names) + ".T"


@_text.register
def _(e: sp.MatAdd, names):
    text = ""
    pieces = sorted((_text(term, names) for term in e.args), key=lambda p: p.startswith("-"))
    for index, piece in enumerate(pieces):
        if index and piece.startswith("-"):
            text += " - " + piece[1:]
        else:
            text += (" + " if index else "") + piece
    return text


@_text.register
def _(e: sp.MatMul, names):
    scalars = [a for a in e.args if not getattr(a, "is_Matrix", False)]
    matrices = [a for a in e.args if getattr(a, "is_Matrix", False)]
    product = " @ ".join(_wrapped(m, names) for m in matrices)
    scalar = sp.Mul(*scalars)
    if scalar == 1:
        return product
    if scalar == -1:
        return "-" + (product if len(matrices) == 1 else f"({product})")
    return f"({scalar_text(scalar)}) * " + (product if len(matrices) == 1 else f"({product})")


@_text.register
def _(e: sp.HadamardProduct, names):
    return " * ".join(_wrapped(a, names) for a in e.args)


@_text.register
def _(e: sp.HadamardPower, names):
    return f"{_wrapped(e.base, names)}**{scalar_text(e.exp)}"


@_text.register
def _(e: EntrywiseMap, names):
    body = e.function.expr
    if isinstance(body, sp.Function) and body.args == e.function.variables:
        return f"{type(body).__name__}({_text(e.matrices[0], names)})"
    replaced = {v: sp.Symbol(_text(m, names)) for v, m in zip(e.function.variables, e.matrices)}
    return "(" + scalar_text(body.xreplace(replaced)) + ")"


@_text.register
def _(e: Softmax, names):
    return f"softmax({_text(e.args[0], names)})"


@_text.register
def _(e: sp.OneMatrix, names):
    return f"ones({e.shape[0]}, {e.shape[1]})"


@_text.register
def _(e: sp.ZeroMatrix, names):
    return f"zeros({e.shape[0]}, {e.shape[1]})"


@_text.register
def _(e: sp.Identity, names):
    return f"eye({e.shape[0]})"


@_text.register
def _(e: sp.MatrixSlice, names):
    return f"{_wrapped(e.parent, names)}[{_slice_text(e.rowslice, e.parent.shape[0])}, " \
           f"{_slice_text(e.colslice, e.parent.shape[1])}]"


@_text.register
def _(e: sp.BlockMatrix, names):
    blocks = e.blocks
    if blocks.shape[0] == 1:
        return "hstack([" + ", ".join(_text(blocks[0, j], names) for j in range(blocks.shape[1])) + "])"
    return "vstack([" + ", ".join(_text(blocks[i, 0], names) for i in range(blocks.shape[0])) + "])"


@_text.register
def _(e: sp.MatrixBase, names):
    return str(e.tolist())


def _wrapped(e, names) -> str:
    atomic = (sp.MatrixSymbol, sp.Transpose, EntrywiseMap, Softmax, sp.OneMatrix, sp.ZeroMatrix, sp.Identity,
              sp.MatrixSlice, sp.BlockMatrix)
    text = _text(e, names)
    return text if isinstance(e, atomic) else f"({text})"


def _slice_text(part, size) -> str:
    start, stop, step = (int(x) for x in part)
    return (f"{start or ''}:{'' if stop == size else stop}" + (f":{step}" if step != 1 else "")) or ":"


def scalar_text(e) -> str:
    """A scalar expression as SymPy prints it, with the L2 strength written l2."""
    return sp.sstr(e.xreplace({L2_STRENGTH: sp.Symbol("l2")}))
