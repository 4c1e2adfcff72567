"""Seed 004's hand-written backprop for a 2-2-1 net, cleaned up just enough to run, its bugs kept."""

# Seed 004 is a blog post: a 2-2-1 net (ReLU hidden, sigmoid output, binary cross-entropy) on one
# example x = (0.7, 0.3), target z = 1, whose code updates one weight, w11, three times. What was
# cleaned up: the printing and the pandas table are gone (the values are returned instead), and
# np.random.seed(2) became np.random.RandomState(2), the same Mersenne Twister stream without
# touching NumPy's global state. Everything else is the post's code, bugs included.
#
# Which weight is which: the post's figure was lost, so this is read from the code. The output
# pre-activation is `f = z1*w11 + z2+w22`, so w11 and w22 carry hidden units 1 and 2 to the
# output (the w11 update multiplies by z1, which agrees). Hidden unit 1 is `f1 = x1*w1 + x2*w2`.
# Hidden unit 2 is `f2 = x1*w12 + x2*w2`: w2 appears twice and w21 nowhere, so `x2*w2` is a typo
# for `x2*w21`, the only weight the code never uses. In row form (W[i, j] carries unit i of one
# layer to unit j of the next):
#   W1 = [[w1, w12], [w2, w21]]    W2 = [[w11], [w22]]
# and the code's two forward-pass typos are: z2 uses W1[1, 0] (w2) where W1[1, 1] (w21) belongs,
# and `z2+w22` adds where the product z2*w22 belongs.

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.routes.finite_differences import finite_difference_gradient
from checks.diagnose.formula_program import formula_set, output_values, point_env, run
from checks.handwritten.network import cost as hand_cost
from checks.diagnose.calling import Point
from checks.diagnose.user_function import FunctionVerdict, verify_function
from derive.network.spec import NetworkSpec

SEED004_SPEC = NetworkSpec((2, 2, 1), ("relu", "sigmoid"), cost="binary_cross_entropy", reduction="sum",
                           bias="none", convention="row", m=1)

SEED_INPUT = (0.7, 0.3)
SEED_TARGET = 1.0
LEARNING_RATE = 0.5  # the post's learning_rate
ITERATIONS = 3

# The post's printed table of initial weights, in its order.
PRINTED_WEIGHTS = {"w1": 0.436, "w11": 0.026, "w12": 0.550, "w21": 0.435, "w2": 0.420, "w22": 0.330}
# The post's printed output: (z_hat, CE, w11 before the update, w11 after) per iteration.
PRINTED_ITERATIONS = (
    (0.7010307863243558, 0.35520347518814194, 0.026, 0.09045776246846889),
    (0.7068233374476314, 0.3469745206215468, 0.09045776246846889, 0.15366665091475956),
    (0.7124393640689541, 0.3390604735219194, 0.15366665091475956, 0.21566472402149306),
)
# The post's prose after the output: "w11 ... updated from 0.026 to 0.904", "CE from 0.3552 to 0.3469".
PROSE_W11_AFTER = 0.904

# Where each of the post's weights sits in the row-form matrices (see the reading above).
WEIGHT_PLACES = {"w1": ("W1", 0, 0), "w2": ("W1", 1, 0), "w12": ("W1", 0, 1), "w21": ("W1", 1, 1),
                 "w11": ("W2", 0, 0), "w22": ("W2", 1, 0)}


def relu(x):
    if x > 0:
        x = x
    else:
        x = 0
    return x


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def initial_weights() -> dict[str, float]:
    """The post's weights: np.random.seed(2), then rand() rounded to 3 places, in its order."""
    stream = np.random.RandomState(2)
    return {name: round(stream.rand(), 3) for name in ("w1", "w11", "w12", "w21", "w2", "w22")}


@dataclass(frozen=True)
class Iteration:
    """One pass of the post's loop: what it printed."""

    z_hat: float
    CE: float
    w11_before: float
    w11_after: float


def back_propagation(x1, x2, z, iterations, weights=None) -> tuple[Iteration, ...]:
    """The post's function, returning what it printed; `weights` replaces its seeded draw."""
    learning_rate = 0.5
    w = initial_weights() if weights is None else dict(weights)
    w1, w11, w12, w21, w2, w22 = (w[name] for name in ("w1", "w11", "w12", "w21", "w2", "w22"))
    printed = []
    for iteration in range(iterations):
        # propagation
        f1 = x1*w1 + x2*w2
        f2 = x1*w12 + x2*w2  # the post's typo, kept: w2 where w21 belongs
        z1 = relu(f1)
        z2 = relu(f2)
        f = z1*w11 + z2+w22  # the post's typo, kept: z2 + w22 where z2 * w22 belongs
        z_hat = sigmoid(f)
        CE = -(z*np.log(z_hat)+(1-z)*np.log(z_hat))  # kept: log(z_hat) where log(1 - z_hat) belongs
        before = w11
        # W11_UPDATE
        w11 = w11 + learning_rate*(1/z_hat)*sigmoid(f)*(1-sigmoid(f))*z1
        printed.append(Iteration(float(z_hat), float(CE), float(before), float(w11)))
    return tuple(printed)


