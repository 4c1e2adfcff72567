"""The derived route: the delta rule that derive_rule(spec) found, lambdified into NumPy code."""

# Notation (seed 000, Ng; the same as checks/handwritten/network.py): layers 1..L, a(1) = X, a(L) = yhat,
#   row form    (examples in rows):    z(l+1) = a(l) W(l) + 1 b(l)
#   column form (examples in columns): z(l+1) = W(l) a(l) + b(l) 1^T
# and every delta and gradient is the SymPy matrix expression of derive.backward.derivation, printed by
# DerivedNumPyPrinter, one assignment per delta, from the output layer down, after
# checks.routes.generated_lines has written f' through the forward pass's a where the local proof proves
# the activation table's identity and named each repeated subexpression once. Only J and the
# forward pass are written here, as matrix expressions built from the symbolic network and the
# cost table of derive.network.costs; nothing is imported from checks.handwritten.network but its return type.
#
# One function for every batch size: the rule is derived once at m0 examples (derivation_examples),
# with m0 odd, coprime to the output width and unequal to every other dimension, so that in the
# derived expressions a dimension equal to m0 can only be the example count and a rational with m0
# in its denominator can only carry the mean's 1/m. Both are rewritten to a symbol m, read from X
# at run time (with_symbolic_examples); anything else divisible by m0 is refused, not guessed.

from __future__ import annotations

import builtins
import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache, singledispatch
from typing import Callable, Mapping

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import precedence

from checks.routes.generated_lines import share_common, through_outputs
from checks.handwritten.network import Backprop
from derive.network.activations import ACTIVATION_TABLE, opaque_pair
from derive.network.costs import L2_STRENGTH, cost as cost_entry, scalar_losses
from derive.backward.derivation import Derivation, derivation_of
from derive.formulas.function_source import define_function
from derive.backward.matrix_ops import EntrywiseMap, LogSoftmax, Softmax, is_zero
from derive.network.symbols import SymbolicNetwork, symbolic_network
from derive.network.spec import NetworkSpec
from derive.program.program import program_of

EXAMPLES = sp.Symbol("m", integer=True, positive=True)  # the example count, read from X at run time
L2 = sp.Symbol("l2", nonnegative=True)  # lambda is a Python keyword: the generated code says l2
OUTPUT_DELTAS = ("simplified", "chain_rule")

# The entrywise oracle (SymPy's diff of the whole cost, with cse) is affordable for small nets only:
# SymPy's diff dominates and grows with parameters x examples. Measured here (one core): 0.7 s at
# 36 (2-3-1, m = 4), 1.6 s at 68, 3.7-5.3 s at 144-160, 10.6 s at 120 with three layers. verify
# uses it automatically up to this product of parameter count and m; beyond, on request only.
ENTRYWISE_LIMIT = 100


class NotNumeric(ValueError):
    """A spec the numeric routes cannot evaluate, e.g. the generic activation "f"."""


# ---------------------------------------------------------------------------------------------
# A scalar function the stable cost needs beyond derive.backward.matrix_ops.


# ---------------------------------------------------------------------------------------------
# The printer.


