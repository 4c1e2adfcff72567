"""Seed 002's worked comparison of classification error, squared error and cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.handwritten.network import COSTS

# One example per row; the targets are the same for both networks. seed002_figures' docstring says
# how the rows lost with seed 002's images were rebuilt from its printed figures.
TARGETS = np.array([[0.0, 0.0, 1.0],
                    [0.0, 1.0, 0.0],
                    [1.0, 0.0, 0.0]])
LEFT_OUTPUTS = np.array([[0.3, 0.3, 0.4],    # seed 002 prints this row: correct, but barely
                         [0.3, 0.4, 0.3],    # correct, barely
                         [0.1, 0.2, 0.7]])   # wrong, and confidently so
RIGHT_OUTPUTS = np.array([[0.1, 0.2, 0.7],   # correct, confidently
                          [0.1, 0.7, 0.2],   # correct, confidently
                          [0.3, 0.4, 0.3]])  # wrong, but nearly right

# The figures as seed 002 prints them, rounded to two decimals.
PRINTED = {"left_classification_error": 1 / 3, "right_classification_error": 1 / 3,
           "left_squared_error": 0.81, "right_squared_error": 0.34,
           "left_cross_entropy": 1.38, "right_cross_entropy": 0.64,
           "left_first_example_squared_error": 0.54, "left_first_example_cross_entropy": 0.92}
PRINTED_ROUNDING = 0.005  # half a unit in the second decimal


def classification_error(outputs: np.ndarray, targets: np.ndarray) -> float:
    """The fraction of examples whose largest output is not the target class: mean_n [argmax yhat_n != argmax y_n].

    >>> classification_error(LEFT_OUTPUTS, TARGETS)
    0.3333333333333333
    """
    return float(np.mean(np.argmax(outputs, axis=1) != np.argmax(targets, axis=1)))


def squared_error(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Seed 002's "MSE": (1/m) sum_n sum_k (y[n, k] - yhat[n, k])^2, which is 2 x half_sse (mean).

    >>> round(squared_error(RIGHT_OUTPUTS, TARGETS), 4)
    0.34
    """
    return 2.0 * float(np.mean(COSTS["half_sse"].loss(targets, outputs, 1)))


def cross_entropy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Seed 002's cross-entropy: -(1/m) sum_n sum_k y[n, k] ln yhat[n, k] (categorical, mean).

    >>> round(cross_entropy(LEFT_OUTPUTS[:1], TARGETS[:1]), 4)
    0.9163
    """
    return float(np.mean(COSTS["categorical_cross_entropy"].loss(targets, outputs, 1)))


@dataclass(frozen=True)
class Seed002Figures:
    """The worked comparison, computed: every key of PRINTED, unrounded."""

    left_classification_error: float
    right_classification_error: float
    left_squared_error: float
    right_squared_error: float
    left_cross_entropy: float
    right_cross_entropy: float
    left_first_example_squared_error: float
    left_first_example_cross_entropy: float


def seed002_figures() -> Seed002Figures:
    """Computes seed 002's figures from the rebuilt outputs.

    Seed 002 scores two 3-class networks on the same three examples and prints: classification error
    1/3 for both; "MSE" 0.81 (left) and 0.34 (right), from per-example squared errors 0.54, 0.54,
    1.34 and 0.14, 0.14, 0.74; cross-entropy 1.38 and 0.64, from -(ln 0.4 + ln 0.4 + ln 0.1) / 3 and
    -(ln 0.7 + ln 0.7 + ln 0.3) / 3; and the left network's first example alone, outputs
    (0.3, 0.3, 0.4) against target (0, 0, 1): squared error 0.54 and cross-entropy -ln 0.4 = 0.92.
    It is James McCaffrey's well-known example; the outputs it lost with its images are rebuilt here
    from the printed figures:

    - each example's cross-entropy term names the probability of the true class: 0.4, 0.4, 0.1 on
      the left and 0.7, 0.7, 0.3 on the right;
    - the other two outputs sum to 1 minus it and their squares add up to the squared error less
      (p - 1)^2, which fixes them as a pair: left example 2 (0.3, 0.3), left example 3 {0.2, 0.7},
      right examples 1 and 2 {0.1, 0.2}, right example 3 {0.3, 0.4};
    - only where the pair sits within the row is a choice; McCaffrey's table is used, and every
      figure here is the same for either placement.

    Which definitions give the printed numbers: the "MSE" is the sum of squares over the three
    outputs, averaged over examples (no 1/2 and no 1/K), i.e. 2 x half_sse or K x mse of
    checks.handwritten.network with reduction "mean"; the cross-entropy is -sum_k y log yhat with the
    natural log, averaged over examples (categorical_cross_entropy, reduction "mean"). Correct
    arithmetic gives 0.8067, 0.3400, 1.3784, 0.6391 and 0.9163: every printed figure is this rounded
    to two decimals, so no printed figure disagrees.
    """
    return Seed002Figures(
        left_classification_error=classification_error(LEFT_OUTPUTS, TARGETS),
        right_classification_error=classification_error(RIGHT_OUTPUTS, TARGETS),
        left_squared_error=squared_error(LEFT_OUTPUTS, TARGETS),
        right_squared_error=squared_error(RIGHT_OUTPUTS, TARGETS),
        left_cross_entropy=cross_entropy(LEFT_OUTPUTS, TARGETS),
        right_cross_entropy=cross_entropy(RIGHT_OUTPUTS, TARGETS),
        left_first_example_squared_error=squared_error(LEFT_OUTPUTS[:1], TARGETS[:1]),
        left_first_example_cross_entropy=cross_entropy(LEFT_OUTPUTS[:1], TARGETS[:1]))
