"""A scalar expression as a circuit of gates, with cs231n's forward and backward pass."""

# Every node keeps its inputs' values from the forward pass; the backward pass starts from
# dL/dL = 1 at the output and walks the nodes in reverse topological order, each gate multiplying
# the gradient that arrives from above (upstream) by its local gradient to get the gradient it
# sends to each input (downstream). Where one value feeds several gates, the gradients those gates
# send back add up (the multivariable chain rule). L names the expression's output.
#
# Arithmetic: values and gradients are Python floats (IEEE double), as in cs231n and micrograd: the
# circuit is what a person would compute by hand or in NumPy. Its checks (derive/circuits/check.py)
# are independent of it.
#
# Non-differentiable points. `max` sends the gradient to its largest input; at a tie the gradient
# is split equally among the tied inputs (what torch.maximum and jax.numpy.maximum do). For two
# tied inputs that is the average of the one-sided slopes, which is also what SymPy's
# Heaviside(0) = 1/2 and a central difference give, so the checks agree there. `relu` takes slope 0
# at 0 and `abs` takes 0 at 0 (NumPy-style code, PyTorch, micrograd); the checks then report a kink.
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import sympy as sp

from derive.formulas.expression_parser import (SCALAR_FUNCTIONS, SCALAR_OPERATORS, FormulaNode,
                                      parse_tree, to_sympy)


class CircuitError(ValueError):
    """An expression or point the circuit cannot evaluate; the message says where and why."""


@dataclass(frozen=True)
class Gate:
    """One primitive: its forward rule and its local gradient, apart from the code that walks.

    Args:
        label: what the picture and the table show.
        forward: input values -> output value.
        local: (input values, output value) -> d output / d input, one per input; NaN where
            the slope does not exist, which is an error only if a gradient must flow there.
        local_text: the local gradients as a formula, a, b, ... being the inputs.
        domain: input values -> None, or (reason, index of the offending input).
        pieces: for piecewise gates, input values -> the pieces active; two or more is a kink.
    """

    label: str
    forward: Callable[..., float]
    local: Callable[[tuple[float, ...], float], tuple[float, ...]]
    local_text: str
    domain: Callable[..., tuple[str, int] | None] = lambda *values: None
    pieces: Callable[..., tuple[int, ...]] | None = None


def _max_local(values: tuple[float, ...], out: float) -> tuple[float, ...]:
    tied = [value == out for value in values]
    share = 1.0 / sum(tied)  # tie rule: split equally among the inputs equal to the maximum
    return tuple(share if is_max else 0.0 for is_max in tied)


def _sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)  # for a < 0, exp(-a) could overflow; exp(a) cannot
    return e / (1.0 + e)


def _sign_pieces(a: float) -> tuple[int, ...]:
    return (1,) if a > 0 else (0,) if a < 0 else (0, 1)


def _pow_domain(a: float, b: float) -> tuple[str, int] | None:
    if a == 0 and b < 0:
        return "division by zero (0 to a negative power)", 0
    if a < 0 and b != int(b):
        return "a negative base to a non-integer power is not a real number", 0
    return None


def _pow_base_slope(a: float, b: float) -> float:
    if b == 0:
        return 0.0
    if a == 0 and b < 1:
        return math.nan  # infinite: the slope of a ** b at a = 0 for b < 1
    return b * a ** (b - 1)


def _pow_exponent_slope(a: float, out: float) -> float:
    if a == 0:
        return 0.0  # 0 ** b = 0 for every b > 0, so it does not move with b
    if a < 0:
        return math.nan  # the slope in b is a ** b log(a), and log(a) needs a > 0
    return out * math.log(a)