class DerivedNumPyPrinter(NumPyPrinter):
    """NumPy code for the derivation's matrix expressions, stable for large |z|.

    Prints A.dot(B), A * B (Hadamard), A.T, numpy.zeros, numpy.block, W[1:, :], EntrywiseMap
    as its scalar formula on arrays, and the opaque activations and derivatives of
    derive.network.activations as closed forms that never overflow: sigmoid(z) = (1 + tanh(z/2)) / 2,
    sigmoid'(z) = e^-|z| / (1 + e^-|z|)^2; relu'(0) = 0. A product with a ones vector prints as
    NumPy broadcasting in a sum (X.dot(W1) + b1) or as an axis sum (delta2.sum(axis=0,
    keepdims=True)). With example_count = m0, a dimension equal to m0 prints as the run-time
    example count m.

    >>> z = sp.MatrixSymbol("z2", 4, 3)
    >>> sigmoid_prime = opaque_pair("sigmoid")[1]
    >>> t = sp.Dummy("t")
    >>> DerivedNumPyPrinter().doprint(EntrywiseMap(sp.Lambda(t, sigmoid_prime(t)), z))
    '(numpy.exp(-numpy.abs(z2)) / (1 + numpy.exp(-numpy.abs(z2)))**2)'
    """

    printmethod = "_derived_numpy"
    _default_settings = {**NumPyPrinter._default_settings, "example_count": None}

    # --- shapes and structure -------------------------------------------------------------
    def _dimension(self, size) -> str:
        if self._settings["example_count"] is not None and size == self._settings["example_count"]:
            return "m"
        return self._print(size)

    def _shape(self, expr) -> str:
        return f"({self._dimension(expr.shape[0])}, {self._dimension(expr.shape[1])})"

    def _operand(self, expr) -> str:
        # these print as a name, a call, a subscript or x.T: they bind tighter than any operator
        atomic = isinstance(expr, (sp.MatrixSymbol, sp.Symbol, sp.Integer, sp.MatrixSlice, sp.Transpose,
                                   sp.OneMatrix, sp.ZeroMatrix, sp.BlockMatrix))
        # a product of matrices alone prints as a chain of method calls, A.dot(B).sum(...)
        atomic = atomic or (isinstance(expr, sp.MatMul) and all(getattr(a, "is_Matrix", False) for a in expr.args))
        text = self._print(expr)
        return text if atomic else f"({text})"

    def _print_Pow(self, expr, rational=False):
        if expr.exp == -1:  # 1/m rather than NumPyPrinter's m**(-1.0)
            return f"1/{self._operand(expr.base)}"
        return super()._print_Pow(expr, rational=rational)

    def _print_MatrixSymbol(self, expr):
        return expr.name

    def _print_Add(self, expr, order=None):
        # SymPy's order writes y - a as -a + y: two array passes (negate, add) for one. Positive
        # terms first, then each negative one as a subtraction.
        terms = self._as_ordered_terms(expr, order=order)
        printed = [self._print(term) for term in terms]
        negative = [text.startswith("-") and not term.is_Add for term, text in zip(terms, printed)]
        pieces = []
        for term, text, minus in sorted(zip(terms, printed, negative), key=lambda item: item[2]):
            body = text[1:] if minus else text
            if precedence(term) < precedence(expr) or (minus and precedence(-term) <= precedence(expr)):
                body = f"({body})"
            pieces.append((minus, body))
        first_minus, text = pieces[0]
        text = f"-{text}" if first_minus else text
        for minus, body in pieces[1:]:
            text += f" - {body}" if minus else f" + {body}"
        return text

    def _print_MatMul(self, expr):
        scalars = [a for a in expr.args if not getattr(a, "is_Matrix", False)]
        matrices = [a for a in expr.args if getattr(a, "is_Matrix", False)]
        # 1^T A (a row of ones on the left) sums A's columns and A 1 sums its rows: an axis sum,
        # not a product with a ones matrix that would be allocated first
        sums = []
        while len(matrices) > 1 and isinstance(matrices[0], sp.OneMatrix) and matrices[0].shape[0] == 1:
            matrices, sums = matrices[1:], sums + [0]
        while len(matrices) > 1 and isinstance(matrices[-1], sp.OneMatrix) and matrices[-1].shape[1] == 1:
            matrices, sums = matrices[:-1], sums + [1]
        # A.dot(B), not A @ B: the same BLAS call, but NumPy's @ spends ~0.5 µs more per product
        # on dispatch (measured at 4 x 3: 0.7 µs against 0.25 µs), a tenth of a 2-3-1 backprop
        chain = sums or scalars or len(matrices) > 1
        product = self._operand(matrices[0]) if chain else self._print(matrices[0])
        product += "".join(f".dot({self._print(a)})" for a in matrices[1:])
        for axis in sums:
            # the method: numpy.sum adds ~1.5 µs of Python dispatch per call (measured at 4 x 3)
            product = f"{product}.sum(axis={axis}, keepdims=True)"
        if not scalars:
            return product
        return f"{self._operand(sp.Mul(*scalars))} * {product}"

    @staticmethod
    def _broadcast(term):
        """B for 1 B (a column of ones times a row) or B 1^T: NumPy broadcasts B in a sum."""
        if not isinstance(term, sp.MatMul) or len(term.args) != 2:
            return None
        left, right = term.args
        if isinstance(left, sp.OneMatrix) and left.shape[1] == 1 and getattr(right, "is_Matrix", False):
            return right
        if isinstance(right, sp.OneMatrix) and right.shape[0] == 1 and getattr(left, "is_Matrix", False):
            return left
        return None

    @staticmethod
    def _signed(term):
        """(sign, term without it): -1 * y -> ("-", y), so that a sum prints as a - y."""
        if isinstance(term, sp.MatMul):
            scalars = [a for a in term.args if not getattr(a, "is_Matrix", False)]
            matrices = [a for a in term.args if getattr(a, "is_Matrix", False)]
            coefficient = sp.Mul(*scalars)
            if scalars and coefficient.could_extract_minus_sign():
                positive = -coefficient
                if positive == 1:
                    return "-", matrices[0] if len(matrices) == 1 else sp.MatMul(*matrices)
                return "-", sp.MatMul(positive, *matrices)
        return "+", term

    def _print_MatAdd(self, expr):
        terms = list(expr.args)
        broadcasts = [self._broadcast(term) for term in terms]
        full = any(b is None for b in broadcasts)  # a term of the sum's own shape: the others broadcast
        signed = [self._signed(b if (b is not None and full) else term) for term, b in zip(terms, broadcasts)]
        signed.sort(key=lambda pair: pair[0] == "-")  # stable: a positive term first, so a - y
        text = ""
        for sign, term in signed:
            # a method call and * bind tighter than + and -: only a nested sum needs parentheses
            operand = self._operand(term) if isinstance(term, sp.MatAdd) else self._print(term)
            if not text:
                text = operand if sign == "+" else f"-{operand}"
            else:
                text = f"{text} {sign} {operand}"
        return text

    def _print_HadamardProduct(self, expr):
        return " * ".join(self._operand(factor) for factor in expr.args)

    def _print_Transpose(self, expr):
        return f"{self._operand(expr.arg)}.T"

    def _print_OneMatrix(self, expr):
        return f"{self._module_format('numpy.ones')}({self._shape(expr)})"

    def _print_ZeroMatrix(self, expr):
        return f"{self._module_format('numpy.zeros')}({self._shape(expr)})"

    def _print_BlockMatrix(self, expr):
        rows = ", ".join("[" + ", ".join(self._print(expr.blocks[i, j]) for j in range(expr.blockshape[1])) + "]"
                         for i in range(expr.blockshape[0]))
        return f"{self._module_format('numpy.block')}([{rows}])"

    def _print_MatrixSlice(self, expr):
        def part(bounds, size):
            start, stop, step = (int(b) for b in bounds)
            text = (str(start) if start else "") + ":" + ("" if stop == size else str(stop))
            return text + (f":{step}" if step != 1 else "")

        parent = expr.parent
        return (f"{self._operand(parent)}[{part(expr.rowslice, parent.shape[0])}, "
                f"{part(expr.colslice, parent.shape[1])}]")

    def _print_EntrywiseMap(self, expr):
        function, matrices = expr.function, expr.matrices
        if all(isinstance(matrix, sp.MatrixSymbol) for matrix in matrices):
            # the scalar formula, its variables renamed to the arrays: NumPy applies it entrywise
            named = function.expr.xreplace({v: sp.Symbol(m.name) for v, m in zip(function.variables, matrices)})
            return self._print(named)
        names = [sp.Symbol(f"_u{index}") for index in range(len(matrices))]
        body = self._print(function.expr.xreplace(dict(zip(function.variables, names))))
        arguments = ", ".join(self._print(matrix) for matrix in matrices)
        return f"(lambda {', '.join(map(str, names))}: {body})({arguments})"

    def _print_LogSoftmax(self, expr):
        z, axis = self._operand(expr.args[0]), int(expr.args[1])
        numpy_max, log, total, exp = (self._module_format(f"numpy.{name}") for name in ("max", "log", "sum", "exp"))
        shifted = f"({z} - {numpy_max}({z}, axis={axis}, keepdims=True))"
        return f"({shifted} - {log}({total}({exp}{shifted}, axis={axis}, keepdims=True)))"

    def _print_Softmax(self, expr):
        return f"{self._module_format('numpy.exp')}({self._print(LogSoftmax(*expr.args))})"

    # --- scalar functions: the opaque activations of derive.network.activations ----------------------
    def _logaddexp(self, x: str) -> str:
        return f"{self._module_format('numpy.logaddexp')}(0, {x})"

    def _print_softplus(self, expr):
        return self._logaddexp(self._print(expr.args[0]))

    def _print_Heaviside(self, expr):
        # the entrywise oracle differentiates Max(0, x) into Heaviside(x): the same choice, H(0) = 0
        return f"{self._module_format('numpy.heaviside')}({self._print(expr.args[0])}, 0.0)"

    def _print_Max(self, expr):
        # relu written out is Max(0, x); NumPyPrinter's functools.reduce needs an import lambdify lacks
        text = self._print(expr.args[0])
        for argument in expr.args[1:]:
            text = f"{self._module_format('numpy.maximum')}({text}, {self._print(argument)})"
        return text

    def _print_f(self, expr):
        *others, last = [name for name, entry in ACTIVATION_TABLE.items() if not entry.is_generic]
        raise NotNumeric(f"the generic activation f has no numeric value; choose {', '.join(others)} or {last}")

    _print_f_prime = _print_f

    def print_template(self, template: str, argument: sp.Expr) -> str:
        """A table's NumPy code ({x} the argument) with each numpy.NAME through _module_format."""
        code = re.sub(r"numpy\.\w+", lambda match: self._module_format(match.group(0)), template)
        text = self._print(argument)
        # "f({x})" needs no parentheses around a sum; "0.5*{x}" does
        bare = text if isinstance(argument, (sp.Symbol, sp.MatrixSymbol, sp.Number)) else f"({text})"
        code = re.sub(r"(?<=\()\{x\}(?=[,)])", lambda _: text, code)
        return code.replace("{x}", bare)


