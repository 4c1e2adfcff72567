"""The three-route verdict for the small conv network (derive/convolution/network.py).

- derived: the network's backward chained from the derived layer forms (derive/);
- hand-written: checks/convolution/reference.py's loops, chained by hand with relu' and softmax - y;
- finite differences: central differences of the network's cost, the forward pass from the loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.convolution import reference
from checks.convolution.check import ANALYTIC_TOLERANCE, DIFFERENCE_TOLERANCE, PAIRS, ROUTE_TITLES
from derive.convolution.network import ConvNet, backward

# the cost is smooth away from relu's kink and pooling's ties (the point has neither near): five-point
# differences at h = 1e-4 agree to ~1e-10 here
STEP = 1e-4


@dataclass(frozen=True)
class NetworkPoint:
    net: ConvNet
    params: dict
    images: np.ndarray
    labels: np.ndarray


def default_network_point(net: ConvNet, seed: int = 0) -> NetworkPoint:
    rng = np.random.default_rng(seed)
    params = {name: rng.standard_normal(shape) * 0.5 for name, shape in net.parameter_shapes.items()}
    images = rng.standard_normal(net.conv.input_shape)
    labels = np.eye(net.classes)[rng.integers(0, net.classes, net.conv.batch)]
    return NetworkPoint(net, params, images, labels)


def _reference_forward(net: ConvNet, params: dict, images: np.ndarray):
    z1 = reference.conv_forward(images, params["W1"], params["b1"], 1, net.conv.padding)
    a1 = np.maximum(z1, 0)
    pooled = reference.pool_forward(a1, (2, 2), 2, "max")
    logits = reference.conv_forward(pooled, params["W2"], params["b2"], 1, 0).reshape(images.shape[0], -1)
    return z1, a1, pooled, logits


def cost(point: NetworkPoint, params: dict) -> float:
    logits = _reference_forward(point.net, params, point.images)[3]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-(point.labels * log_probabilities).sum() / point.images.shape[0])


def hand_written(point: NetworkPoint) -> dict:
    net, params = point.net, point.params
    z1, a1, pooled, logits = _reference_forward(net, params, point.images)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    g_logits = ((probabilities - point.labels) / point.images.shape[0]).reshape(net.dense.output_shape)
    g_pooled, dw2, db2 = reference.conv_backward(g_logits, pooled, params["W2"], params["b2"], 1, 0)
    g_a1 = reference.pool_backward(g_pooled, a1, (2, 2), 2, "max")
    g_z1 = g_a1 * (z1 > 0)
    _, dw1, db1 = reference.conv_backward(g_z1, point.images, params["W1"], params["b1"], 1, net.conv.padding)
    return {"W1": dw1, "b1": db1, "W2": dw2, "b2": db2}


def finite_differences(point: NetworkPoint) -> dict:
    result = {}
    for name, array in point.params.items():
        gradient = np.zeros_like(array)
        for index in np.ndindex(*array.shape):
            values = []
            for step in (2 * STEP, STEP, -STEP, -2 * STEP):
                moved = {k: v.copy() for k, v in point.params.items()}
                moved[name][index] += step
                values.append(cost(point, moved))
            gradient[index] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * STEP)
        result[name] = gradient
    return result


def scaled_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(1e-8, max |a| + |b|): relative to the array's largest entry. Entry by entry
    (cs231n's rel_error) a weight whose pooled input is nearly 0 has a gradient of ~1e-9, where the
    differences' rounding (~1e-13) alone is a relative error of 1e-4."""
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


@dataclass(frozen=True)
class NetworkVerdict:
    errors: dict  # parameter -> one error per pair in PAIRS

    @property
    def agree(self) -> bool:
        bounds = (ANALYTIC_TOLERANCE, DIFFERENCE_TOLERANCE, DIFFERENCE_TOLERANCE)
        return all(e <= b for errors in self.errors.values() for e, b in zip(errors, bounds))


def check_network(point: NetworkPoint, routes: dict | None = None) -> NetworkVerdict:
    found = {"derived": backward(point.net, point.params, point.images, point.labels),
             "hand_written": hand_written(point), "finite_differences": finite_differences(point)}
    found.update(routes or {})
    return NetworkVerdict({name: tuple(scaled_error(found[a][name], found[b][name]) for a, b in PAIRS)
                           for name in point.params})


def network_verdict_text(point: NetworkPoint, verdict: NetworkVerdict) -> str:
    net = point.net
    lines = [f"check a conv network: input {'x'.join(map(str, net.conv.input_shape))} -> conv {net.conv.filters} "
             f"filters {net.conv.kernel[0]}x{net.conv.kernel[1]} (padding {net.conv.padding}) -> relu -> maxpool 2x2 "
             f"-> dense {net.classes} -> softmax with cross-entropy",
             "worst |difference| relative to the gradient's largest entry:",
             "  " + "  ".join(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]}" for a, b in PAIRS)]
    lines += [f"  {name}: " + ", ".join(f"{e:.1e}" for e in errors) for name, errors in verdict.errors.items()]
    lines.append("verdict: " + ("the three routes agree" if verdict.agree else "the routes DISAGREE"))
    return "\n".join(lines) + "\n"