GATES: Mapping[str, Gate] = {
    "add": Gate("+", lambda a, b: a + b, lambda v, out: (1.0, 1.0), "1, 1"),
    "sub": Gate("-", lambda a, b: a - b, lambda v, out: (1.0, -1.0), "1, -1"),
    "mul": Gate("*", lambda a, b: a * b, lambda v, out: (v[1], v[0]), "b, a"),
    # a/b^2 as (a/b)/b: b^2 overflows for |b| > 1.3e154, where the slope itself only underflows
    # to 0 (sigmoid split into gates at x = -700 divides by 1 + exp(700) = 1e304)
    "div": Gate("/", lambda a, b: a / b, lambda v, out: (1.0 / v[1], -(v[0] / v[1]) / v[1]),
                "1/b, -a/b^2", lambda a, b: ("division by zero", 1) if b == 0 else None),
    "pow": Gate("**", lambda a, b: a ** b,
                lambda v, out: (_pow_base_slope(*v), _pow_exponent_slope(v[0], out)),
                "b a^(b-1), a^b log(a)", _pow_domain),
    # a constant exponent (x ** 2) needs no slope in the exponent, and x may then be negative
    "pow_const": Gate("**", lambda a, b: a ** b, lambda v, out: (_pow_base_slope(*v), 0.0),
                      "b a^(b-1)", _pow_domain),
    "neg": Gate("*-1", lambda a: -a, lambda v, out: (-1.0,), "-1"),
    "reciprocal": Gate("1/x", lambda a: 1.0 / a, lambda v, out: (-(1.0 / v[0]) / v[0],), "-1/a^2",
                       lambda a: ("division by zero", 0) if a == 0 else None),
    "exp": Gate("exp", math.exp, lambda v, out: (out,), "exp(a)"),
    "log": Gate("log", math.log, lambda v, out: (1.0 / v[0],), "1/a",
                lambda a: ("log of a non-positive value", 0) if a <= 0 else None),
    "sin": Gate("sin", math.sin, lambda v, out: (math.cos(v[0]),), "cos(a)"),
    "cos": Gate("cos", math.cos, lambda v, out: (-math.sin(v[0]),), "-sin(a)"),
    "tanh": Gate("tanh", math.tanh, lambda v, out: (1.0 - out * out,), "1 - tanh(a)^2"),
    # cs231n keeps the sigmoid whole: its local gradient needs only its own output.
    "sigmoid": Gate("sigmoid", _sigmoid,
                    lambda v, out: (out * (1.0 - out),), "s (1 - s), s = sigmoid(a)"),
    "relu": Gate("relu", lambda a: max(a, 0.0), lambda v, out: (1.0 if v[0] > 0 else 0.0,),
                 "1 if a > 0 else 0 (0 at a = 0)", pieces=_sign_pieces),
    # slope 0.01 below 0, and 0.01 at 0 as PyTorch (derive.network.activations documents the choice)
    "leaky_relu": Gate("leaky_relu", lambda a: a if a > 0 else 0.01 * a,
                       lambda v, out: (1.0 if v[0] > 0 else 0.01,), "1 if a > 0 else 0.01 (0.01 at a = 0)",
                       pieces=_sign_pieces),
    "identity": Gate("identity", lambda a: a, lambda v, out: (1.0,), "1"),
    "abs": Gate("abs", abs, lambda v, out: (math.copysign(1.0, v[0]) if v[0] else 0.0,),
                "sign(a) (0 at a = 0)", pieces=_sign_pieces),
    "max": Gate("max", lambda *v: max(v), _max_local,
                "1 to the largest input, 0 to the others; a tie splits it equally",
                pieces=lambda *v: tuple(i for i, value in enumerate(v) if value == max(v))),
}


@dataclass(frozen=True)
class Node:
    """One node of the circuit.

    Args:
        index: its place in topological order (every input of a node comes before it).
        gate: "input", "const" or a key of GATES.
        inputs: the indices of the nodes feeding it, in argument order.
        text: what it computes, as written ("x + y"), an input's name, or a constant's text.
        expression: the same in SymPy, with real symbols.
        constant: a constant's float value.
    """

    index: int
    gate: str
    inputs: tuple[int, ...]
    text: str
    expression: sp.Expr
    constant: float | None = None

    @property
    def label(self) -> str:
        """What the node shows in a picture."""
        return GATES[self.gate].label if self.gate in GATES else self.text

    @property
    def is_gate(self) -> bool:
        return self.gate in GATES