def _template_method(template: str) -> Callable:
    def print_call(self, expr):
        return self.print_template(template, expr.args[0])
    return print_call


def _install_table_printers() -> None:
    """Each opaque function of the tables (activations, and the scalar losses of costs such as
    Huber's rho) prints as its entry's NumPy code: _print_sigmoid, _print_sigmoid_prime, ..."""
    entries = list(ACTIVATION_TABLE.items()) + list(scalar_losses().items())
    for name, entry in entries:
        if entry.numpy_function:
            setattr(DerivedNumPyPrinter, f"_print_{name}", _template_method(entry.numpy_function))
            setattr(DerivedNumPyPrinter, f"_print_{name}_prime", _template_method(entry.numpy_derivative))


_install_table_printers()


def lambdify_matrix(arguments, expression, example_count: int | None = None) -> Callable:
    """sympy.lambdify with DerivedNumPyPrinter: a NumPy function of the given MatrixSymbols.

    Plain sympy.lambdify refuses EntrywiseMap (and prints an ElementwiseApplyFunction as a
    SyntaxError, KNOWN.md); this prints it.

    >>> A, B = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 2)
    >>> lambdify_matrix([A, B], sp.HadamardProduct(A * B.T, A))(np.eye(2), np.ones((2, 2))).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    printer = DerivedNumPyPrinter({"example_count": example_count, "fully_qualified_modules": True})
    return sp.lambdify(arguments, expression, modules="numpy", printer=printer, use_imps=False)


# ---------------------------------------------------------------------------------------------
# One derivation for every m.


def _dimensions(spec: NetworkSpec) -> set[int]:
    sizes = set(spec.sizes)
    return {1} | sizes | {size + 1 for size in sizes}


def derivation_examples(spec: NetworkSpec) -> int:
    """The m0 the rule is derived at: spec.m if it is distinguishable, else the smallest odd one.

    Distinguishable: at least 3, coprime to 2 K (K the output width: the only other denominators
    are the 1/2 of half_sse and L2 and the 1/K of mse), and unequal to 1, every layer size and
    every size + 1 (the bias unit). Then m0 in a shape is the example count, and m0 in a
    denominator is the mean's 1/m.

    >>> derivation_examples(NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid")))
    5
    """
    def usable(m: int) -> bool:
        return m >= 3 and math.gcd(m, 2 * spec.sizes[-1]) == 1 and m not in _dimensions(spec)

    if usable(spec.m):
        return spec.m
    return next(m for m in range(3, 10**6, 2) if usable(m))


def cached_derivation(spec: NetworkSpec) -> Derivation:
    """The run's one Derivation of `spec` (derive.backward.derivation.derivation_of), never derived twice."""
    return derivation_of(spec)


class NotGeneralizable(RuntimeError):
    """A derived expression holds m0 somewhere it cannot be told apart from another constant."""


def _scalar_with_symbolic_examples(expr: sp.Expr, m0: int) -> sp.Expr:
    expr = sp.factor_terms(expr)  # pulls a numeric content out of sums: 5 x - 5 -> 5 (x - 1)
    expr = expr.replace(lambda e: e.is_Rational and e.q % m0 == 0,
                        lambda e: sp.Rational(e.p * m0, e.q) / EXAMPLES)
    for number in expr.atoms(sp.Rational):
        if number != 0 and (number.p % m0 == 0 or number.q % m0 == 0):
            raise NotGeneralizable(f"the constant {number} in {expr} is a multiple of m0 = {m0}")
    return expr


@singledispatch
def with_symbolic_examples(expr: sp.MatrixExpr, m0: int) -> sp.MatrixExpr:
    """The matrix expression with the mean's 1/m0 written 1/m (m = EXAMPLES); shapes are untouched.

    One rule per node type, registered below; a type without one is refused.

    Raises:
        NotGeneralizable: a scalar constant divisible by m0 that is not a 1/m0 factor.
    """
    raise NotGeneralizable(f"no rule for {type(expr).__name__} in a derived expression")


@with_symbolic_examples.register
def _(expr: EntrywiseMap, m0):
    function = expr.function
    body = _scalar_with_symbolic_examples(function.expr, m0)
    return EntrywiseMap(sp.Lambda(function.variables, body), *(with_symbolic_examples(m, m0) for m in expr.matrices))


@with_symbolic_examples.register
def _(expr: sp.MatMul, m0):
    return sp.MatMul(*[with_symbolic_examples(a, m0) if getattr(a, "is_Matrix", False)
                       else _scalar_with_symbolic_examples(a, m0) for a in expr.args])


@with_symbolic_examples.register(sp.MatAdd)
@with_symbolic_examples.register(sp.HadamardProduct)
def _(expr, m0):
    return type(expr)(*(with_symbolic_examples(a, m0) for a in expr.args))


@with_symbolic_examples.register
def _(expr: sp.Transpose, m0):
    return sp.Transpose(with_symbolic_examples(expr.arg, m0))


@with_symbolic_examples.register
def _(expr: sp.BlockMatrix, m0):
    blocks = expr.blocks
    return sp.BlockMatrix([[with_symbolic_examples(blocks[i, j], m0) for j in range(blocks.shape[1])]
                           for i in range(blocks.shape[0])])


@with_symbolic_examples.register
def _(expr: Softmax, m0):
    return type(expr)(with_symbolic_examples(expr.args[0], m0), int(expr.args[1]))


@with_symbolic_examples.register(sp.MatrixSymbol)
@with_symbolic_examples.register(sp.OneMatrix)
@with_symbolic_examples.register(sp.ZeroMatrix)
@with_symbolic_examples.register(sp.MatrixSlice)
def _(expr, m0):
    return expr  # no scalar inside: nothing to generalize


# ---------------------------------------------------------------------------------------------
# The forward pass and J, as matrix expressions.


def _unit_axis(spec: NetworkSpec) -> int:
    return 1 if spec.convention == "row" else 0


def _activation_of(layer, network: SymbolicNetwork) -> sp.MatrixExpr:
    """The NumPy target's reading of an activation layer: f(z) entrywise, softmax as exp(log_softmax(z))."""
    name = layer.activation
    if name == "f":
        raise NotNumeric(f"layer {layer.layer} has the generic activation f, which has no numeric value; "
                         "choose sigmoid, tanh, relu, identity or softmax")
    z = network.pre_activation(layer.layer).symbol
    t = sp.Dummy("t")
    if name == "softmax":
        # exp(log_softmax(z)): the cross-entropy reads log_softmax(z) too, and computes it once
        return EntrywiseMap(sp.Lambda(t, sp.exp(t)), LogSoftmax(z, _unit_axis(network.spec)))
    return EntrywiseMap(sp.Lambda(t, opaque_pair(name)[0](t)), z)


def forward_expressions(network: SymbolicNetwork) -> list[tuple[str, sp.MatrixExpr]]:
    """(name, expression) for z2, a2, ..., z(L), a(L): the program's dense layers as they are,
    its activation layers in the stable NumPy form."""
    program = program_of(network.spec)
    lines = []
    for layer in range(2, network.output_layer + 1):
        dense = program.dense(layer - 1)
        lines.append((dense.output(network).name, dense.forward(network)))
        lines.append((network.activation(layer).name, _activation_of(program.activation(layer), network)))
    return lines


def entry_loss(cost_name: str, units: int) -> tuple[sp.Symbol, sp.Symbol, sp.Expr]:
    """(y, yhat, loss of one output entry), read off derive.network.costs: loss_n = sum_k loss(y[n,k], yhat[n,k]).

    Raises:
        ValueError: the cost's example loss is not a sum of one formula over the units.

    >>> entry_loss("mse", 3)[2]
    (_y0 - _yhat0)**2/3
    """
    ys = [sp.Symbol(f"_y{k}") for k in range(units)]
    hats = [sp.Symbol(f"_yhat{k}") for k in range(units)]
    total = cost_entry(cost_name).example_loss(ys, hats)
    # distribute the factors in front of the sum (-1, 1/K) without expanding the squares
    distributed = sp.expand(total, deep=False, mul=True, multinomial=False, power_exp=False,
                            power_base=False, log=False)
    own = {ys[0], hats[0]}
    first = sp.Add(*[term for term in sp.Add.make_args(distributed) if term.free_symbols <= own])
    rebuilt = sp.Add(*[first.xreplace({ys[0]: ys[k], hats[0]: hats[k]}) for k in range(units)])
    if not is_zero(total - rebuilt):
        raise ValueError(f"the {cost_name} loss is not one formula summed over the output units")
    return ys[0], hats[0], first


def _stable_loss_matrix(network: SymbolicNetwork) -> sp.MatrixExpr:
    """The loss of every output entry, from z(L) where a log of yhat would underflow.

    Sigmoid output: log yhat = -softplus(-z) and log(1 - yhat) = -softplus(z), no log of 0 at
    |z| = 700. Softmax output: log yhat = log_softmax(z). Other outputs: the loss of a(L) as it is.
    """
    spec = network.spec
    y, yhat, loss = entry_loss(spec.cost, spec.sizes[-1])
    targets = network.targets.symbol
    z, output = network.pre_activation(network.output_layer).symbol, network.output.symbol
    entry = ACTIVATION_TABLE[spec.output_activation]
    if entry.stable_logs is not None:
        t = sp.Symbol("_z")
        log_output, log_complement = entry.stable_logs(t)

        def log(argument):
            if argument == yhat:
                return log_output
            if sp.expand(argument - (1 - yhat)) == 0:
                return log_complement
            return sp.log(argument)

        stable = loss.replace(sp.log, log).xreplace({yhat: entry.opaque(t)})
        return EntrywiseMap(sp.Lambda((y, t), stable), targets, z)
    if not entry.is_elementwise:  # softmax
        log_yhat = sp.Symbol("_log_yhat")
        stable = loss.xreplace({sp.log(yhat): log_yhat})
        if yhat in stable.free_symbols:
            raise ValueError(f"the {spec.cost} loss uses yhat outside log(yhat); softmax is scored "
                             "through log_softmax only")
        return EntrywiseMap(sp.Lambda((y, log_yhat), stable), targets, LogSoftmax(z, _unit_axis(spec)))
    return EntrywiseMap(sp.Lambda((y, yhat), loss), targets, output)


def _regularized_weights(network: SymbolicNetwork, layer: int) -> sp.MatrixExpr:
    weights = network.weights(layer).symbol
    if not network.has_bias_unit:
        return weights
    return weights[1:, :] if network.is_row else weights[:, 1:]


# ---------------------------------------------------------------------------------------------
# The generated function.


def _generalized(expression, m0: int):
    return with_symbolic_examples(expression, m0).xreplace({L2_STRENGTH: L2})


def _entrywise_outputs(network: SymbolicNetwork) -> dict[sp.MatrixSymbol, tuple[str, sp.MatrixSymbol]]:
    """z(l) -> (activation name, a(l)) for each layer with an entrywise activation."""
    return {network.pre_activation(layer).symbol: (network.spec.activation(layer), network.activation(layer).symbol)
            for layer in range(2, network.output_layer + 1)
            if ACTIVATION_TABLE[network.spec.activation(layer)].function is not None}


def _line_name(network: SymbolicNetwork) -> Callable[[sp.MatrixExpr], str | None]:
    """Names for shared subexpressions: log_softmax(z(l)) is log_a(l); others get shared1, ..."""
    logs = {LogSoftmax(network.pre_activation(layer).symbol, _unit_axis(network.spec)): f"log_{network.activation(layer).name}"
            for layer in range(2, network.output_layer + 1)}
    return logs.get


def _split_constant(loss: sp.MatrixExpr) -> tuple[sp.Expr, sp.MatrixExpr]:
    """(c, map) with loss = c * map entrywise: the 1/2 of (y - a)^2 / 2 goes outside the sum."""
    if not isinstance(loss, EntrywiseMap):
        return sp.Integer(1), loss
    coefficient, rest = loss.function.expr.as_coeff_Mul()
    return coefficient, EntrywiseMap(sp.Lambda(loss.function.variables, rest), *loss.matrices)


def generate_source(spec: NetworkSpec, output_delta: str = "simplified") -> str:
    """The Python source of the derived route for `spec`, one assignment per quantity.

    The function takes the parameters, X and y by name and returns (J, gradients by name, deltas
    by layer, z by layer, a by layer). See derived_gradient_function for output_delta. Each
    activation is evaluated once, in the forward pass: f' is written through a = f(z) where the
    local proof proves the identity (checks.routes.generated_lines), a subexpression used twice gets a
    line of its own, biases are broadcast and bias gradients are axis sums.

    Raises:
        NotNumeric: an activation is the generic f.
        ValueError: output_delta is unknown.
    """
    if output_delta not in OUTPUT_DELTAS:
        raise ValueError(f"unknown output_delta {output_delta!r}; accepted: {', '.join(OUTPUT_DELTAS)}")
    m0 = derivation_examples(spec)
    spec0 = replace(spec, m=m0)
    network = symbolic_network(spec0)
    printer = DerivedNumPyPrinter({"example_count": m0, "fully_qualified_modules": True})
    show = lambda expression: printer.doprint(_generalized(expression, m0))  # noqa: E731

    derivation = cached_derivation(spec0)
    deltas = list(derivation.deltas())
    if output_delta == "simplified" and derivation.simplified_output_delta is not None:
        deltas[0] = (deltas[0][0], derivation.simplified_output_delta.formula)
    outputs = _entrywise_outputs(network)
    coefficient, loss = _split_constant(through_outputs(_stable_loss_matrix(network), outputs))
    named = forward_expressions(network) + [("J", loss)]
    named += [(name, through_outputs(expression, outputs)) for name, expression in deltas]
    named += [(f"dJ_d{name}", through_outputs(expression, outputs)) for name, expression in derivation.gradients]
    named = share_common(named, _line_name(network), values_only={"J"})

    lines = []
    for name, expression in named:
        if name != "J":
            lines.append(f"{name} = {show(expression)}")
            continue
        factor = _scalar_with_symbolic_examples(network.reduction * coefficient, m0)
        total = f"({show(expression)}).sum()"
        cost = total if factor == 1 else f"-{total}" if factor == -1 else f"{printer.doprint(factor)} * {total}"
        if network.regularization_factor != 0:
            factor = printer.doprint(
                _scalar_with_symbolic_examples(network.regularization_factor, m0).xreplace({L2_STRENGTH: L2}))
            squares = " + ".join(f"numpy.sum({show(_regularized_weights(network, layer))}**2)"
                                 for layer in range(1, network.output_layer))
            cost += f" + {factor} * ({squares})"
        lines.append(f"J = {cost}")
    if any(re.search(r"\bm\b", line) for line in lines):  # the example count, where a line needs it
        lines.insert(0, f"m = X.shape[{0 if network.is_row else 1}]")

    parameters = [quantity.name for quantity in network.parameters()]
    layers = range(2, network.output_layer + 1)
    returned = (
        "J",
        "{" + ", ".join(f"'{name}': dJ_d{name}" for name, _ in derivation.gradients) + "}",
        "{" + ", ".join(f"{int(name[len('delta'):])}: {name}" for name, _ in deltas) + "}",
        "{" + ", ".join(f"{layer}: {network.pre_activation(layer).name}" for layer in layers) + "}",
        "{" + ", ".join(f"{layer}: {network.activation(layer).name}" for layer in [1, *layers]) + "}",
    )
    signature = ", ".join(parameters + ["X", network.targets.name])
    body = "\n".join(f"    {line}" for line in lines + [f"return {', '.join(returned)}"])
    return f"def derived_backprop({signature}):\n{body}\n"


@dataclass(frozen=True, eq=False)
class DerivedRoute:
    """The derived route of one spec: call it as route(params, X, Y) -> Backprop.

    Attributes:
        spec: the network; its m is not used (any number of examples works).
        source: the generated Python source.
        derived_at: m0, the example count the rule was derived at.
        output_delta: "simplified" or "chain_rule" (see derived_gradient_function).
    """

    spec: NetworkSpec
    source: str
    derived_at: int
    output_delta: str
    parameter_shapes: dict[str, tuple[int, int]]
    function: Callable

    def __call__(self, params: Mapping, X, Y) -> Backprop:
        """J, dJ/d(every parameter) and delta(l) for l = L..2, as checks.handwritten.network.backprop returns them."""
        cost, gradients, deltas, _, _ = self._run(params, X, Y)
        return Backprop(cost=cost, gradients=gradients, deltas=deltas)

    def forward(self, params: Mapping, X, Y) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """(z by layer 2..L, a by layer 1..L) of the generated forward pass."""
        _, _, _, z, a = self._run(params, X, Y)
        return z, a

    def cost(self, params: Mapping, X, Y) -> float:
        return self._run(params, X, Y)[0]

    def _run(self, params: Mapping, X, Y):
        arrays = self._checked(params, X, Y)
        cost, gradients, deltas, z, a = self.function(**arrays)
        return float(cost), {name: np.asarray(g, dtype=np.float64) for name, g in gradients.items()}, deltas, z, a

    def _checked(self, params: Mapping, X, Y) -> dict[str, np.ndarray]:
        expected = self.parameter_shapes
        if set(params) != set(expected):
            raise ValueError(f"parameters given: {', '.join(map(str, params)) or 'none'}; "
                             f"expected: {', '.join(expected)}")
        arrays = {}
        for name, shape in expected.items():
            arrays[name] = _finite(name, params[name], shape)
        row = self.spec.convention == "row"
        X = _finite("X", X, None)
        n_in, n_out = self.spec.sizes[0], self.spec.sizes[-1]
        if X.ndim != 2 or X.shape[1 if row else 0] != n_in:
            raise ValueError(f"X has shape {X.shape}; expected {('(m, %d)' if row else '(%d, m)') % n_in}")
        m = X.shape[0 if row else 1]
        arrays["X"] = X
        arrays["y"] = _finite("y", Y, (m, n_out) if row else (n_out, m))
        return arrays


def _finite(name: str, value, shape) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape}; expected {tuple(shape)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


@lru_cache(maxsize=64)
def _route(spec: NetworkSpec, output_delta: str) -> DerivedRoute:
    source = generate_source(spec, output_delta)
    function = define_function(source, f"<derived route {spec.slug}>", "derived_backprop",
                               {"numpy": np, "l2": float(spec.l2), "__builtins__": builtins})
    network = symbolic_network(spec)
    shapes = {quantity.name: quantity.shape for quantity in network.parameters()}
    return DerivedRoute(spec=spec, source=source, derived_at=derivation_examples(spec),
                        output_delta=output_delta, parameter_shapes=shapes,
                        function=function)


def derived_gradient_function(spec: NetworkSpec, output_delta: str = "simplified") -> DerivedRoute:
    """The derived delta rule of `spec` as one NumPy function (params, X, Y) -> Backprop.

    Row form: delta(L) = dJ/dyhat (.) f'(z(L)); delta(l) = (delta(l+1) W(l)^T) (.) f'(z(l));
    dJ/dW(l) = a(l)^T delta(l+1); dJ/db(l) = 1^T delta(l+1) -- each as derive_rule found it.
    The result works for any number of examples m (see derivation_examples).

    Args:
        spec: the network (activations other than the generic f).
        output_delta: "simplified" uses the derivation's simplified output delta where it has one
            (yhat - y for sigmoid with binary cross-entropy and softmax with categorical
            cross-entropy), which stays finite for any z; "chain_rule" uses the product
            dJ/dyhat (.) f'(z(L)) as the chain rule gives it, which is 0 * inf = NaN once
            sigma(z) rounds to 1 (|z| > ~37) under a cross-entropy.

    Returns:
        A DerivedRoute, cached per spec (up to m) and output_delta.

    Raises:
        NotNumeric: an activation is the generic f.

    >>> from derive.network.spec import XOR_SPEC
    >>> route = derived_gradient_function(XOR_SPEC)
    >>> result = route({"W1": np.ones((2, 3)), "W2": np.ones((3, 1))}, np.eye(2), [[1.0], [0.0]])
    >>> result.gradients["W1"].shape, sorted(result.deltas)
    ((2, 3), [2, 3])
    """
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"spec must be a NetworkSpec, got {type(spec).__name__}")
    return _route(replace(spec, m=derivation_examples(spec)), output_delta)


