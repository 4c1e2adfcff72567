"""Three routes for a net with norms: the chained derived backward, hand-written NumPy, finite differences.

The derived route evaluates the chained pieces (derive.normalization.network.backward) in float64;
the hand-written route (checks/handwritten/norm_network.py) shares no formula with it; the finite
differences take the hand-written forward cost only. Errors are per parameter, relative to the
largest gradient entry of the net: a bias right before batch norm has gradient 0 (the norm
subtracts the batch mean), so an entrywise relative error would divide rounding noise by 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.handwritten import norm_network as hand
from derive.normalization.network import backward
from derive.normalization.network_arithmetic import FloatNumbers
from derive.program.norm_net import NetDense, NormNet, forward_pass

ROUTES = ("derived", "hand-written", "finite differences")
PAIRS = (("derived", "hand-written"), ("derived", "finite differences"), ("hand-written", "finite differences"))
TOLERANCES = (1e-10, 1e-6, 1e-6)  # rounding for two exact routes; the five-point stencil's error
KINK_MARGIN = 0.01  # relu's kink: no pre-activation within this of 0, or differences would straddle it


@dataclass(frozen=True)
class ParameterComparison:
    name: str
    errors: tuple[float, ...]  # one per PAIRS entry

    @property
    def agree(self) -> bool:
        return all(error <= tolerance for error, tolerance in zip(self.errors, TOLERANCES))


@dataclass(frozen=True)
class NetworkVerdict:
    net_text: str
    comparisons: tuple[ParameterComparison, ...]
    gradients: dict  # route -> parameter -> array

    @property
    def agree(self) -> bool:
        return all(c.agree for c in self.comparisons)

    def text(self) -> str:
        lines = [f"{self.net_text}: worst error per parameter, relative to the largest gradient entry",
                 f"  {'parameter':<10}" + "".join(f"{a} vs {b}".ljust(36) for a, b in PAIRS)]
        for c in self.comparisons:
            lines.append(f"  {c.name:<10}" + "".join(f"{e:.1e}".ljust(36) for e in c.errors))
        lines.append(f"verdict: the three routes {'agree' if self.agree else 'DISAGREE'} "
                     f"(tolerances {', '.join(f'{t:.0e}' for t in TOLERANCES)})")
        return "\n".join(lines) + "\n"


def hand_layers(net: NormNet) -> list[tuple]:
    """The net as checks/handwritten/norm_network.py's plain tuples."""
    return [(layer.name,) + tuple(name for name, _ in layer.parameters()) if isinstance(layer, NetDense)
            or layer.parameters() else (layer.name,) for layer in net.layers]


def random_point(net: NormNet, seed: int = 0) -> tuple[np.ndarray, dict, np.ndarray]:
    """X, parameters and one-hot (softmax) or uniform targets, redrawn until relu's kink is clear."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        X = rng.normal(size=(net.examples, net.inputs))
        parameters = {name: rng.normal(size=shape) for name, shape in net.parameters()}
        if net.output_activation == "softmax":
            targets = np.eye(net.outputs)[rng.integers(0, net.outputs, size=net.examples)]
        else:
            targets = rng.uniform(0.1, 0.9, size=(net.examples, net.outputs))
        if _clear_of_kinks(net, X, parameters):
            return X, parameters, targets
    raise ValueError("no random point keeps every relu input 0.01 away from 0; try another --seed")


def _clear_of_kinks(net: NormNet, X, parameters) -> bool:
    _, caches = hand.forward(hand_layers(net), X, parameters, net.eps, net.unbiased)
    return all(np.min(np.abs(below)) > KINK_MARGIN for layer, (below, _, _) in zip(net.layers, caches)
               if layer.name == "relu")


def derived_gradients(net: NormNet, X, parameters, targets) -> dict:
    numbers = FloatNumbers()
    tape = forward_pass(net, X, parameters, numbers)
    found = backward(net, tape, parameters, targets, numbers)
    return {name: np.asarray(found[name], dtype=float) for name, _ in net.parameters()}


def check_network(net: NormNet, X, parameters, targets, derived=derived_gradients) -> NetworkVerdict:
    """The three routes at one point; `derived` is replaceable so a test can plant a bug in it."""
    layers = hand_layers(net)
    options = (net.cost, net.reduction, net.eps, net.unbiased)
    gradients = {
        "derived": derived(net, X, parameters, targets),
        "hand-written": hand.backward(layers, X, parameters, targets, *options),
        "finite differences": hand.finite_differences(layers, X, parameters, targets, *options),
    }
    scale = max(1.0, max(float(np.max(np.abs(g))) for route in gradients.values() for g in route.values()))
    comparisons = []
    for name, shape in net.parameters():
        errors = tuple(float(np.max(np.abs(np.reshape(gradients[a][name], shape) - np.reshape(gradients[b][name], shape))))
                       / scale for a, b in PAIRS)
        comparisons.append(ParameterComparison(name, errors))
    return NetworkVerdict(net.text.text, tuple(comparisons), gradients)