def _weights(W1, W2) -> dict[str, float]:
    matrices = {"W1": W1, "W2": W2}
    return {name: float(matrices[matrix][row, column]) for name, (matrix, row, column) in WEIGHT_PLACES.items()}


def _seed_forward(x1, x2, w):
    """The post's forward pass, typos kept: f1, f2, z1, z2, f, z_hat."""
    f1 = x1*w["w1"] + x2*w["w2"]
    f2 = x1*w["w12"] + x2*w["w2"]
    z1, z2 = relu(f1), relu(f2)
    f = z1*w["w11"] + z2+w["w22"]
    return {"f1": f1, "f2": f2, "z1": z1, "z2": z2, "f": f, "z_hat": sigmoid(f)}


def seed_cost(X, y, W1, W2) -> float:
    """The post's CE for one example, under the verify contract (m = 1, row form)."""
    (x1, x2), z = X[0], y[0, 0]
    z_hat = _seed_forward(x1, x2, _weights(W1, W2))["z_hat"]
    return -(z*np.log(z_hat)+(1-z)*np.log(z_hat))


def seed_w11_gradient(X, y, W1, W2) -> float:
    """The dJ/dw11 the post's update uses: w11 + lr*(1/z_hat)*sigma'(f)*z1 is w11 - lr * this."""
    x1, x2 = X[0]  # the post's update never reads the target z
    values = _seed_forward(x1, x2, _weights(W1, W2))
    f, z_hat, z1 = values["f"], values["z_hat"], values["z1"]
    return -(1/z_hat)*sigmoid(f)*(1-sigmoid(f))*z1