def derived_backprop(spec: NetworkSpec, params: Mapping, X, Y) -> Backprop:
    """derived_gradient_function(spec)(params, X, Y), with checks.handwritten.network.backprop's signature.

    Pass it to checks.training.train(gradient_fn=derived_backprop) to train with the derived rule.
    """
    return derived_gradient_function(spec)(params, X, Y)


# ---------------------------------------------------------------------------------------------
# The entrywise route: SymPy's diff of the whole cost by every parameter entry, for small nets.


@dataclass(frozen=True, eq=False)
class EntrywiseRoute:
    """J and its entrywise derivatives, lambdified after common-subexpression elimination.

    Evaluated as SymPy writes them (1/(1 + exp(-z)), log(1 - ...)): accurate for moderate |z|
    only; verify uses it where every |z| is below its own limit.
    """

    spec: NetworkSpec
    parameter_shapes: dict[str, tuple[int, int]]
    function: Callable

    def __call__(self, params: Mapping, X, Y) -> Backprop:
        """Backprop with J and the gradients (deltas are not part of this route: empty)."""
        row = self.spec.convention == "row"
        m = self.spec.m
        n_in, n_out = self.spec.sizes[0], self.spec.sizes[-1]
        X = _finite("X", X, (m, n_in) if row else (n_in, m))
        Y = _finite("y", Y, (m, n_out) if row else (n_out, m))
        if set(params) != set(self.parameter_shapes):
            raise ValueError(f"parameters given: {', '.join(map(str, params))}; "
                             f"expected: {', '.join(self.parameter_shapes)}")
        arrays = [_finite(name, params[name], shape) for name, shape in self.parameter_shapes.items()]
        values = [X.ravel(), Y.ravel()] + [array.ravel() for array in arrays]
        result = self.function(*np.concatenate(values).tolist(), float(self.spec.l2))
        cost, flat = float(result[0]), np.array(result[1:], dtype=np.float64)
        gradients, start = {}, 0
        for name, shape in self.parameter_shapes.items():
            size = shape[0] * shape[1]
            gradients[name] = flat[start:start + size].reshape(shape)
            start += size
        return Backprop(cost=cost, gradients=gradients, deltas={})


