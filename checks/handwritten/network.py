"""Backpropagation written by hand in NumPy: forward pass, deltas backwards, weight gradients."""

# This module is the independent route the symbolic derivation is checked against: it imports NumPy
# and the standard library only, never `derive` or SymPy.
#
# Notation (seed 000, Ng): layers 1..L, a(1) = X, W(l) carries layer l into layer l + 1,
#   row form    (examples in rows):    z(l+1) = a(l) W(l) + b(l),  X is (m, n_1), W(l) is (n_l, n_{l+1})
#   column form (examples in columns): z(l+1) = W(l) a(l) + b(l),  X is (n_1, m), W(l) is (n_{l+1}, n_l)
# a(l) = f_l(z(l)), yhat = a(L), delta(l) = dJ/dz(l) for l = 2..L. With Ng's bias unit ("unit"),
# a(l) gets a leading column (row form) or row (column form) of ones and W(l) one more row (column).

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

# ---------------------------------------------------------------------------------------------
# Activations: name -> (f, f'). f(z, axis) takes the unit axis, which only softmax uses; f'(z) is
# elementwise and written in terms of z, never of a = f(z).


def sigmoid(z: np.ndarray) -> np.ndarray:
    """sigma(z) = 1 / (1 + exp(-z)), without overflow for large |z|.

    >>> sigmoid(np.array([-700.0, 0.0, 700.0])).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    # exp of a non-positive number never overflows; both branches are the same function
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(z: np.ndarray) -> np.ndarray:
    """softplus(z) = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)); note -log sigma(z) = softplus(-z).

    >>> softplus(np.array([-700.0, 0.0, 700.0])).round(4).tolist()
    [0.0, 0.6931, 700.0]
    """
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def log_softmax(z: np.ndarray, axis: int) -> np.ndarray:
    """log softmax(z)_k = z_k - max_j z_j - log sum_j exp(z_j - max_j z_j), along the unit axis."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int) -> np.ndarray:
    """softmax(z)_k = exp(z_k) / sum_j exp(z_j), along the unit axis, shifted by the max for safety."""
    return np.exp(log_softmax(z, axis))


@dataclass(frozen=True)
class Activation:
    """One activation: f(z, axis), its elementwise derivative f'(z) (None for softmax), and where
    targets for an output of f are drawn (checks.inputs.data; None: all reals)."""

    f: Callable[[np.ndarray, int], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray] | None
    target_range: tuple[float, float] | None = None


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(lambda z, axis: sigmoid(z), lambda z: sigmoid(z) * sigmoid(-z), (0.0, 1.0)),
    "tanh": Activation(lambda z, axis: np.tanh(z), lambda z: 1.0 - np.tanh(z) ** 2, (-1.0, 1.0)),
    # relu'(0) = 0: a documented choice (SymPy's Heaviside(0) would say 1/2)
    "relu": Activation(lambda z, axis: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64), (0.0, 1.0)),
    # slope 0.01 below 0; leaky_relu'(0) = 0.01, as PyTorch's backward (z > 0 ? 1 : slope)
    "leaky_relu": Activation(lambda z, axis: np.where(z > 0, z, 0.01 * z),
                             lambda z: np.where(z > 0, 1.0, 0.01)),
    "identity": Activation(lambda z, axis: z, lambda z: np.ones_like(z)),
    # softmax's Jacobian is not diagonal: it is only used fused with cross-entropy (FUSED_OUTPUTS)
    "softmax": Activation(softmax, None),
}

# ---------------------------------------------------------------------------------------------
# Costs: name -> per-example loss summed over the output units k, and its derivative in yhat.
# The cross-entropies here take outputs strictly inside (0, 1); the network itself scores them
# from z through FUSED_OUTPUTS, which stays finite for any z.


def huber(r: np.ndarray) -> np.ndarray:
    """Huber, delta = 1: r^2/2 for |r| <= 1 and |r| - 1/2 beyond."""
    return np.where(np.abs(r) <= 1.0, 0.5 * r ** 2, np.abs(r) - 0.5)