@dataclass(frozen=True)
class Circuit:
    """A scalar expression as gates; the last node is the output.

    Args:
        nodes: every node, in topological order.
        names: the input names, in order of first appearance.
        source: the expression as the user wrote it.
        split_sigmoid: whether sigmoid was split into *-1, exp, +, 1/x.
    """

    nodes: tuple[Node, ...]
    names: tuple[str, ...]
    source: str
    split_sigmoid: bool = False

    @property
    def output(self) -> Node:
        return self.nodes[-1]

    def consumers(self, index: int) -> tuple[tuple[int, int], ...]:
        """(gate index, argument position) for every edge leaving node `index`."""
        return tuple((node.index, position) for node in self.nodes
                     for position, source in enumerate(node.inputs) if source == index)

    def node_named(self, name: str) -> Node:
        """The input node of `name`."""
        return next(node for node in self.nodes if node.gate == "input" and node.text == name)


@dataclass(frozen=True)
class BackwardStep:
    """What one node does in the backward pass.

    Args:
        node: the node's index.
        upstream: dL/d(node output), the sum of `contributions` (1 at the output).
        contributions: (consumer index, gradient it sent back) per edge leaving the node; more
            than one means the gradients add.
        local: d(node output)/d(input k) per input; None for a constant input (no gradient
            flows into a constant).
        downstream: upstream * local[k], the gradient sent down edge k; None likewise.
    """

    node: int
    upstream: float
    contributions: tuple[tuple[int, float], ...]
    local: tuple[float | None, ...]
    downstream: tuple[float | None, ...]


@dataclass(frozen=True)
class CircuitRun:
    """The forward and backward pass of a circuit at one point.

    Args:
        circuit: the circuit.
        point: (name, value) per input, in the circuit's name order.
        values: each node's forward value, by node index.
        steps: the backward steps, output first (reverse topological order).
        gradients: dL/d(node output) by node index; None for a constant.
        kinks: indices of gates evaluated exactly at a non-differentiable point.
    """

    circuit: Circuit
    point: tuple[tuple[str, float], ...]
    values: tuple[float, ...]
    steps: tuple[BackwardStep, ...]
    gradients: tuple[float | None, ...]
    kinks: tuple[int, ...]

    @property
    def output_value(self) -> float:
        return self.values[-1]

    def gradient(self, name: str) -> float:
        """dL/d(name) at the point."""
        return self.gradients[self.circuit.node_named(name).index]


def build_circuit(formula: str | FormulaNode, split_sigmoid: bool = False) -> Circuit:
    """Builds the circuit of a scalar expression; name-free sub-expressions become constants.

    Args:
        formula: the expression's text, or a tree from `parse_tree`.
        split_sigmoid: write sigmoid(t) as 1 / (1 + exp(-t)), four gates, instead of one gate
            whose local gradient is s (1 - s).

    Returns:
        The circuit; an input used twice is one node with two outgoing edges.

    Raises:
        FormulaError: the text is refused by the parser.
        CircuitError: the expression uses no names, or a constant is not a finite real number.

    >>> [node.label for node in build_circuit("(x + y) * z").nodes]
    ['x', 'y', '+', 'z', '*']
    """
    tree = formula if isinstance(formula, FormulaNode) else parse_tree(formula)
    if not tree.names():
        raise CircuitError(f"{tree.text} uses no names, so it has no gradient; write an "
                           "expression of at least one name, e.g. (x + y) * z")
    builder = _Builder(split_sigmoid)
    builder.add_tree(tree)
    return Circuit(tuple(builder.nodes), tree.names(), tree.text, split_sigmoid)


