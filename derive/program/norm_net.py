"""A network with normalisation layers as a program: the layers of `--net TEXT`, sized and checked.

The spec-built program (derive/program/program.py, the kinds of layers.py) reads a SymbolicNetwork,
which holds dense layers and activations only; a net with norms is this flat list of steps instead,
each reading the previous step's output H(k-1) and writing H(k) (H(0) = X, N x D, examples in rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.network.activations import activation as activation_entry
from derive.program.net_text import NORM_NAMES, NetText, NetTextError, parse_net
from derive.program.norm_layers import NORM_LAYERS, NormForward

MAX_EXAMPLES = 1000


@dataclass(frozen=True)
class NetDense:
    """H(k) = H(k-1) W + 1 b: W is inputs x width, b is 1 x width."""

    inputs: int
    width: int
    index: int  # W1, b1 for the first dense layer

    name = "dense"

    @property
    def features(self) -> int:
        return self.width

    def parameters(self) -> tuple[tuple[str, tuple[int, int]], ...]:
        return ((f"W{self.index}", (self.inputs, self.width)), (f"b{self.index}", (1, self.width)))

    def forward(self, x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
        ones = np.ones((x.shape[0], 1), dtype=x.dtype)
        return x.dot(weights) + ones.dot(bias)


@dataclass(frozen=True)
class NetActivation:
    """H(k) = f(H(k-1)) entry by entry (softmax: per example, over its units)."""

    activation: str
    features: int

    @property
    def name(self) -> str:
        return self.activation

    def parameters(self) -> tuple:
        return ()

    @property
    def latex_name(self) -> str:
        return activation_entry(self.activation).latex


@dataclass(frozen=True)
class NormNet:
    """The net: its text, sizes, steps, output activation and cost."""

    text: NetText
    inputs: int  # D
    examples: int  # N (m)
    layers: tuple
    cost: str
    reduction: str
    unbiased: bool
    eps: float

    @property
    def output_activation(self) -> str:
        last = self.layers[-1]
        return last.activation if isinstance(last, NetActivation) else "identity"

    @property
    def outputs(self) -> int:
        return self.layers[-1].features

    @property
    def hidden_activations(self) -> tuple[str, ...]:
        names = [layer.activation for layer in self.layers[:-1] if isinstance(layer, NetActivation)]
        return tuple(dict.fromkeys(names))

    def parameters(self) -> tuple[tuple[str, tuple[int, int]], ...]:
        return tuple(parameter for layer in self.layers for parameter in layer.parameters())

    def width_before(self, position: int) -> int:
        return self.inputs if position == 0 else self.layers[position - 1].features

    @property
    def slug(self) -> str:
        """A folder name: 2-3-bn-relu-2-softmax."""
        short = {"batchnorm": "bn", "layernorm": "ln"}
        parts = [str(self.inputs)] + [str(layer.width) if layer.name == "dense" else short.get(layer.name, layer.name)
                                      for layer in self.layers]
        return "-".join(parts)


def build_net(text: str, inputs: int, examples: int, cost: str = "half_sse", reduction: str = "sum",
              unbiased: bool = False, eps: float = 1e-5) -> NormNet:
    """The net of --net TEXT at D inputs and N examples; undefined nets are refused.

    Softmax output takes categorical cross-entropy (its simplified delta needs it); other outputs
    take `cost`.

    Raises:
        NetTextError: bad text, bad sizes.
        NormalizationInputError: batch norm with N = 1, layer norm over one feature.
    """
    net_text = parse_net(text)
    if not 1 <= inputs <= 1000:
        raise NetTextError(f"--inputs must be from 1 to 1000, got {inputs}")
    if not 1 <= examples <= MAX_EXAMPLES:
        raise NetTextError(f"-m (examples in the batch) must be from 1 to {MAX_EXAMPLES}, got {examples}")
    layers, width, counters = [], inputs, {"dense": 0, "norm": 0}
    for layer_text in net_text.layers:
        if layer_text.name == "dense":
            counters["dense"] += 1
            layers.append(NetDense(width, layer_text.width, counters["dense"]))
            width = layer_text.width
        elif layer_text.name in NORM_NAMES:
            counters["norm"] += 1
            layer = NORM_LAYERS[layer_text.name](width, unbiased, eps, counters["norm"])
            layer.check(examples)
            layers.append(layer)
        else:
            layers.append(NetActivation(layer_text.name, width))
    if not isinstance(layers[-1], NetActivation):  # the output step reads an output activation: identity
        layers.append(NetActivation("identity", width))
    output = layers[-1]
    if isinstance(output, NetActivation) and output.activation == "softmax":
        if output.features < 2:
            raise NetTextError("--net: softmax over one unit is always 1; give the last dense layer 2 or more units")
        cost = "categorical_cross_entropy"
    return NormNet(net_text, inputs, examples, tuple(layers), cost, reduction, unbiased, eps)


@dataclass(frozen=True)
class Tape:
    """The forward pass: H(0) = X, ..., H(L) = yhat, and each norm's x-hat and s by position."""

    values: tuple[np.ndarray, ...]
    norms: dict[int, NormForward]

    @property
    def output(self) -> np.ndarray:
        return self.values[-1]


def forward_pass(net: NormNet, X: np.ndarray, parameters: dict, numbers) -> Tape:
    """Runs the net; `numbers` supplies sqrt, exp and activation(name) for float64 or SymPy arrays."""
    values, norms = [X], {}
    for position, layer in enumerate(net.layers):
        x = values[-1]
        if isinstance(layer, NetDense):
            weights, bias = (parameters[name] for name, _ in layer.parameters())
            values.append(layer.forward(x, weights, bias))
        elif layer.name in NORM_LAYERS:
            gamma, beta = (parameters[name] for name, _ in layer.parameters())
            norms[position] = layer.forward(x, gamma, beta, numbers.sqrt, numbers.eps(net.eps))
            values.append(norms[position].output)
        elif layer.activation == "softmax":
            exponentials = numbers.exp(x)
            values.append(exponentials / exponentials.sum(axis=1, keepdims=True))
        else:
            values.append(numbers.activation(layer.activation)(x))
    return Tape(tuple(values), norms)