def huber_prime(r: np.ndarray) -> np.ndarray:
    """Its slope: r, clipped to [-1, 1]."""
    return np.clip(r, -1.0, 1.0)


@dataclass(frozen=True)
class Cost:
    """One cost: loss(y, yhat, axis) per example (summed over the unit axis), dloss/dyhat, and the
    targets it needs: "one_hot", "unit_interval", or "output" (where the output activation's are drawn)."""

    loss: Callable[[np.ndarray, np.ndarray, int], np.ndarray]
    gradient: Callable[[np.ndarray, np.ndarray, int], np.ndarray]
    targets: str = "output"


COSTS: dict[str, Cost] = {
    "half_sse": Cost(lambda y, yhat, axis: 0.5 * np.sum((y - yhat) ** 2, axis=axis),
                     lambda y, yhat, axis: yhat - y),
    "mse": Cost(lambda y, yhat, axis: np.mean((y - yhat) ** 2, axis=axis),
                lambda y, yhat, axis: 2.0 * (yhat - y) / yhat.shape[axis]),
    "binary_cross_entropy": Cost(
        lambda y, yhat, axis: -np.sum(y * np.log(yhat) + (1.0 - y) * np.log1p(-yhat), axis=axis),
        lambda y, yhat, axis: (yhat - y) / (yhat * (1.0 - yhat)), "unit_interval"),
    "categorical_cross_entropy": Cost(lambda y, yhat, axis: -np.sum(y * np.log(yhat), axis=axis),
                                      lambda y, yhat, axis: -y / yhat, "one_hot"),
    "huber": Cost(lambda y, yhat, axis: np.sum(huber(yhat - y), axis=axis),
                  lambda y, yhat, axis: huber_prime(yhat - y)),
}

# Scalar losses of one residual r = yhat - y, by name, for formulas that call them.
SCALAR_LOSSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "huber": lambda r: huber(r),
    "huber_prime": lambda r: huber_prime(r),
}


@dataclass(frozen=True)
class FusedOutput:
    """An (output activation, cost) pair scored from z: loss(y, z, axis) and delta = dloss/dz."""

    loss: Callable[[np.ndarray, np.ndarray, int], np.ndarray]
    delta: Callable[[np.ndarray, np.ndarray, int], np.ndarray]


FUSED_OUTPUTS: dict[tuple[str, str], FusedOutput] = {
    # -log sigma(z) = softplus(-z) and -log(1 - sigma(z)) = softplus(z): no log of 0 at |z| = 700
    ("sigmoid", "binary_cross_entropy"): FusedOutput(
        lambda y, z, axis: np.sum(y * softplus(-z) + (1.0 - y) * softplus(z), axis=axis),
        lambda y, z, axis: sigmoid(z) - y),
    ("sigmoid", "categorical_cross_entropy"): FusedOutput(
        lambda y, z, axis: np.sum(y * softplus(-z), axis=axis),
        lambda y, z, axis: -y * sigmoid(-z)),
    # d/dz_k of -sum_j y_j log softmax_j = softmax_k * sum_j y_j - y_k (= yhat - y for one-hot y)
    ("softmax", "categorical_cross_entropy"): FusedOutput(
        lambda y, z, axis: -np.sum(y * log_softmax(z, axis), axis=axis),
        lambda y, z, axis: softmax(z, axis) * np.sum(y, axis=axis, keepdims=True) - y),
}

REDUCTIONS = ("sum", "mean")
BIAS_MODES = ("none", "vector", "unit")
CONVENTIONS = ("row", "column")


@dataclass(frozen=True)
class Forward:
    """The forward pass: z[l] for l = 2..L and a[l] for l = 1..L (a[1] = X, a[L] = yhat)."""

    z: dict[int, np.ndarray]
    a: dict[int, np.ndarray]


@dataclass(frozen=True)
class Backprop:
    """The cost J, its gradients by parameter name ("W1", "b1", ...) and delta[l] = dJ/dz(l)."""

    cost: float
    gradients: dict[str, np.ndarray]
    deltas: dict[int, np.ndarray]


