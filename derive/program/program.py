"""The program of a network: its layers in order, built once from the spec.

Dense(1), activation(2), Dense(2), activation(3), ..., Cost. Each target reads the same program
with its own interpreter (the derivation, the derived NumPy route, the float64 formula program,
the write-up). The layers are a sequence today; a layer names the quantities it reads and writes
through the network's symbols, so a residual connection (a layer reading two earlier outputs) can
be added as a DAG without changing the other kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from derive.network.spec import NetworkSpec
from derive.network.symbols import SymbolicNetwork, symbolic_network
from derive.program.layers import Cost, Dense, Elementwise, RowSoftmax, activation_layer


@dataclass(frozen=True, eq=False)
class Program:
    spec: NetworkSpec
    layers: tuple

    @property
    def network(self) -> SymbolicNetwork:
        return symbolic_network(self.spec)

    def dense(self, source: int) -> Dense:
        """The dense layer reading layer `source` (1-based, as W(source))."""
        return next(layer for layer in self.layers if isinstance(layer, Dense) and layer.source == source)

    def activation(self, layer: int) -> Elementwise | RowSoftmax:
        return next(step for step in self.layers
                    if isinstance(step, (Elementwise, RowSoftmax)) and step.layer == layer)

    @property
    def cost(self) -> Cost:
        return self.layers[-1]

    def forward(self) -> tuple[tuple[str, sp.MatrixExpr], ...]:
        """(name, matrix form) of z2, a2, ..., z(L), a(L), in the order they are computed."""
        network = self.network
        return tuple((layer.output(network).name, layer.forward(network))
                     for layer in self.layers if not isinstance(layer, Cost))


def program_of(spec: NetworkSpec) -> Program:
    """The program of `spec`; the same object for the same spec."""
    return _program(spec)


@lru_cache(maxsize=64)
def _program(spec: NetworkSpec) -> Program:
    layers = []
    for source in range(1, spec.layer_count):
        layers.append(Dense(source))
        layers.append(activation_layer(source + 1, spec.activation(source + 1)))
    layers.append(Cost(spec.cost, spec.reduction, spec.l2))
    return Program(spec, tuple(layers))
