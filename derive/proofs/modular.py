"""Exact arithmetic modulo a large prime, on NumPy object arrays of Python ints.

The randomized exact proof evaluates formulas at random points of GF(p): no rounding, so two
expressions agree or differ exactly, and a wrong one agrees by chance with probability about
(its degree) / p.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache, singledispatch

import numpy as np
import sympy as sp

from derive.backward.matrix_ops import EntrywiseMap

PRIME = 2 ** 61 - 1  # a Mersenne prime: a wrong formula survives one test with probability ~1e-18


def inverse(value: int) -> int:
    return pow(int(value) % PRIME, PRIME - 2, PRIME)


_inverse_array = np.frompyfunc(inverse, 1, 1)


def random_array(generator: random.Random, shape: tuple[int, int], low: int = 1) -> np.ndarray:
    values = [generator.randrange(low, PRIME) for _ in range(shape[0] * shape[1])]
    return np.array(values, dtype=object).reshape(shape)


def reduce(array):
    return array % PRIME


def opaque_value(name: str, argument: int) -> int:
    """A fixed pseudo-random value of the opaque function `name` (huber, huber_prime) at one
    argument of GF(p): the same wherever it is asked for, so the forward-mode route and the
    derived formula see one function, about which nothing but its name is assumed."""
    digest = hashlib.blake2b(f"{name}:{int(argument) % PRIME}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % PRIME


_opaque_array = np.frompyfunc(opaque_value, 2, 1)


def scalar(value: sp.Expr, env: dict) -> int:
    """A SymPy number or known symbol as an element of GF(p)."""
    return _scalar_rule(value, env)


@singledispatch
def _scalar_rule(value, env: dict) -> int:
    if getattr(value, "is_Integer", False):
        return int(value) % PRIME
    if getattr(value, "is_Rational", False):
        return int(value.p) * inverse(int(value.q)) % PRIME
    raise ValueError(f"cannot evaluate {value} modulo p")


@_scalar_rule.register
def _(value: sp.Symbol, env):
    return env[value.name] % PRIME


@_scalar_rule.register
def _(value: sp.Mul, env):
    product = 1
    for factor in value.args:
        product = product * scalar(factor, env) % PRIME
    return product


@_scalar_rule.register
def _(value: sp.Pow, env):
    if not value.exp.is_Integer:
        raise ValueError(f"cannot evaluate {value} modulo p")
    base = scalar(value.base, env)
    return pow(base, int(value.exp), PRIME) if value.exp >= 0 else pow(inverse(base), -int(value.exp), PRIME)


@singledispatch
def evaluate(expression, env: dict):
    """A matrix expression of derive's vocabulary evaluated in GF(p); one rule per node type.

    Args:
        expression: built from MatrixSymbols, products, sums, Hadamard products, transposes,
            ones, slices, block matrices and EntrywiseMaps.
        env: MatrixSymbol name -> object array; ("sigmoid_prime", "z2") -> the values of that
            function on that matrix; scalar symbol name (lambda) -> int.
    """
    raise ValueError(f"cannot evaluate {type(expression).__name__} modulo p")


@evaluate.register
def _(expression: sp.MatrixSymbol, env):
    return env[expression.name]


@evaluate.register
def _(expression: sp.Transpose, env):
    return evaluate(expression.arg, env).T


@evaluate.register
def _(expression: sp.MatAdd, env):
    total = evaluate(expression.args[0], env)
    for term in expression.args[1:]:
        total = total + evaluate(term, env)
    return reduce(total)


@evaluate.register
def _(expression: sp.MatMul, env):
    factor, product = 1, None
    for argument in expression.args:
        if getattr(argument, "is_Matrix", False):
            value = evaluate(argument, env)
            product = value if product is None else reduce(product.dot(value))
        else:
            factor = factor * scalar(argument, env) % PRIME
    return reduce(product * factor)


@evaluate.register
def _(expression: sp.HadamardProduct, env):
    product = evaluate(expression.args[0], env)
    for argument in expression.args[1:]:
        product = reduce(product * evaluate(argument, env))
    return product


@evaluate.register
def _(expression: EntrywiseMap, env):
    return _entrywise(expression, env)


@evaluate.register
def _(expression: sp.MatrixBase, env):  # an explicit matrix of numbers or known scalars
    return np.array([[scalar(v, env) for v in expression.row(i)] for i in range(expression.rows)],
                    dtype=object).reshape(expression.shape)


@evaluate.register
def _(expression: sp.OneMatrix, env):
    return np.ones(tuple(int(n) for n in expression.shape), dtype=object)


@evaluate.register
def _(expression: sp.ZeroMatrix, env):
    return np.zeros(tuple(int(n) for n in expression.shape), dtype=object)


@evaluate.register
def _(expression: sp.MatrixSlice, env):
    rows, columns = expression.rowslice, expression.colslice
    parent = evaluate(expression.parent, env)
    return parent[int(rows[0]):int(rows[1]):int(rows[2]), int(columns[0]):int(columns[1]):int(columns[2])]


@evaluate.register
def _(expression: sp.BlockMatrix, env):
    blocks = expression.blocks
    return np.block([[evaluate(blocks[i, j], env) for j in range(blocks.shape[1])]
                     for i in range(blocks.shape[0])])


def _entrywise(expression: EntrywiseMap, env: dict):
    function, matrices = expression.function, expression.matrices
    body = function.expr
    if isinstance(body, sp.Function) and body.args == function.variables and isinstance(matrices[0], sp.MatrixSymbol):
        return env[(type(body).__name__, matrices[0].name)]
    values = {variable: evaluate(matrix, env) for variable, matrix in zip(function.variables, matrices)}
    return _scalar_formula(body, values, env)


def _scalar_formula(body: sp.Expr, values: dict, env: dict):
    if body in values:
        return values[body]
    if isinstance(body, sp.Symbol) or body.is_Number:
        return scalar(body, env)
    if isinstance(body, sp.Add):
        total = 0
        for term in body.args:
            total = total + _scalar_formula(term, values, env)
        return reduce(total)
    if isinstance(body, sp.Mul):
        product = 1
        for factor in body.args:
            product = reduce(product * _scalar_formula(factor, values, env))
        return product
    if isinstance(body, sp.Pow) and body.exp.is_Integer:
        base = _scalar_formula(body.base, values, env)
        exponent = int(body.exp)
        if exponent < 0:
            base, exponent = (_inverse_array(base) if isinstance(base, np.ndarray) else inverse(base)), -exponent
        result = 1
        for _ in range(exponent):
            result = reduce(result * base)
        return result
    if isinstance(body, sp.Function) and _is_opaque(type(body)) and len(body.args) == 1:
        # a cost's scalar function (Huber's rho'), of a residual such as yhat - y
        argument = _scalar_formula(body.args[0], values, env)
        return _opaque_array(type(body).__name__, argument)
    raise ValueError(f"cannot evaluate {body} modulo p")


class _NotEvaluable(Exception):
    """A node the random-point evaluation does not cover (exp, log, a fractional power, 1/0)."""


def nonzero_at_random_point(expression: sp.Expr, seed: int = 0) -> bool:
    """True when `expression` is non-zero at a random point of GF(p); False proves nothing.

    Non-zero at one point proves the expression is not identically zero as a rational function
    of its symbols and opaque function values, the question derive.backward.matrix_ops.is_zero settles by
    expanding (1 ms and up a call); this costs a walk of the tree. Each symbol gets a random
    residue, each application of an undefined function (f, f') a random value of its argument's
    value, so f(a (b + c)) and f(a b + a c) agree, as expand makes them. exp, log and the like
    have identities expand knows (exp(2 z) = exp(z)^2), so they, fractional powers and a zero
    denominator give False, and the caller falls back to is_zero.

    >>> x, y = sp.symbols("x y")
    >>> nonzero_at_random_point(x * y - y * x), nonzero_at_random_point(x * (y + 1) - x * y)
    (False, True)
    """
    generator = random.Random(seed)
    values: dict = {}
    try:
        return _residue(expression, values, generator) != 0
    except _NotEvaluable:
        return False


def _residue(expression: sp.Expr, values: dict, generator: random.Random) -> int:
    if expression.is_Symbol:
        if expression not in values:
            values[expression] = generator.randrange(1, PRIME)
        return values[expression]
    if expression.is_Rational:
        if int(expression.q) % PRIME == 0:
            raise _NotEvaluable(expression)
        return int(expression.p) * inverse(int(expression.q)) % PRIME
    if expression.is_Add:
        return sum(_residue(term, values, generator) for term in expression.args) % PRIME
    if expression.is_Mul:
        product = 1
        for factor in expression.args:
            product = product * _residue(factor, values, generator) % PRIME
        return product
    if expression.is_Pow and expression.exp.is_Integer:
        base = _residue(expression.base, values, generator)
        if base == 0 and expression.exp < 0:
            raise _NotEvaluable(expression)
        exponent = int(expression.exp)
        return pow(base, exponent, PRIME) if exponent >= 0 else pow(inverse(base), -exponent, PRIME)
    if isinstance(expression, sp.Function) and _is_opaque(type(expression)):
        key = (type(expression).__name__,) + tuple(_residue(a, values, generator) for a in expression.args)
        if key not in values:
            values[key] = generator.randrange(1, PRIME)
        return values[key]
    raise _NotEvaluable(expression)


@lru_cache(maxsize=None)
def _is_opaque(function_class: type) -> bool:
    """A function SymPy knows nothing about (derive.network.activations.opaque_pair, Function("f")): no
    eval rule and no expand rule of its own, so expand relates its values only through its argument."""
    own_rules = {name for name in dir(function_class) if name.startswith("_eval_expand")} - \
        {name for name in dir(sp.Function) if name.startswith("_eval_expand")}
    return function_class.eval.__func__ is sp.Function.eval.__func__ and not own_rules