# ---------------------------------------------------------------------------------------------
# Checking what we are given.


def check_spec(spec) -> None:
    """Checks the duck-typed spec's names against the tables above.

    Raises:
        ValueError: an unknown name, the symbolic-only activation "f", softmax on a hidden layer,
            or an output activation the cost cannot be scored with.
    """
    sizes, activations = tuple(spec.sizes), tuple(spec.activations)
    if len(sizes) < 2 or len(activations) != len(sizes) - 1:
        raise ValueError(f"need one activation per non-input layer: sizes {sizes}, "
                         f"activations {activations}")
    for layer, name in enumerate(activations, start=2):
        if name == "f":
            raise ValueError(f"activation 'f' on layer {layer} is generic (symbolic only); the NumPy "
                             f"route needs one of: {', '.join(ACTIVATIONS)}")
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r} on layer {layer}; "
                             f"accepted: {', '.join(ACTIVATIONS)}")
        if name == "softmax" and layer != len(sizes):
            raise ValueError(f"softmax is accepted on the output layer only, not on layer {layer}")
    for kind, value, accepted in (("cost", spec.cost, tuple(COSTS)),
                                  ("reduction", spec.reduction, REDUCTIONS),
                                  ("bias mode", spec.bias, BIAS_MODES),
                                  ("convention", spec.convention, CONVENTIONS)):
        if value not in accepted:
            raise ValueError(f"unknown {kind} {value!r}; accepted: {', '.join(accepted)}")
    output = activations[-1]
    needs_fused = output == "softmax" or spec.cost in ("binary_cross_entropy", "categorical_cross_entropy")
    if needs_fused and (output, spec.cost) not in FUSED_OUTPUTS:
        accepted = ", ".join(f"{act} with {cost}" for act, cost in FUSED_OUTPUTS)
        raise ValueError(f"a {output} output cannot be scored with {spec.cost}; accepted: {accepted}")
    l2 = spec.l2
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite number of at least 0, got {l2!r}")


def parameter_shapes(spec) -> dict[str, tuple[int, int]]:
    """The shape of every parameter, in the stable order W1, b1, W2, b2, ...

    Row form W(l) is (n_l, n_{l+1}) and b(l) is (1, n_{l+1}); column form W(l) is (n_{l+1}, n_l)
    and b(l) is (n_{l+1}, 1). With the bias unit W(l) has one more row (row form) or column.

    >>> from types import SimpleNamespace as S
    >>> parameter_shapes(S(sizes=(2, 3, 1), bias="unit", convention="row"))
    {'W1': (3, 3), 'W2': (4, 1)}
    """
    shapes: dict[str, tuple[int, int]] = {}
    sizes = tuple(spec.sizes)
    for layer, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        fan_in += 1 if spec.bias == "unit" else 0
        row = spec.convention == "row"
        shapes[f"W{layer}"] = (fan_in, fan_out) if row else (fan_out, fan_in)
        if spec.bias == "vector":
            shapes[f"b{layer}"] = (1, fan_out) if row else (fan_out, 1)
    return shapes


def _finite_array(name: str, value) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of numbers: {error}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


def data_shapes(spec, m: str | int = "m") -> tuple[tuple, tuple]:
    """The expected shapes of X and Y: ((m, n_1), (m, n_L)) in row form, transposed in column form."""
    x_shape, y_shape = (m, spec.sizes[0]), (m, spec.sizes[-1])
    if spec.convention == "column":
        return x_shape[::-1], y_shape[::-1]
    return x_shape, y_shape


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"


