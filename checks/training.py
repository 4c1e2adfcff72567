"""Gradient descent (batch, stochastic, mini-batch) with any gradient function, and its cost curve."""

# NumPy and the standard library only (matplotlib is imported inside plot_costs): the training
# loop takes the gradient function as an argument, so the derived route can be plugged in.

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np

from checks.handwritten.network import Backprop, backprop, check_data, check_params, check_spec
from checks.inputs.data import generator, zero_params


class TrainingDiverged(ValueError):
    """Gradient descent left float64: a cost, gradient or weight became inf or NaN."""


@dataclass(frozen=True)
class TrainingHistory:
    """What training did: the cost of each iteration's batch before its update, and the result.

    costs[i] is the cost the gradient function reported for the batch of iteration i, at the
    parameters before that iteration's update; final_cost is the cost of all the data at params.
    """

    costs: tuple[float, ...]
    params: dict[str, np.ndarray]
    final_cost: float
    iterations: int
    iterations_per_epoch: int
    batch_size: int
    learning_rate: float
    frozen: tuple[str, ...]


def iterations_per_epoch(example_count: int, batch_size: int) -> int:
    """ceil(m / batch size): one update per mini-batch, a last smaller batch if m is not a multiple.

    >>> iterations_per_epoch(1000, 10)
    100
    """
    for label, value in (("the number of examples", example_count), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    return math.ceil(example_count / batch_size)


def minibatches(example_count: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """One epoch's example indices, cut into batches; shuffled by rng, in order when rng is None."""
    order = np.arange(example_count) if rng is None else rng.permutation(example_count)
    count = iterations_per_epoch(example_count, batch_size)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(count)]


def gradient_descent_step(params: Mapping[str, np.ndarray], gradients: Mapping[str, np.ndarray],
                          learning_rate: float, frozen: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """One step downhill: theta <- theta - learning_rate * dJ/dtheta, frozen names left as they are.

    The minus sign is the point: seed 000 writes "new w = old w + learning rate * dJ/dw", which
    climbs the cost instead of descending it.

    >>> gradient_descent_step({"W1": np.array([[1.0]])}, {"W1": np.array([[2.0]])}, 0.1)["W1"].tolist()
    [[0.8]]
    """
    frozen = {frozen} if isinstance(frozen, str) else set(frozen)
    missing = [name for name in params if name not in frozen and name not in gradients]
    if missing:
        raise ValueError(f"no gradient for {', '.join(missing)}; gradients given: {', '.join(gradients)}")
    return {name: (value.copy() if name in frozen else value - learning_rate * gradients[name])
            for name, value in params.items()}


def _take_examples(spec, array: np.ndarray, indices: np.ndarray) -> np.ndarray:
    return array[indices] if spec.convention == "row" else array[:, indices]


def _check_training_options(params: Mapping, learning_rate, epochs, iterations, frozen) -> None:
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) \
            or not math.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a finite number greater than 0, got {learning_rate!r}")
    if (epochs is None) == (iterations is None):
        raise ValueError("give exactly one of epochs and iterations")
    for label, value in (("epochs", epochs), ("iterations", iterations)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{label} must be an integer >= 1, got {value!r}")
    unknown = sorted(str(name) for name in frozen if name not in params)
    if unknown:
        raise ValueError(f"frozen names not among the parameters: {', '.join(unknown)}; "
                         f"parameters: {', '.join(params)}")


def _read_only(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    result = {}
    for name, value in params.items():
        value = np.array(value, dtype=np.float64)
        value.setflags(write=False)
        result[name] = value
    return result


def train(spec, params: Mapping, X, Y, *, learning_rate: float, epochs: int | None = None,
          iterations: int | None = None, batch_size: int | None = None, shuffle: bool = True,
          rng: np.random.Generator | int | None = 0, frozen: Iterable[str] = (),
          gradient_fn: Callable[..., Backprop] = backprop,
          progress: Callable[[Iterator, str, int], Iterable] | None = None) -> TrainingHistory:
    """Gradient descent: batch (batch_size None or m), stochastic (1) or mini-batch (anything between).

    Each iteration takes one batch, asks gradient_fn(spec, params, X_batch, Y_batch) for .cost and
    .gradients, and updates theta <- theta - learning_rate * dJ/dtheta for every name not frozen.
    An epoch is one pass over the data: ceil(m / batch_size) iterations (seed 002: 1000 examples
    in batches of 10 make 100 iterations per epoch).

    Args:
        spec: the network (e.g. NetworkSpec); the batch's own size is its m.
        params: the starting parameters, by name (not modified).
        X, Y: all the data, in the spec's convention.
        learning_rate: the step, > 0.
        epochs: passes over the data; or
        iterations: updates in all (exactly one of the two).
        batch_size: examples per update; None for the whole batch.
        shuffle: whether each epoch visits the examples in a new random order.
        rng: a numpy Generator or a seed, for the shuffling.
        frozen: parameter names never updated (e.g. biases held fixed).
        gradient_fn: returns an object with .cost and .gradients (default: numpy_backprop.backprop).
        progress: wraps the iterations as progress(iterable, "training", total), e.g.
            derive.progress.progress for a bar on a terminal; this module stays NumPy-only, so the
            bar is handed in rather than imported.

    Returns:
        TrainingHistory with the batch cost of every iteration and the final parameters.

    Raises:
        ValueError: bad parameters or data (named with the expected shape), learning_rate <= 0,
            not exactly one of epochs and iterations, frozen names that are not parameters.
        TrainingDiverged: a cost, gradient or weight became inf or NaN (a ValueError naming the
            epoch and iteration).
    """
    check_spec(spec)
    params = check_params(spec, params)
    X, Y = check_data(spec, X, Y)
    frozen = (frozen,) if isinstance(frozen, str) else tuple(frozen)
    _check_training_options(params, learning_rate, epochs, iterations, frozen)
    m = X.shape[0] if spec.convention == "row" else X.shape[1]
    batch_size = m if batch_size is None else batch_size
    per_epoch = iterations_per_epoch(m, batch_size)
    total = iterations if iterations is not None else epochs * per_epoch
    rng = generator(rng)

    costs: list[float] = []
    # NumPy's overflow warnings are not shown: a step that leaves float64 is caught just after it
    # and reported once, as divergence (_check_finite)
    batches = _batches(m, batch_size, rng if shuffle and batch_size < m else None, total)
    if progress is not None:
        batches = progress(batches, "training", total)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for indices in batches:
            result = gradient_fn(spec, params, _take_examples(spec, X, indices),
                                 _take_examples(spec, Y, indices))
            costs.append(float(result.cost))
            params = gradient_descent_step(params, result.gradients, learning_rate, frozen)
            _check_finite(costs, params, result.gradients, per_epoch, _cause(spec, learning_rate))
        final_cost = float(gradient_fn(spec, params, X, Y).cost)
    if not math.isfinite(final_cost):
        _diverged(costs, len(costs), per_epoch, _cause(spec, learning_rate), "the cost of all the data")
    return TrainingHistory(costs=tuple(costs), params=_read_only(params),
                           final_cost=final_cost, iterations=total,
                           iterations_per_epoch=per_epoch, batch_size=batch_size,
                           learning_rate=float(learning_rate), frozen=frozen)


def _batches(m: int, batch_size: int, rng, total: int) -> Iterator[np.ndarray]:
    """The example indices of each of the `total` iterations, epoch after epoch (a new order per
    epoch when rng is given), stopping mid-epoch when total says so."""
    done = 0
    while done < total:
        for indices in minibatches(m, batch_size, rng):
            if done == total:
                return
            done += 1
            yield indices


def _cause(spec, learning_rate: float) -> str:
    """What most likely made the steps grow: the learning rate, or with L2 its product with lambda
    (each step multiplies a weight by 1 - learning_rate * lambda, which grows past 2)."""
    l2 = getattr(spec, "l2", 0.0) or 0.0
    if learning_rate * l2 > 1:
        return (f"the learning rate {learning_rate:g} with l2 = {l2:g} is the likely cause (each step multiplies "
                f"the weights by 1 - {learning_rate * l2:.3g}): try a smaller one of either")
    return (f"the learning rate {learning_rate:g} is the likely cause (too large a step overshoots and grows "
            f"each time): try a smaller one")


def _check_finite(costs: list[float], params: Mapping[str, np.ndarray], gradients: Mapping[str, np.ndarray],
                  per_epoch: int, cause: str) -> None:
    """Raises TrainingDiverged when this iteration's cost, a gradient or an updated weight is inf or NaN."""
    if not math.isfinite(costs[-1]):
        _diverged(costs, len(costs), per_epoch, cause, "the cost")
    for kind, values in (("the gradient of", gradients), ("", params)):
        for name, value in values.items():
            if not np.all(np.isfinite(value)):
                _diverged(costs, len(costs), per_epoch, cause, f"{kind} {name}".strip())


def _diverged(costs: list[float], iteration: int, per_epoch: int, cause: str, what: str):
    epoch = (iteration - 1) // per_epoch + 1
    finite = [cost for cost in costs if math.isfinite(cost)]
    path = f"; the cost went from {finite[0]:.3g} to {finite[-1]:.3g} before that" if len(finite) > 1 else ""
    raise TrainingDiverged(f"training diverged at epoch {epoch} (iteration {iteration}): {what} became inf or "
                           f"NaN{path}; {cause}")


# ---------------------------------------------------------------------------------------------
# Symmetry: with every weight zero, all hidden units of a layer compute the same thing, receive
# the same delta and the same update, and so stay copies of each other for ever.


def _unit_weights(spec, params: Mapping[str, np.ndarray], layer: int) -> np.ndarray:
    """One row per unit j of hidden layer `layer`: its incoming weights, bias, and outgoing weights."""
    row, unit = spec.convention == "row", 1 if spec.bias == "unit" else 0
    W_in, W_out = params[f"W{layer - 1}"], params[f"W{layer}"]
    incoming = W_in.T if row else W_in            # row form: column j of W(l-1) feeds unit j
    outgoing = W_out[unit:, :] if row else W_out[:, unit:].T  # skip the bias unit's weights
    parts = [incoming, outgoing]
    if spec.bias == "vector":
        b = params[f"b{layer - 1}"]
        parts.append(b.T if row else b)
    return np.hstack(parts)


def hidden_unit_spread(spec, params: Mapping[str, np.ndarray]) -> dict[int, float]:
    """For each hidden layer l, max over units j and weights i of |w[j, i] - w[0, i]|.

    w[j] holds everything that distinguishes unit j: its incoming weights (and bias) and its
    outgoing weights. A spread of 0 means every unit of the layer is a copy of the first.
    """
    spreads = {}
    for layer in range(2, len(spec.sizes)):
        weights = _unit_weights(spec, params, layer)
        spreads[layer] = float(np.max(np.abs(weights - weights[0])))
    return spreads


@dataclass(frozen=True)
class SymmetryDemonstration:
    """Training from all-zero weights: the spread between hidden units before every iteration and after the last."""

    history: TrainingHistory
    spreads: tuple[dict[int, float], ...]
    max_spread: float
    weights_moved: bool


def zero_initialization_symmetry(spec, X, Y, *, learning_rate: float, iterations: int,
                                 gradient_fn: Callable[..., Backprop] = backprop) -> SymmetryDemonstration:
    """Trains from zero_params(spec) with full-batch steps, recording hidden_unit_spread at every step.

    Returns:
        SymmetryDemonstration: max_spread stays 0 (every hidden unit identical throughout) while
        weights_moved says the weights did change, so the symmetry is not the trivial one of a
        net that never moved.

    Raises:
        ValueError: the spec has no hidden layer, or as for train.
    """
    check_spec(spec)
    if len(spec.sizes) < 3:
        raise ValueError(f"sizes {tuple(spec.sizes)} have no hidden layer to be symmetric")
    spreads: list[dict[int, float]] = []

    def recording(spec_, params, X_batch, Y_batch):
        # train calls this before every update and once more on the final parameters
        spreads.append(hidden_unit_spread(spec_, params))
        return gradient_fn(spec_, params, X_batch, Y_batch)

    history = train(spec, zero_params(spec), X, Y, learning_rate=learning_rate, iterations=iterations,
                    gradient_fn=recording)
    moved = any(np.any(value != 0.0) for name, value in history.params.items() if name.startswith("W"))
    return SymmetryDemonstration(history=history, spreads=tuple(spreads),
                                 max_spread=max(max(spread.values()) for spread in spreads),
                                 weights_moved=bool(moved))


def plot_costs(history: TrainingHistory, path: str | os.PathLike, title: str = "cost per iteration") -> Path:
    """Draws the cost curve to a PNG, written to a temporary name in the same folder and renamed.

    matplotlib is imported here, and drawn through its Agg canvas directly, so importing this
    module needs NumPy only and no global backend is switched.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(np.arange(1, len(history.costs) + 1), history.costs)
    axes.set_xlabel("iteration")
    axes.set_ylabel("J")
    axes.set_title(title)
    axes.set_yscale("log" if min(history.costs, default=0.0) > 0 else "linear")
    # A temporary name, then renamed: never half a PNG. Not derive.writeup.output_files: importing
    # derive loads SymPy, and this side stays NumPy-only (tests/test_numpy_backprop.py).
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    try:
        with os.fdopen(handle, "wb") as file:
            figure.savefig(file, format="png")
        os.chmod(temporary, 0o644)  # mkstemp's 0600 is for the half-written file only
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path
