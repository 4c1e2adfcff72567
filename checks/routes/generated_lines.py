"""The derived route's lines before printing: f' through the activation's output, and shared subexpressions."""

# A line is (name, matrix expression), in the order the generated function computes them. Two
# rewrites make the printed code do the work a person writing it by hand would do, and no more:
#
#   through_outputs  f'(z(l)) written with a(l) = f(z(l)) where the activation table holds an
#                    identity that derive.proofs.local proves (sigma' = a (1 - a), tanh' = 1 - a^2,
#                    identity' = 1), and f(z(l)) itself read from a(l): the activation is
#                    evaluated once, in the forward pass;
#   share_common     a subexpression that occurs in two places (log_softmax(z3) in a3 and in J)
#                    becomes a line of its own, and a later occurrence of a line's expression
#                    becomes its name.
#
# Both only rename and regroup: the value of every line is unchanged (the tests compare the
# generated function with the hand-written backprop and the source with its unshared form).

from __future__ import annotations

from typing import Callable, Mapping

import sympy as sp

from derive.network.activations import ACTIVATION_TABLE, opaque_pair
from derive.proofs.local import proved_output_identity
from derive.backward.matrix_ops import EntrywiseMap

Line = tuple[str, sp.MatrixExpr]
# pre-activation z(l) -> (the activation's name, a(l)); only entrywise activations are listed
Outputs = Mapping[sp.MatrixSymbol, tuple[str, sp.MatrixSymbol]]


# ---------------------------------------------------------------------------------------------
# f' through the output.


def _map_through_outputs(entrywise: EntrywiseMap, outputs: Outputs) -> sp.MatrixExpr:
    body = entrywise.function.expr
    pairs = []
    for variable, matrix in zip(entrywise.function.variables, entrywise.matrices):
        if matrix in outputs:
            name, output = outputs[matrix]
            function, prime = opaque_pair(name)
            if proved_output_identity(name):  # only an identity SymPy has proved is used
                body = body.xreplace({prime(variable): ACTIVATION_TABLE[name].derivative_from_output(function(variable))})
            value = sp.Dummy(output.name)
            body = body.xreplace({function(variable): value})
            pairs.append((value, output))
        pairs.append((variable, matrix))
    # one variable per matrix, and only the matrices the formula still reads
    first: dict[sp.MatrixExpr, sp.Symbol] = {}
    for variable, matrix in pairs:
        if variable in body.free_symbols:
            if matrix in first:
                body = body.xreplace({variable: first[matrix]})
            else:
                first[matrix] = variable
    if not first:  # a constant, e.g. identity' = 1: keep a matrix for the shape
        return EntrywiseMap(sp.Lambda(entrywise.function.variables[0], body), entrywise.matrices[0])
    variables, matrices = list(first.values()), list(first)
    if body in variables:  # f(z(l)) alone is a(l)
        return matrices[variables.index(body)]
    return EntrywiseMap(sp.Lambda(tuple(variables), body), *matrices)


def _is_unit(expression) -> bool:
    return isinstance(expression, EntrywiseMap) and expression.function.expr == 1


def through_outputs(expression: sp.MatrixExpr, outputs: Outputs) -> sp.MatrixExpr:
    """The expression with each f(z(l)) read from a(l), and f'(z(l)) written through a(l) when proved.

    Args:
        expression: a delta, a gradient or the cost's entrywise loss.
        outputs: z(l) -> (activation name, a(l)) for every entrywise layer.

    Returns:
        The same value; a factor identity'(z) = 1 is dropped from a Hadamard product.

    >>> z, a, y = (sp.MatrixSymbol(name, 4, 1) for name in ("z3", "a3", "y"))
    >>> t = sp.Symbol("t")
    >>> delta = sp.HadamardProduct(a - y, EntrywiseMap(sp.Lambda(t, opaque_pair("sigmoid")[1](t)), z))
    >>> from checks.routes.derived import DerivedNumPyPrinter
    >>> DerivedNumPyPrinter().doprint(through_outputs(delta, {z: ("sigmoid", a)}))
    '(a3 - y) * (a3*(1 - a3))'
    """
    maps = {entrywise: _map_through_outputs(entrywise, outputs) for entrywise in expression.atoms(EntrywiseMap)}
    if isinstance(expression, EntrywiseMap):
        expression = maps[expression]
    else:
        expression = expression.xreplace(maps)
    for product in sorted(expression.atoms(sp.HadamardProduct), key=sp.count_ops, reverse=True):
        factors = [factor for factor in product.args if not _is_unit(factor)]
        if len(factors) < len(product.args):
            reduced = factors[0] if len(factors) == 1 else sp.HadamardProduct(*factors)
            expression = reduced if expression == product else expression.xreplace({product: reduced})
    return expression