def check_data(spec, X, Y=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Returns X and Y as finite float64 arrays of the shapes the spec expects.

    The number of examples m is read from X (spec.m is not enforced, so that the same spec can
    score a mini-batch); Y must have the same m.

    Raises:
        ValueError: a wrong shape (the message names the array and the expected shape), NaN or inf.
    """
    X = _finite_array("X", X)
    x_expected, _ = data_shapes(spec)
    example_axis = 0 if spec.convention == "row" else 1
    feature_axis = 1 - example_axis
    if X.ndim != 2 or X.shape[feature_axis] != spec.sizes[0] or X.shape[example_axis] < 1:
        raise ValueError(f"X has shape {_shape_text(X.shape)}; expected {_shape_text(x_expected)} "
                         f"with m >= 1 in {spec.convention} form")
    if Y is None:
        return X, None
    Y = _finite_array("Y", Y)
    _, y_expected = data_shapes(spec, X.shape[example_axis])
    if Y.shape != y_expected:
        raise ValueError(f"Y has shape {_shape_text(Y.shape)}; expected {_shape_text(y_expected)} "
                         f"(m = {X.shape[example_axis]} examples as in X) in {spec.convention} form")
    return X, Y


def check_params(spec, params: Mapping) -> dict[str, np.ndarray]:
    """Returns the parameters as finite float64 arrays, in the order of parameter_shapes(spec).

    Raises:
        ValueError: missing or extra names, a wrong shape (naming the array and the expected
            shape), NaN or inf.
    """
    expected = parameter_shapes(spec)
    missing = [name for name in expected if name not in params]
    extra = sorted(str(name) for name in params if name not in expected)
    if missing or extra:
        raise ValueError(f"parameters missing: {', '.join(missing) or 'none'}; "
                         f"unexpected: {', '.join(extra) or 'none'}; expected: {', '.join(expected)}")
    checked = {}
    for name, shape in expected.items():
        array = _finite_array(name, params[name])
        if array.shape != shape:
            raise ValueError(f"{name} has shape {_shape_text(array.shape)}; expected {_shape_text(shape)}"
                             f" for sizes {tuple(spec.sizes)}, bias {spec.bias!r}, {spec.convention} form")
        checked[name] = array
    return checked


# ---------------------------------------------------------------------------------------------
# The pieces of one layer. Each is written once per convention; the two are transposes.


def _unit_axis(spec) -> int:
    return 1 if spec.convention == "row" else 0


def _with_bias_unit(spec, a: np.ndarray) -> np.ndarray:
    """Prepends Ng's bias unit: a column of ones (row form) or a row of ones (column form)."""
    if spec.bias != "unit":
        return a
    if spec.convention == "row":
        return np.hstack([np.ones((a.shape[0], 1)), a])
    return np.vstack([np.ones((1, a.shape[1])), a])


def pre_activation(spec, a: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """z(l+1) from a(l).

    Row form: z[n, k] = sum_j a[n, j] * W[j, k] + b[0, k].
    Column form: z[k, n] = sum_j W[k, j] * a[j, n] + b[k, 0].
    With the bias unit, a gets a leading 1 and W's row (column) 0 plays the part of b.
    """
    a = _with_bias_unit(spec, a)
    z = a @ W if spec.convention == "row" else W @ a
    return z if b is None else z + b


def output_delta(spec, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """delta(L) = dJ/dz(L), before the 1/m of a mean reduction.

    delta[n, k] = dloss/dyhat[n, k] * f'(z[n, k]); for sigmoid with binary cross-entropy and for
    softmax with categorical cross-entropy the product simplifies to yhat[n, k] - y[n, k] and is
    taken from z directly (FUSED_OUTPUTS), which stays finite at |z| = 700.
    """
    output, axis = spec.activations[-1], _unit_axis(spec)
    fused = FUSED_OUTPUTS.get((output, spec.cost))
    if fused is not None:
        return fused.delta(Y, z, axis)
    activation = ACTIVATIONS[output]
    yhat = activation.f(z, axis)
    return COSTS[spec.cost].gradient(Y, yhat, axis) * activation.derivative(z)


def hidden_delta(spec, W: np.ndarray, delta_next: np.ndarray, z: np.ndarray, layer: int) -> np.ndarray:
    """delta(l) from delta(l+1), through W(l) and f_l'(z(l)).

    Row form: delta[n, j] = sum_k delta_next[n, k] * W[j, k] * f'(z[n, j]); the sum over k is a
    matrix product with W transposed, because W[j, k] carries unit j forward to unit k.
    Column form: delta[j, n] = sum_k W[k, j] * delta_next[k, n] * f'(z[j, n]).
    With the bias unit, the bias row (column) of W^T delta is dropped: nothing feeds the constant 1.
    """
    if spec.convention == "row":
        back = delta_next @ W.T
        back = back[:, 1:] if spec.bias == "unit" else back
    else:
        back = W.T @ delta_next
        back = back[1:, :] if spec.bias == "unit" else back
    return back * ACTIVATIONS[spec.activations[layer - 2]].derivative(z)


def weight_gradient(spec, a: np.ndarray, delta_next: np.ndarray) -> np.ndarray:
    """dJ/dW(l) from a(l) and delta(l+1), without the L2 term.

    Row form: dJ/dW[j, k] = sum_n a[n, j] * delta_next[n, k], i.e. a^T delta.
    Column form: dJ/dW[k, j] = sum_n delta_next[k, n] * a[j, n], i.e. delta a^T.
    """
    a = _with_bias_unit(spec, a)
    return a.T @ delta_next if spec.convention == "row" else delta_next @ a.T


def bias_gradient(spec, delta_next: np.ndarray) -> np.ndarray:
    """dJ/db(l) = sum over examples n of delta(l+1): dJ/db[0, k] = sum_n delta_next[n, k] (row form)."""
    example_axis = 0 if spec.convention == "row" else 1
    return np.sum(delta_next, axis=example_axis, keepdims=True)


def regularized_weights(spec, W: np.ndarray) -> np.ndarray:
    """The part of W that L2 penalizes: W with its bias-unit row (row form) or column zeroed."""
    if spec.bias != "unit":
        return W
    W = W.copy()
    if spec.convention == "row":
        W[0, :] = 0.0
    else:
        W[:, 0] = 0.0
    return W


def _reduction_scale(spec, m: int) -> float:
    return 1.0 / m if spec.reduction == "mean" else 1.0


def _example_count(spec, X: np.ndarray) -> int:
    return X.shape[0] if spec.convention == "row" else X.shape[1]


# ---------------------------------------------------------------------------------------------
# The three public passes.


def _forward(spec, params: dict[str, np.ndarray], X: np.ndarray) -> Forward:
    z: dict[int, np.ndarray] = {}
    a: dict[int, np.ndarray] = {1: X}
    for layer in range(1, len(spec.sizes)):
        z[layer + 1] = pre_activation(spec, a[layer], params[f"W{layer}"], params.get(f"b{layer}"))
        a[layer + 1] = ACTIVATIONS[spec.activations[layer - 1]].f(z[layer + 1], _unit_axis(spec))
    return Forward(z=z, a=a)


def forward(spec, params: Mapping, X) -> Forward:
    """The forward pass, keeping z and a for every layer.

    z(l+1) = a(l) W(l) + b(l) (row form) or W(l) a(l) + b(l) (column form); a(l+1) = f(z(l+1)).

    Args:
        spec: sizes, activations, cost, reduction, bias, convention, l2 (e.g. NetworkSpec).
        params: "W1", "W2", ... and, for bias "vector", "b1", "b2", ...
        X: the inputs, (m, n_1) in row form or (n_1, m) in column form.

    Returns:
        Forward with z[2..L] and a[1..L].

    Raises:
        ValueError: a bad spec, parameter or input (see check_spec, check_params, check_data).
    """
    check_spec(spec)
    params = check_params(spec, params)
    X, _ = check_data(spec, X)
    return _forward(spec, params, X)


def _l2_term(spec, params: dict[str, np.ndarray], m: int) -> float:
    # lambda/2 * sum of non-bias weights squared; lambda/(2m) for a mean (Ng); b is never penalized
    if spec.l2 == 0:
        return 0.0
    squares = sum(float(np.sum(regularized_weights(spec, params[f"W{layer}"]) ** 2))
                  for layer in range(1, len(spec.sizes)))
    return spec.l2 / 2.0 * squares * _reduction_scale(spec, m)


def _cost(spec, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, passes: Forward) -> float:
    output, axis, L = spec.activations[-1], _unit_axis(spec), len(spec.sizes)
    fused = FUSED_OUTPUTS.get((output, spec.cost))
    if fused is not None:
        losses = fused.loss(Y, passes.z[L], axis)
    else:
        losses = COSTS[spec.cost].loss(Y, passes.a[L], axis)
    m = _example_count(spec, X)
    return float(np.sum(losses)) * _reduction_scale(spec, m) + _l2_term(spec, params, m)


def cost(spec, params: Mapping, X, Y) -> float:
    """J = sum (or mean) over examples n of loss_n, plus the L2 term.

    loss_n = sum_k 1/2 (y[n,k] - yhat[n,k])^2 (half_sse), (1/K) sum_k (y - yhat)^2 (mse),
    -sum_k [y log yhat + (1 - y) log(1 - yhat)] (binary CE), -sum_k y log yhat (categorical CE);
    L2 term = l2/2 * sum of non-bias weights squared, divided by m for a mean.

    Args:
        spec, params, X: as for forward.
        Y: the targets, (m, n_L) in row form or (n_L, m) in column form.

    Returns:
        The cost as a Python float.

    Raises:
        ValueError: a bad spec, parameter or data array.

    >>> from types import SimpleNamespace as S
    >>> spec = S(sizes=(1, 1), activations=("identity",), cost="half_sse", reduction="sum",
    ...          bias="none", convention="row", l2=0.0, m=1)
    >>> cost(spec, {"W1": [[2.0]]}, [[3.0]], [[5.0]])
    0.5
    """
    check_spec(spec)
    params = check_params(spec, params)
    X, Y = check_data(spec, X, Y)
    return _cost(spec, params, X, Y, _forward(spec, params, X))


def backprop(spec, params: Mapping, X, Y) -> Backprop:
    """The cost and its gradient with respect to every parameter, by backpropagation.

    delta(L) = dJ/dyhat * f'(z(L)) (times 1/m for a mean);
    delta(l) = (delta(l+1) W(l)^T) * f'(z(l)) in row form, (W(l)^T delta(l+1)) * f'(z(l)) in column form;
    dJ/dW(l) = a(l)^T delta(l+1) (row) or delta(l+1) a(l)^T (column), plus l2 * W (divided by m
    for a mean) off the bias row/column; dJ/db(l) = delta(l+1) summed over the examples.

    Args:
        spec, params, X, Y: as for cost.

    Returns:
        Backprop with the cost, the gradients under the parameters' names, and delta[2..L].

    Raises:
        ValueError: a bad spec, parameter or data array.

    >>> from types import SimpleNamespace as S
    >>> spec = S(sizes=(1, 1), activations=("identity",), cost="half_sse", reduction="sum",
    ...          bias="none", convention="row", l2=0.0, m=1)
    >>> backprop(spec, {"W1": [[2.0]]}, [[3.0]], [[5.0]]).gradients["W1"].tolist()
    [[3.0]]
    """
    check_spec(spec)
    params = check_params(spec, params)
    X, Y = check_data(spec, X, Y)
    passes = _forward(spec, params, X)
    L, m = len(spec.sizes), _example_count(spec, X)
    scale = _reduction_scale(spec, m)

    deltas = {L: output_delta(spec, passes.z[L], Y) * scale}
    for layer in range(L - 1, 1, -1):
        deltas[layer] = hidden_delta(spec, params[f"W{layer}"], deltas[layer + 1], passes.z[layer], layer)

    gradients: dict[str, np.ndarray] = {}
    for layer in range(1, L):
        W = params[f"W{layer}"]
        gradients[f"W{layer}"] = (weight_gradient(spec, passes.a[layer], deltas[layer + 1])
                                  + spec.l2 * scale * regularized_weights(spec, W))
        if spec.bias == "vector":
            gradients[f"b{layer}"] = bias_gradient(spec, deltas[layer + 1])
    return Backprop(cost=_cost(spec, params, X, Y, passes), gradients=gradients, deltas=deltas)