class _Builder:
    def __init__(self, split_sigmoid: bool) -> None:
        self.split_sigmoid = split_sigmoid
        self.nodes: list[Node] = []
        self.inputs: dict[str, int] = {}

    def add(self, gate: str, inputs: tuple[int, ...], text: str, expression: sp.Expr,
            constant: float | None = None) -> int:
        self.nodes.append(Node(len(self.nodes), gate, inputs, text, expression, constant))
        return len(self.nodes) - 1

    def add_tree(self, tree: FormulaNode) -> int:
        if tree.kind == "name":
            if tree.head not in self.inputs:
                self.inputs[tree.head] = self.add("input", (), tree.head,
                                                  sp.Symbol(tree.head, real=True))
            return self.inputs[tree.head]
        if not tree.names():
            return self.add_constant(tree)
        args = tuple(self.add_tree(arg) for arg in tree.args)
        if tree.head == "sigmoid" and self.split_sigmoid:
            return self.add_split_sigmoid(args[0])
        if tree.head not in GATES:  # only "matmul"/"transpose", which a scalar grammar refuses
            raise CircuitError(f"{tree.head} is not a scalar gate; accepted: {', '.join(GATES)}")
        table = SCALAR_FUNCTIONS if tree.kind == "call" else SCALAR_OPERATORS
        expression = table[tree.head](*(self.nodes[arg].expression for arg in args))
        gate = tree.head
        if gate == "pow" and self.nodes[args[1]].gate == "const":
            gate = "pow_const"
        return self.add(gate, args, tree.text, expression)

    def add_constant(self, tree: FormulaNode) -> int:
        expression = to_sympy(tree)
        value = complex(expression.evalf(30)) if expression.is_number else None
        if value is None or value.imag != 0 or not math.isfinite(value.real):
            raise CircuitError(f"the constant {tree.text} is not a finite real number")
        return self.add("const", (), tree.text, expression, value.real)

    def add_split_sigmoid(self, argument: int) -> int:
        # cs231n's picture: *-1, exp, +1, 1/x; each gate's local gradient is elementary.
        t = self.nodes[argument]
        inner = t.text if t.text.isidentifier() else f"({t.text})"
        neg = self.add("neg", (argument,), f"-{inner}", -t.expression)
        exp = self.add("exp", (neg,), f"exp(-{inner})", sp.exp(-t.expression))
        one = self.add("const", (), "1", sp.Integer(1), 1.0)
        total = self.add("add", (one, exp), f"1 + exp(-{inner})", 1 + sp.exp(-t.expression))
        return self.add("reciprocal", (total,), f"1 / (1 + exp(-{inner}))",
                        1 / (1 + sp.exp(-t.expression)))


def forward_pass(circuit: Circuit, point: Mapping[str, float]) -> tuple[float, ...]:
    """Each node's value at the point, in topological order.

    Args:
        circuit: the circuit.
        point: a value for every input name, and no other.

    Returns:
        The values by node index.

    Raises:
        CircuitError: a name is missing or extra, or a gate is undefined or overflows there
            (division by zero, log of a non-positive value, ...).
    """
    _check_point(circuit, point)
    values: list[float] = []
    for node in circuit.nodes:
        if node.gate == "input":
            values.append(float(point[node.text]))
            continue
        if node.gate == "const":
            values.append(node.constant)
            continue
        gate = GATES[node.gate]
        args = tuple(values[i] for i in node.inputs)
        problem = gate.domain(*args)
        if problem is not None:
            reason, position = problem
            raise CircuitError(f"{reason} in {node.text} at the point: "
                               f"{circuit.nodes[node.inputs[position]].text} = {args[position]:g}")
        try:
            value = gate.forward(*args)
        except OverflowError:
            raise CircuitError(f"{node.text} overflows a float at the point") from None
        except (ValueError, ZeroDivisionError) as error:
            raise CircuitError(f"{node.text} cannot be evaluated at the point ({error})") from None
        if not math.isfinite(value):
            raise CircuitError(f"{node.text} overflows a float at the point")
        values.append(value)
    return tuple(values)