def seed_params(weights: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """The post's weights as the row-form matrices W1 (2, 2) and W2 (2, 1)."""
    weights = PRINTED_WEIGHTS if weights is None else weights
    params = {"W1": np.zeros((2, 2)), "W2": np.zeros((2, 1))}
    for name, (matrix, row, column) in WEIGHT_PLACES.items():
        params[matrix][row, column] = weights[name]
    return params


def seed_point(weights: dict[str, float] | None = None, target: float = SEED_TARGET) -> Point:
    return Point(f"the post's own point (x = {SEED_INPUT}, target {target:g}, its printed weights)",
                 np.array([SEED_INPUT]), np.array([[target]]), seed_params(weights))


# ---------------------------------------------------------------------------------------------
# The demonstration.


@dataclass(frozen=True)
class Seed004Report:
    """What the tool says about seed 004, and the figures behind it."""

    cost_verdict: FunctionVerdict
    gradient_verdict: FunctionVerdict
    seed_forward: dict[str, float]       # the post's forward pass at its own point
    correct_forward: dict[str, float]    # the intended network's: z2, a2, z3, yhat
    seed_gradient: float                 # the dJ/dw11 its update uses, at its own point
    derived_gradient: float              # ours: the derived formulas, at the same point
    finite_difference: float             # central difference of the hand-written NumPy cost
    correct_cost: float
    seed_cost_target_0: float            # the post's CE with target 0 at the same weights
    bce_target_0: float                  # binary cross-entropy of the same z_hat with target 0
    rerun: tuple[Iteration, ...]         # the post's code, run here
    correct_run: tuple[Iteration, ...]   # the same three w11 updates with the correct gradient

    def text(self) -> str:
        s, c = self.seed_forward, self.correct_forward
        lines = [
            "Seed 004: a 2-2-1 net (ReLU hidden, sigmoid output, binary cross-entropy), x = (0.7, 0.3), target 1.",
            "Weights read from the code: W1 = [[w1, w12], [w2, w21]], W2 = [[w11], [w22]] (row form).",
            "",
            "Its cost, as a function (returns=cost):",
            self.cost_verdict.text(),
            "",
            "Its gradient for w11 = W2[0, 0] (returns=W2[0, 0]):",
            self.gradient_verdict.text(),
            "",
            "At the post's own point:",
            f"  forward pass, post: f1 = {s['f1']:.6g}, f2 = {s['f2']:.6g}, f = {s['f']:.6g}, z_hat = {s['z_hat']:.10g}",
            f"  forward pass, intended: z2 = ({c['z2_0']:.6g}, {c['z2_1']:.6g}), z3 = {c['z3']:.6g}, "
            f"yhat = {c['yhat']:.10g}",
            f"  cost: post {PRINTED_ITERATIONS[0][1]:.10g} (printed), correct {self.correct_cost:.10g}",
            f"  dJ/dw11: post {self.seed_gradient:.10g}; derived {self.derived_gradient:.10g}; "
            f"finite differences {self.finite_difference:.10g}",
            "  (the post's update w11 + lr (1/z_hat) sigma'(f) z1 descends -log(z_hat), which is binary "
            "cross-entropy for target 1: its formula is right there, its forward pass is not)",
            f"  with target 0 the post's CE is {self.seed_cost_target_0:.10g} where binary cross-entropy of the "
            f"same z_hat is {self.bce_target_0:.10g}: its CE is -log(z_hat) for every target, right only for "
            f"target 1",
            "",
            "Three updates of w11 (learning rate 0.5): printed by the post / its code run here / correct gradient:",
        ]
        for k, (printed, rerun, correct) in enumerate(zip(PRINTED_ITERATIONS, self.rerun, self.correct_run), 1):
            lines.append(f"  {k}: z_hat {printed[0]:.10g} / {rerun.z_hat:.10g} / {correct.z_hat:.10g}; "
                         f"CE {printed[1]:.10g} / {rerun.CE:.10g} / {correct.CE:.10g}; "
                         f"w11 -> {printed[3]:.10g} / {rerun.w11_after:.10g} / {correct.w11_after:.10g}")
        lines.append(f"The post's prose says w11 went from 0.026 to {PROSE_W11_AFTER}; its own printed output "
                     f"says {PRINTED_ITERATIONS[0][3]:.10g}, which is what its code computes.")
        return "\n".join(lines)


def _correct_values(params: dict[str, np.ndarray], target: float) -> dict:
    point = seed_point(target=target)
    return run(formula_set(SEED004_SPEC).formulas, point_env(SEED004_SPEC, point.X, np.array([[target]]), params))


def correct_run(iterations: int = ITERATIONS) -> tuple[Iteration, ...]:
    """The post's loop done right: the intended net, BCE, w11 <- w11 - lr * dJ/dw11 (derived)."""
    params = seed_params()
    done = []
    for _ in range(iterations):
        values = _correct_values(params, SEED_TARGET)
        before = float(params["W2"][0, 0])
        params["W2"][0, 0] = before - LEARNING_RATE * float(output_values(values, "W2[0, 0]"))
        done.append(Iteration(float(values["a3"][0, 0]), float(values["J"][0, 0]), before,
                              float(params["W2"][0, 0])))
    return tuple(done)


def demonstration(points: int = 3) -> Seed004Report:
    """Checks seed 004's cost and w11 gradient with verify_function and works out the right figures."""
    own = seed_point()
    cost_verdict = verify_function(seed_cost, SEED004_SPEC, "cost", points=points, data=(own,),
                                   name="seed 004's CE")
    gradient_verdict = verify_function(seed_w11_gradient, SEED004_SPEC, "W2[0, 0]", points=points,
                                       data=(own,), name="seed 004's w11 gradient")
    params = seed_params()
    values = _correct_values(params, SEED_TARGET)
    X, Y = own.X, own.Y
    numeric = finite_difference_gradient(lambda p: hand_cost(SEED004_SPEC, p, X, Y), params)
    return Seed004Report(
        cost_verdict=cost_verdict,
        gradient_verdict=gradient_verdict,
        seed_forward={k: float(v) for k, v in _seed_forward(*SEED_INPUT, PRINTED_WEIGHTS).items()},
        correct_forward={"z2_0": float(values["z2"][0, 0]), "z2_1": float(values["z2"][0, 1]),
                         "z3": float(values["z3"][0, 0]), "yhat": float(values["a3"][0, 0])},
        seed_gradient=float(seed_w11_gradient(X, Y, params["W1"], params["W2"])),
        derived_gradient=float(output_values(values, "W2[0, 0]")),
        finite_difference=float(numeric["W2"][0, 0]),
        correct_cost=float(values["J"][0, 0]),
        seed_cost_target_0=float(seed_cost(X, np.array([[0.0]]), params["W1"], params["W2"])),
        bce_target_0=float(-np.log1p(-_seed_forward(*SEED_INPUT, PRINTED_WEIGHTS)["z_hat"])),
        rerun=back_propagation(*SEED_INPUT, SEED_TARGET, ITERATIONS),
        correct_run=correct_run(),
    )
