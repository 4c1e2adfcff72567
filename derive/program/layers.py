"""The layer table: each kind of layer is one frozen dataclass that declares what it is.

A layer kind declares its parameters (with their shapes), its forward computation in matrix form
and in entry (index) form, and its LaTeX. Nothing outside this table builds a layer's forward pass:
the derivation, the derived NumPy route, the formula checker, the mistake catalogue and the
write-up all read it from here (they used to build z = a W + 1 b four times).

The kinds: the dense layer (with its three bias modes: none, a bias vector, Ng's bias unit), the
elementwise activation, the softmax over an example's units, and the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.backward.matrix_ops import EntrywiseMap, Softmax, apply_entrywise
from derive.network.activations import activation as activation_entry
from derive.network.symbols import MatrixQuantity, SymbolicNetwork


@dataclass(frozen=True)
class Dense:
    """z(l+1) = a(l) W(l) + 1 b(l) in row form, W(l) a(l) + b(l) 1ᵀ in column form.

    With Ng's bias unit there is no b: a(l) gains a column (row form) or row (column form) of
    ones in front, and W(l) the matching row (column) of bias weights.
    """

    source: int  # l: the layer it reads; it writes z(l+1)

    def parameters(self, network: SymbolicNetwork) -> tuple[MatrixQuantity, ...]:
        biases = network.biases(self.source)
        return (network.weights(self.source),) + ((biases,) if biases is not None else ())

    def output(self, network: SymbolicNetwork) -> MatrixQuantity:
        return network.pre_activation(self.source + 1)

    def extended_input(self, network: SymbolicNetwork) -> sp.MatrixExpr:
        """a(l) as it enters the product: with Ng's ones in front when the bias is a unit."""
        a = network.activation(self.source).symbol
        if not network.has_bias_unit:
            return a
        m = network.spec.m
        return sp.BlockMatrix([[sp.OneMatrix(m, 1), a]]) if network.is_row \
            else sp.BlockMatrix([[sp.OneMatrix(1, m)], [a]])

    def forward(self, network: SymbolicNetwork) -> sp.MatrixExpr:
        """The matrix form, built with class constructors: operators call doit(), slow on the catalogue's edits."""
        a, weights = self.extended_input(network), network.weights(self.source).symbol
        z = sp.MatMul(a, weights) if network.is_row else sp.MatMul(weights, a)
        biases = network.biases(self.source)
        if biases is None:
            return z
        m = network.spec.m
        spread = sp.MatMul(sp.OneMatrix(m, 1), biases.symbol) if network.is_row \
            else sp.MatMul(biases.symbol, sp.OneMatrix(1, m))
        return sp.MatAdd(z, spread)

    def entry(self, network: SymbolicNetwork, position: tuple[int, int]) -> sp.Expr:
        """z(l+1) at `position` as the sum over layer l, e.g. X_0_0*W1_0_1 + X_0_1*W1_1_1."""
        return network.pre_activation_entry(self.source + 1, position)


@dataclass(frozen=True)
class Elementwise:
    """a(l) = f(z(l)) entry by entry, f an opaque function of the activation table."""

    layer: int
    activation: str

    def parameters(self, network: SymbolicNetwork) -> tuple[MatrixQuantity, ...]:
        return ()

    def output(self, network: SymbolicNetwork) -> MatrixQuantity:
        return network.activation(self.layer)

    def forward(self, network: SymbolicNetwork) -> sp.MatrixExpr:
        return apply_entrywise(activation_entry(self.activation).opaque, network.pre_activation(self.layer).symbol)

    def entry(self, network: SymbolicNetwork, position: tuple[int, int]) -> sp.Expr:
        return network.activation_entry(self.layer, position)


@dataclass(frozen=True)
class RowSoftmax:
    """a(l) = softmax of each example's z(l): the units of one example are coupled."""

    layer: int
    activation: str = "softmax"

    def parameters(self, network: SymbolicNetwork) -> tuple[MatrixQuantity, ...]:
        return ()

    def output(self, network: SymbolicNetwork) -> MatrixQuantity:
        return network.activation(self.layer)

    def forward(self, network: SymbolicNetwork) -> sp.MatrixExpr:
        return Softmax(network.pre_activation(self.layer).symbol, 1 if network.is_row else 0)

    def entry(self, network: SymbolicNetwork, position: tuple[int, int]) -> sp.Expr:
        return network.activation_entry(self.layer, position)


@dataclass(frozen=True)
class Cost:
    """J: the reduced sum of the examples' losses, plus the L2 term on the non-bias weights."""

    name: str
    reduction: str
    l2: float

    def parameters(self, network: SymbolicNetwork) -> tuple[MatrixQuantity, ...]:
        return ()

    def entry(self, network: SymbolicNetwork) -> sp.Expr:
        """J in terms of the output symbols, the targets and (for L2) the weights."""
        return network.cost


def activation_layer(layer: int, name: str) -> Elementwise | RowSoftmax:
    """The layer kind an activation of the table makes: softmax couples units, the rest act entrywise."""
    return Elementwise(layer, name) if activation_entry(name).is_elementwise else RowSoftmax(layer)


__all__ = ["Cost", "Dense", "Elementwise", "EntrywiseMap", "RowSoftmax", "activation_layer"]