@lru_cache(maxsize=32)
def entrywise_gradient_function(spec: NetworkSpec) -> EntrywiseRoute:
    """dJ/dtheta for every parameter entry theta, by SymPy's diff of J written out in full.

    J = symbolic_network(spec).full_cost(concrete=True): the activations as formulas
    (sigma(x) = 1/(1 + exp(-x)), relu = Max(0, x)), every z and a substituted. Its derivatives
    are reduced with sympy.cse and lambdified; Heaviside(0) prints as 0 (relu'(0) = 0).
    Only for spec.m examples exactly.

    Raises:
        NotNumeric: an activation is the generic f.
    """
    if "f" in spec.activations:
        raise NotNumeric("the generic activation f has no numeric value")
    network = symbolic_network(spec)
    cost = network.full_cost(concrete=True).xreplace({L2_STRENGTH: L2})
    quantities = network.parameters()
    entries = [q.entry(*p) for q in quantities for p in q.positions()]
    derivatives = [sp.diff(cost, entry) for entry in entries]
    inputs = [network.inputs.entry(*p) for p in network.inputs.positions()]
    targets = [network.targets.entry(*p) for p in network.targets.positions()]
    printer = DerivedNumPyPrinter({"fully_qualified_modules": True})
    function = sp.lambdify(inputs + targets + entries + [L2], [cost, *derivatives], modules="numpy",
                           printer=printer, cse=True, use_imps=False)
    return EntrywiseRoute(spec=spec, parameter_shapes={q.name: q.shape for q in quantities},
                          function=function)
