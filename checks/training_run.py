"""A checked training run: the gradients checked by three routes at the start, then gradient descent.

`backprop train` is a shell around `checked_training`: it reads the options and the files, calls it,
and prints TrainingRun.text() or .to_json(). Published figures (--expect) are compared with two
independent gradient routes, each training from the same start on the same batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from checks.handwritten.network import backprop, forward
from checks.inputs.param_files import params_to_json
from checks.published.figures import entry_names
from checks.routes.derived import derived_backprop, derived_gradient_function
from checks.routes import three_routes
from checks.routes.three_routes import Verdict
from checks.routes.verdict_report import spec_text
from checks.training import TrainingHistory, plot_costs, train
from derive.network.spec import NetworkSpec
from derive.progress import progress

# seed 000's XOR net converges from the seed-0 start with these (measured: predictions 0.068, 0.950,
# 0.952, 0.046 for targets 0, 1, 1, 0 after 5000 full-batch epochs, cost 0.0057)
DEFAULT_LEARNING_RATE = 2.0
DEFAULT_EPOCHS = 5000
PRINTED_CHECKPOINTS = 10      # rows of the cost table
PRINTED_PREDICTIONS = 16      # examples shown beside their targets
VERIFIED_EXAMPLES = 32        # the start is checked on the first batch, at most this many examples
ROUTES = ("derived", "hand-written")
GRADIENT_ROUTES = {"derived": derived_backprop, "hand-written": backprop}


@dataclass(frozen=True)
class TrainingOptions:
    learning_rate: float
    epochs: int | None
    iterations: int | None
    batch_size: int | None
    seed: int
    frozen: tuple[str, ...]
    route: str


@dataclass(frozen=True)
class TrainingRun:
    """What checked_training found: the verdict at the start and, when it agreed, the run."""

    spec: NetworkSpec
    options: TrainingOptions
    start: Verdict
    checked_examples: int
    history: TrainingHistory | None
    outputs: np.ndarray | None
    figures: object | None  # the published-figure report, when figures were given
    X: np.ndarray
    Y: np.ndarray

    @property
    def ok(self) -> bool:
        return self.start.agree and (self.figures is None or self.figures.ok)

    @property
    def largest_start_difference(self) -> float:
        return max(self.start.parameters, key=lambda p: p.relative_difference).relative_difference

    def to_json(self, data_text: str, params_text: str, plot: Path | None) -> dict:
        history = self.history
        return {
            "spec": spec_text(self.spec), "data": data_text, "parameters_from": params_text,
            "route": self.options.route,
            "checked_at_start": {"agree": self.start.agree, "examples": self.checked_examples,
                                 "largest_relative_difference": self.largest_start_difference},
            "learning_rate": self.options.learning_rate, "epochs": self.options.epochs,
            "iterations": history.iterations, "iterations_per_epoch": history.iterations_per_epoch,
            "batch_size": history.batch_size, "frozen": list(self.options.frozen), "costs": list(history.costs),
            "final_cost": history.final_cost, "params": params_to_json(history.params),
            "predictions": self.outputs.tolist(), "plot": None if plot is None else str(plot),
            **({} if self.figures is None else {"published": self.figures.to_json()})}

    def text(self, data_text: str, params_text: str) -> str:
        return _report(self.spec, self.options, self.history, self.outputs, self.X, self.Y, data_text,
                       params_text, self.checked_examples, self.largest_start_difference)


def total_updates(spec: NetworkSpec, epochs: int | None, iterations: int | None, batch_size: int | None) -> int:
    return iterations if iterations is not None else epochs * math.ceil(spec.m / (batch_size or spec.m))


def checked_training(spec: NetworkSpec, params: dict, X: np.ndarray, Y: np.ndarray, options: TrainingOptions,
                     figures=(), keys=None) -> TrainingRun:
    """Checks the gradients on the first batch (three routes), then trains with options.route's.

    Nothing is trained when the start disagrees. With figures, the other route trains too, from
    the same start on the same batches, so each figure is compared with two independent routes.
    """
    first = min(spec.m, options.batch_size or spec.m, VERIFIED_EXAMPLES)
    row = spec.convention == "row"
    batch = (X[:first], Y[:first]) if row else (X[:, :first], Y[:, :first])
    start = three_routes.verify(spec, params, batch, seed=options.seed, entrywise=False)
    if not start.agree:
        return TrainingRun(spec, options, start, first, None, None, None, X, Y)
    total = total_updates(spec, options.epochs, options.iterations, options.batch_size)
    wanted = wanted_updates((keys or {}).values(), total)
    snapshots: dict[str, dict[int, tuple[float, dict]]] = {route: {} for route in ROUTES}

    def run(route: str, bar=None):
        return train(spec, params, X, Y, learning_rate=options.learning_rate, epochs=options.epochs,
                     iterations=options.iterations, batch_size=options.batch_size, rng=options.seed,
                     frozen=options.frozen, gradient_fn=recording(GRADIENT_ROUTES[route], wanted, X, Y, snapshots[route]),
                     **({"progress": bar} if bar is not None else {}))

    history = run(options.route, progress)
    report = None
    if figures:
        run(next(route for route in ROUTES if route != options.route))
        outputs_of = {"derived": lambda p: derived_gradient_function(spec).forward(p, X, Y)[1][len(spec.sizes)],
                      "hand-written": lambda p: forward(spec, p, X).a[len(spec.sizes)]}
        report = train_figures(figures, keys, snapshots, total, outputs_of)
    if options.route == "derived":
        outputs = derived_gradient_function(spec).forward(history.params, X, Y)[1][len(spec.sizes)]
    else:
        outputs = forward(spec, history.params, X).a[len(spec.sizes)]
    return TrainingRun(spec, options, start, first, history, outputs, report, X, Y)


def write_plot(run: TrainingRun, plot: Path) -> Path:
    plot.parent.mkdir(parents=True, exist_ok=True)
    return plot_costs(run.history, plot, title=f"{run.spec.slug}, learning rate {run.options.learning_rate:g}")


# ---------------------------------------------------------------------------------------------
# Published figures: the cost after K updates, and weights after K updates (the last by default).


def train_figure_key(name: str, params, total: int) -> tuple[str, tuple[int, int] | None, int]:
    """"J@10" as ("J", None, 10); "W1[0,1]" as ("W1", (0, 1), total); "W1[0,1]@1" as ("W1", (0, 1), 1).

    params holds every parameter and "yhat" (any array of the outputs' shape, e.g. Y).

    Raises:
        FigureError: an unknown name, or K beyond the run's updates (the message lists the names).
    """
    from checks.published.figures import FigureError, parse_entry, unknown_name

    shapes = {key: tuple(value.shape) for key, value in params.items()}
    accepted = f"J@K and {entry_names(shapes)}, each with @K or without (after the last update); K from 0 to {total}"
    stem, at, count = name.partition("@")
    if at and not (count.isascii() and count.isdecimal()):
        raise unknown_name(name, accepted)
    k = int(count) if at else total
    if k > total:
        raise FigureError(f"--expect {name}: this run makes {total} updates; give --iterations {k} "
                          f"(or more) to compare the value after {k:,}")
    if stem == "J" and at:
        return "J", None, k
    entry = parse_entry(stem, shapes)
    if entry is None:
        raise unknown_name(name, accepted)
    return entry[0], entry[1], k


def wanted_updates(keys, total: int) -> set[int]:
    """The update counts whose cost and parameters are recorded: each figure's K, and K - 1, K + 1
    for costs (the neighbours a misnumbered figure matches)."""
    wanted = set()
    for name, _, k in keys:
        wanted |= {k - 1, k, k + 1} if name == "J" else {k}
    return {k for k in wanted if 0 <= k <= total}


def recording(gradient_fn, wanted: set[int], X, Y, snapshots: dict):
    """gradient_fn, also recording (cost of all the data, parameters) after each wanted number of updates.

    train calls the gradient function once per update, with the parameters before it, and once
    more on the final parameters: its k-th call (from 0) sees the parameters after k updates.
    """
    calls = [0]

    def recorded(spec, params, X_batch, Y_batch):
        k = calls[0]
        calls[0] += 1
        if k in wanted:
            whole = gradient_fn(spec, params, X, Y)
            snapshots[k] = (float(whole.cost), {name: value.copy() for name, value in params.items()})
        return gradient_fn(spec, params, X_batch, Y_batch)

    return recorded


def train_figures(figures, keys, snapshots, total: int, outputs_of):
    """Each figure against both routes' runs; a cost that disagrees is tried at K - 1 and K + 1.

    outputs_of[route](params) is that route's forward pass: the outputs yhat of all the data.
    """
    from checks.published.figures import FigureComparison, compare_figures, neighbour_hint

    def value(route: str, name: str, index, k: int) -> float:
        cost, params = snapshots[route][k]
        if name == "yhat":
            return float(outputs_of[route](params)[index])
        return cost if name == "J" else float(params[name][index])

    def resolve(figure):
        name, index, k = keys[figure.name]
        routes = tuple((route, value(route, name, index, k)) for route in ROUTES)
        comparison = FigureComparison(figure, routes)
        if name == "J" and not comparison.ok:
            neighbours = {f"the value after {j:,} update{'' if j == 1 else 's'} (J@{j})":
                          value(ROUTES[0], name, index, j) for j in (k - 1, k + 1) if 0 <= j <= total}
            comparison = FigureComparison(figure, routes, hint=neighbour_hint(figure, neighbours))
        return comparison

    return compare_figures(figures, resolve)


def _report(spec, options: TrainingOptions, history, outputs, X, Y, data_text, params_text, checked_examples,
            checked) -> str:
    total = history.iterations
    kind = "batch" if history.batch_size == spec.m else \
        ("stochastic" if history.batch_size == 1 else "mini-batch")
    lines = [f"train {spec_text(spec)}",
             f"data: {data_text}; parameters: {params_text}",
             f"checked at the start on {checked_examples} examples: derived, hand-written and finite "
             f"differences agree (largest Ng relative difference {checked:.1e})",
             f"{kind} gradient descent with the {options.route} gradients: learning rate {options.learning_rate:g}, "
             f"batch size {history.batch_size}, {_count(history.iterations_per_epoch, 'iteration')} per epoch, "
             f"{_count(total, 'iteration')}; frozen: {', '.join(options.frozen) or 'none'}",
             "", f"{'iteration':>10}  {'cost of its batch':>18}"]
    step = max(1, total // PRINTED_CHECKPOINTS)
    shown = sorted({1, *range(step, total + 1, step), total})
    lines += [f"{i:>10}  {history.costs[i - 1]:>18.6g}" for i in shown]
    lines.append(f"final cost on all {spec.m} examples: {history.final_cost:.6g}")
    row = spec.convention == "row"
    examples = (lambda array: array) if row else (lambda array: array.T)
    inputs, targets, predicted = examples(X), examples(Y), examples(outputs)
    if spec.m <= PRINTED_PREDICTIONS:
        lines += ["", f"{'x':<24} {'y':<16} yhat"]
        for x, y, yhat in zip(inputs, targets, predicted):
            lines.append(f"{_vector(x):<24} {_vector(y):<16} {_vector(yhat, 3)}")
    return "\n".join(lines) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _vector(values, digits: int = 6) -> str:
    return "[" + ", ".join(f"{float(v):.{digits}g}" for v in values) + "]"
