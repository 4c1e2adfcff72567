"""The forward pass of an Elman RNN and of an LSTM cell, one step in index notation.

Each layer is a table of equations, one per quantity the step computes, each giving entry i of
that quantity at step s in terms of entries at step s and s - 1 and of the parameters (shared by
every step). This is the only place the layers are written down; every gradient is found from it.

Column convention (vectors are columns, W maps its input on the right):

    z[s, i] = sum_j W_xh[i, j] x[s, j] + sum_k W_hh[i, k] h[s-1, k] + b[i]
    h[s, i] = f(z[s, i])
    y[s, m] = sum_k W_hy[m, k] h[s, k] + c[m]

Row convention stores every weight transposed (in x out) and writes x[s, j] W_xh[j, i].
The LSTM's gates are a_u = W_xu x + W_hu h_{s-1} + b_u for u in i, f, o, g, then i, f, o = sigma(a),
g = tanh(a_g), c = f c_{s-1} + i g, h = o tanh(c), y = W_hy h + b_y.
The cost is J = sum_s sum_m dy[s, m] y[s, m] linearised at the point: dy[s, m] = dL_s / dy[s, m]
(y - target for half-SSE, softmax(y) - one-hot for cross-entropy) is given, so every result holds
for any per-step cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from derive.network.activations import ACTIVATION_TABLE, opaque_pair

STEP = sp.Symbol("s", integer=True)  # the step an equation computes
UNIT = sp.Symbol("i", integer=True)  # the entry an equation computes
T, H, D, M = sp.symbols("T H D M", integer=True, positive=True)  # steps, hidden, input, output widths
KINDS = ("rnn", "lstm", "stacked")
CONVENTIONS = ("column", "row")
# the activations an RNN may use in place of tanh: the elementwise entries of the table
RNN_ACTIVATIONS = tuple(name for name, entry in ACTIVATION_TABLE.items()
                        if entry.is_elementwise and entry.function is not None)
GATES = ("i", "f", "o", "g")


@lru_cache(maxsize=None)
def base(name: str) -> sp.IndexedBase:
    return sp.IndexedBase(name)


@dataclass(frozen=True)
class Equation:
    """quantity[s, i] = expression (in STEP and UNIT); width is the range of i."""

    quantity: str
    width: sp.Symbol
    expression: sp.Expr


@dataclass(frozen=True)
class Parameter:
    """A weight (two indices) or a bias (one), shared by every step."""

    name: str
    shape: tuple[sp.Symbol, ...]


@dataclass(frozen=True)
class RecurrentLayer:
    """An Elman RNN or an LSTM cell in one convention, as its table of equations."""

    kind: str
    convention: str
    activation: str
    equations: tuple[Equation, ...]
    parameters: tuple[Parameter, ...]
    initial: tuple[str, ...]  # states read at step s - 1, so given at step 0: h (and c)
    widths: dict  # time-indexed quantity -> width symbol

    @property
    def column(self) -> bool:
        return self.convention == "column"

    def equation(self, quantity: str) -> Equation:
        return next(e for e in self.equations if e.quantity == quantity)

    @property
    def computed(self) -> tuple[str, ...]:
        return tuple(e.quantity for e in self.equations)

    @property
    def activations(self) -> tuple[str, ...]:
        """The opaque functions the equations apply (their derivatives appear in the gradients)."""
        return ("sigmoid", "tanh") if self.kind == "lstm" else (self.activation,)


def _weighted(weight: str, vector: str, step, width: sp.Symbol, column: bool) -> sp.Expr:
    """entry UNIT of W v (column) or v W (row), v read at `step`."""
    k = sp.Symbol("j" if vector == "x" else "k", integer=True)  # bound by its own Sum
    entry = base(weight)[UNIT, k] if column else base(weight)[k, UNIT]
    return sp.Sum(entry * base(vector)[step, k], (k, 0, width - 1))


def _shape(rows, cols, column: bool) -> tuple:
    return (rows, cols) if column else (cols, rows)


def rnn(convention: str = "column", activation: str = "tanh") -> RecurrentLayer:
    """The Elman RNN: z = W_xh x_s + W_hh h_{s-1} + b, h = f(z), y = W_hy h + c."""
    column = convention == "column"
    f = opaque_pair(activation)[0]
    equations = (
        Equation("z", H, _weighted("W_xh", "x", STEP, D, column) + _weighted("W_hh", "h", STEP - 1, H, column)
                 + base("b")[UNIT]),
        Equation("h", H, f(base("z")[STEP, UNIT])),
        Equation("y", M, _weighted("W_hy", "h", STEP, H, column) + base("c")[UNIT]),
    )
    parameters = (Parameter("W_xh", _shape(H, D, column)), Parameter("W_hh", (H, H)), Parameter("b", (H,)),
                  Parameter("W_hy", _shape(M, H, column)), Parameter("c", (M,)))
    return RecurrentLayer("rnn", convention, activation, equations, parameters, ("h",),
                          {"x": D, "z": H, "h": H, "y": M})


def lstm(convention: str = "column") -> RecurrentLayer:
    """The LSTM cell: four gates from x_s and h_{s-1}, c = f c_{s-1} + i g, h = o tanh(c)."""
    column = convention == "column"
    sigmoid, tanh = opaque_pair("sigmoid")[0], opaque_pair("tanh")[0]
    equations, parameters = [], []
    for gate in GATES:
        pre = f"a_{gate}"
        equations.append(Equation(pre, H, _weighted(f"W_x{gate}", "x", STEP, D, column)
                                  + _weighted(f"W_h{gate}", "h", STEP - 1, H, column) + base(f"b_{gate}")[UNIT]))
        squash = tanh if gate == "g" else sigmoid
        equations.append(Equation(gate, H, squash(base(pre)[STEP, UNIT])))
        parameters += [Parameter(f"W_x{gate}", _shape(H, D, column)), Parameter(f"W_h{gate}", (H, H)),
                       Parameter(f"b_{gate}", (H,))]
    c, entry = base("c"), (STEP, UNIT)
    equations.append(Equation("c", H, base("f")[entry] * c[STEP - 1, UNIT] + base("i")[entry] * base("g")[entry]))
    equations.append(Equation("h", H, base("o")[entry] * tanh(c[entry])))
    equations.append(Equation("y", M, _weighted("W_hy", "h", STEP, H, column) + base("b_y")[UNIT]))
    parameters += [Parameter("W_hy", _shape(M, H, column)), Parameter("b_y", (M,))]
    widths = {"x": D, "y": M, **{e.quantity: H for e in equations if e.quantity != "y"}}
    return RecurrentLayer("lstm", convention, "tanh", tuple(equations), tuple(parameters), ("h", "c"), widths)


def stacked_rnn(convention: str = "column", activation: str = "tanh") -> RecurrentLayer:
    """The RNN inside a small network: two Elman layers stacked, then the dense output layer.

    z1 = W_xh1 x_s + W_hh1 h1_{s-1} + b1, h1 = f(z1); z2 = W_xh2 h1_s + W_hh2 h2_{s-1} + b2, h2 = f(z2);
    y = W_hy h2 + c. Nothing below knows it is stacked: the same consumers, the same collapse."""
    column = convention == "column"
    f = opaque_pair(activation)[0]
    equations = (
        Equation("z1", H, _weighted("W_xh1", "x", STEP, D, column) + _weighted("W_hh1", "h1", STEP - 1, H, column)
                 + base("b1")[UNIT]),
        Equation("h1", H, f(base("z1")[STEP, UNIT])),
        Equation("z2", H, _weighted("W_xh2", "h1", STEP, H, column) + _weighted("W_hh2", "h2", STEP - 1, H, column)
                 + base("b2")[UNIT]),
        Equation("h2", H, f(base("z2")[STEP, UNIT])),
        Equation("y", M, _weighted("W_hy", "h2", STEP, H, column) + base("c")[UNIT]),
    )
    parameters = (Parameter("W_xh1", _shape(H, D, column)), Parameter("W_hh1", (H, H)), Parameter("b1", (H,)),
                  Parameter("W_xh2", (H, H)), Parameter("W_hh2", (H, H)), Parameter("b2", (H,)),
                  Parameter("W_hy", _shape(M, H, column)), Parameter("c", (M,)))
    return RecurrentLayer("stacked", convention, activation, equations, parameters, ("h1", "h2"),
                          {"x": D, "z1": H, "h1": H, "z2": H, "h2": H, "y": M})


def recurrent_layer(kind: str = "rnn", convention: str = "column", activation: str = "tanh") -> RecurrentLayer:
    if kind not in KINDS:
        raise ValueError(f"unknown recurrent layer {kind!r}: use one of {', '.join(KINDS)}")
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}: use column or row")
    if kind != "lstm" and activation not in RNN_ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: use one of {', '.join(RNN_ACTIVATIONS)}")
    if kind == "stacked":
        return stacked_rnn(convention, activation)
    return rnn(convention, activation) if kind == "rnn" else lstm(convention)