def backward_pass(circuit: Circuit, values: tuple[float, ...]) -> tuple[BackwardStep, ...]:
    """The backward pass from dL/dL = 1, output first (reverse topological order).

    downstream[k] = upstream * d(out)/d(input k); upstream of a node = sum over the edges leaving
    it of the downstream gradient sent down that edge.

    Args:
        circuit: the circuit.
        values: its forward values.

    Returns:
        One step per node except constants, output first.

    Raises:
        CircuitError: a local gradient is undefined or infinite at the point.
    """
    sent: dict[tuple[int, int], float] = {}  # (consumer, position) -> gradient down that edge
    steps: list[BackwardStep] = []
    for node in reversed(circuit.nodes):
        if node.gate == "const":
            continue  # nothing flows into a constant
        contributions = tuple((consumer, sent[(consumer, position)])
                              for consumer, position in circuit.consumers(node.index))
        if node.index == circuit.output.index:
            upstream = 1.0  # dL/dL
        else:
            upstream = math.fsum(g for _, g in contributions)
        local: tuple[float | None, ...] = ()
        if node.is_gate:
            local = _local_gradients(circuit, node, values)
        downstream = tuple(None if g is None else upstream * g for g in local)
        for position, gradient in enumerate(downstream):
            if gradient is not None and not math.isfinite(gradient):
                raise CircuitError(f"the gradient through {node.text} overflows a float")
            sent[(node.index, position)] = gradient
        steps.append(BackwardStep(node.index, upstream, contributions, local, downstream))
    return tuple(steps)


def _local_gradients(circuit: Circuit, node: Node, values: tuple[float, ...]
                     ) -> tuple[float | None, ...]:
    gate = GATES[node.gate]
    try:
        local = gate.local(tuple(values[i] for i in node.inputs), values[node.index])
    except (ArithmeticError, ValueError):  # e.g. 1/b**2 overflowing
        local = (math.nan,) * len(node.inputs)
    gradients: list[float | None] = []
    for i, slope in zip(node.inputs, local):
        source = circuit.nodes[i]
        if source.gate == "const":
            # no gradient flows into a constant, so e.g. d(a ** 2)/d2 need not exist
            gradients.append(None)
        elif math.isfinite(slope):
            gradients.append(slope)
        else:
            where = ", ".join(f"{circuit.nodes[j].text} = {values[j]:g}" for j in node.inputs)
            raise CircuitError(
                f"the local gradient of {node.text} with respect to {source.text} is undefined "
                f"or infinite at the point, where {where} (its rule: {gate.local_text})")
    return tuple(gradients)


def run_circuit(circuit: Circuit, point: Mapping[str, float]) -> CircuitRun:
    """The forward and backward pass at a point.

    Args:
        circuit: the circuit.
        point: a value for every input name.

    Returns:
        Values, backward steps, gradients and kinks.

    Raises:
        CircuitError: see `forward_pass` and `backward_pass`.

    >>> run = run_circuit(build_circuit("(x + y) * z"), {"x": -2, "y": 5, "z": -4})
    >>> run.output_value, run.gradient("x"), run.gradient("y"), run.gradient("z")
    (-12.0, -4.0, -4.0, 3.0)
    """
    values = forward_pass(circuit, point)
    steps = backward_pass(circuit, values)
    gradients: list[float | None] = [None] * len(circuit.nodes)
    for step in steps:
        gradients[step.node] = step.upstream
    return CircuitRun(circuit, tuple((name, float(point[name])) for name in circuit.names),
                      values, steps, tuple(gradients), kinks(circuit, values))


def kinks(circuit: Circuit, values: tuple[float, ...]) -> tuple[int, ...]:
    """The piecewise gates sitting exactly on a boundary between pieces (a max tie, relu(0))."""
    return tuple(index for index, pieces in piece_choices(circuit, values) if len(pieces) > 1)


def piece_choices(circuit: Circuit, values: tuple[float, ...]
                  ) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """(node index, active pieces) for every piecewise gate: which branch each one took."""
    return tuple((node.index, GATES[node.gate].pieces(*(values[i] for i in node.inputs)))
                 for node in circuit.nodes
                 if node.is_gate and GATES[node.gate].pieces is not None)


def _check_point(circuit: Circuit, point: Mapping[str, float]) -> None:
    names = ", ".join(circuit.names)
    missing = [name for name in circuit.names if name not in point]
    if missing:
        raise CircuitError(f"no value for {', '.join(missing)}; give a value for every name "
                           f"in the expression: {names}")
    extra = [name for name in point if name not in circuit.names]
    if extra:
        raise CircuitError(f"{', '.join(extra)} not in the expression; its names are: {names}")
    for name in circuit.names:
        value = point[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise CircuitError(f"the value of {name} must be a finite number, got {value!r}")