# ---------------------------------------------------------------------------------------------
# Common subexpressions.

# cheap to write twice: a name, a view or a transpose of a name
_NOT_WORTH_A_LINE = (sp.MatrixSymbol, sp.OneMatrix, sp.ZeroMatrix, sp.MatrixSlice)


def _worth_a_line(expression) -> bool:
    if not isinstance(expression, sp.MatrixExpr) or isinstance(expression, _NOT_WORTH_A_LINE):
        return False
    if isinstance(expression, sp.Transpose):
        return _worth_a_line(expression.arg)
    if isinstance(expression, sp.MatMul) and len(expression.args) == 2 and \
            any(isinstance(a, sp.OneMatrix) for a in expression.args):
        return False  # 1 b and 1^T delta print as a broadcast and an axis sum, not as work
    return True


def _subexpressions(expression) -> list:
    """The proper matrix subexpressions, each once per occurrence."""
    found = []
    for argument in expression.args:
        if isinstance(argument, sp.MatrixExpr):
            found.append(argument)
            found.extend(_subexpressions(argument))
    return found


def _read_by_a_formula(expression) -> list:
    """The matrices an entrywise formula reads that are not names: NumPy code needs them named."""
    return [matrix for entrywise in expression.atoms(EntrywiseMap) for matrix in entrywise.matrices
            if _worth_a_line(matrix)]


def share_common(lines: list[Line], name_for: Callable[[sp.MatrixExpr], str | None],
                 values_only: frozenset[str] | set[str] = frozenset()) -> list[Line]:
    """The lines with every repeated subexpression computed once, in a line of its own.

    A later occurrence of a line's whole expression is replaced by the line's name; a
    subexpression found twice (or read by an entrywise formula) gets a new line just before its
    first use, named name_for(subexpression) or shared1, shared2, ... A line in values_only is
    printed as part of a larger statement (J = c * sum(loss)): its name is not a variable.

    >>> z = sp.MatrixSymbol("z", 4, 3)
    >>> from checks.routes.derived import LogSoftmax
    >>> t = sp.Symbol("t")
    >>> lines = [("a", EntrywiseMap(sp.Lambda(t, sp.exp(t)), LogSoftmax(z, 1))), ("J", 2 * LogSoftmax(z, 1))]
    >>> [(name, str(value)) for name, value in share_common(lines, lambda e: "log_a")]
    [('log_a', 'LogSoftmax(z, 1)'), ('a', 'EntrywiseMap(Lambda(t, exp(t)), log_a)'), ('J', '2*log_a')]
    """
    lines = list(lines)
    taken = {name for name, _ in lines}
    counter = 0
    for _ in range(100):  # each round names one subexpression; a function has far fewer
        # a line's own expression, met again later, is its name
        for index, (name, expression) in enumerate(lines):
            if name not in values_only and _worth_a_line(expression):
                symbol = sp.MatrixSymbol(name, *expression.shape)
                lines[index + 1:] = [(other, value.xreplace({expression: symbol}))
                                     for other, value in lines[index + 1:]]
        counts: dict = {}
        for _, expression in lines:
            for sub in _subexpressions(expression):
                if _worth_a_line(sub):
                    counts[sub] = counts.get(sub, 0) + 1
            for sub in _read_by_a_formula(expression):
                counts[sub] = counts.get(sub, 0) + 2
        repeated = [sub for sub, count in counts.items() if count >= 2]
        if not repeated:
            return lines
        # the largest first: naming it also names what it contains
        sub = max(repeated, key=lambda e: (sp.count_ops(e), -len(str(e))))
        name = name_for(sub)
        if name is None or name in taken:
            counter += 1
            name = f"shared{counter}"
        taken.add(name)
        first = next(index for index, (_, expression) in enumerate(lines) if sub in _subexpressions(expression)
                     or sub in _read_by_a_formula(expression))
        symbol = sp.MatrixSymbol(name, *sub.shape)
        lines = lines[:first] + [(name, sub)] + [(other, value.xreplace({sub: symbol})) for other, value in lines[first:]]
    raise RuntimeError("share_common did not settle in 100 rounds")
