"""Seed 002's worked cost comparison, recomputed from the outputs rebuilt out of its figures."""

import math

import numpy as np
import pytest

from checks.published.cost_figures import (LEFT_OUTPUTS, PRINTED, PRINTED_ROUNDING, RIGHT_OUTPUTS, TARGETS,
                                 classification_error, cross_entropy, seed002_figures, squared_error)
from checks.handwritten.network import cost
from derive.network.spec import NetworkSpec

pytestmark = pytest.mark.filterwarnings("error")

EXACT = 1e-12

# Correct arithmetic for each figure, written from seed 002's own per-example terms:
# squared errors (0.54 + 0.54 + 1.34) / 3 and (0.14 + 0.14 + 0.74) / 3; cross-entropies
# -(ln 0.4 + ln 0.4 + ln 0.1) / 3 and -(ln 0.7 + ln 0.7 + ln 0.3) / 3; -ln 0.4 for one example.
ARITHMETIC = {
    "left_classification_error": 1 / 3, "right_classification_error": 1 / 3,
    "left_squared_error": (0.54 + 0.54 + 1.34) / 3,              # 0.80667, printed 0.81
    "right_squared_error": (0.14 + 0.14 + 0.74) / 3,             # 0.34000, printed 0.34
    "left_cross_entropy": -(2 * math.log(0.4) + math.log(0.1)) / 3,   # 1.37839, printed 1.38
    "right_cross_entropy": -(2 * math.log(0.7) + math.log(0.3)) / 3,  # 0.63911, printed 0.64
    "left_first_example_squared_error": 0.3 ** 2 + 0.3 ** 2 + 0.6 ** 2,  # 0.54
    "left_first_example_cross_entropy": -math.log(0.4),              # 0.91629, printed 0.92
}


@pytest.mark.parametrize("name", list(ARITHMETIC))
def test_figure_matches_correct_arithmetic(name):
    assert getattr(seed002_figures(), name) == pytest.approx(ARITHMETIC[name], rel=EXACT)


@pytest.mark.parametrize("name", list(PRINTED))
def test_figure_rounds_to_the_printed_value(name):
    # every printed figure is the correct value rounded to two decimals: none disagrees
    assert abs(getattr(seed002_figures(), name) - PRINTED[name]) <= PRINTED_ROUNDING


def test_left_first_example_is_the_one_seed_002_prints():
    np.testing.assert_array_equal(LEFT_OUTPUTS[0], [0.3, 0.3, 0.4])
    np.testing.assert_array_equal(TARGETS[0], [0.0, 0.0, 1.0])


def test_rebuilt_outputs_are_probability_distributions():
    np.testing.assert_allclose(LEFT_OUTPUTS.sum(axis=1), 1.0, rtol=EXACT)
    np.testing.assert_allclose(RIGHT_OUTPUTS.sum(axis=1), 1.0, rtol=EXACT)


def test_classification_error_cannot_tell_the_two_networks_apart_but_the_others_can():
    assert classification_error(LEFT_OUTPUTS, TARGETS) == classification_error(RIGHT_OUTPUTS, TARGETS)
    assert squared_error(RIGHT_OUTPUTS, TARGETS) < squared_error(LEFT_OUTPUTS, TARGETS)
    assert cross_entropy(RIGHT_OUTPUTS, TARGETS) < cross_entropy(LEFT_OUTPUTS, TARGETS)


def test_figures_do_not_depend_on_where_the_two_other_outputs_sit():
    swapped = LEFT_OUTPUTS.copy()
    swapped[2] = [0.1, 0.7, 0.2]
    assert squared_error(swapped, TARGETS) == pytest.approx(squared_error(LEFT_OUTPUTS, TARGETS), rel=EXACT)
    assert cross_entropy(swapped, TARGETS) == pytest.approx(cross_entropy(LEFT_OUTPUTS, TARGETS), rel=EXACT)
    assert classification_error(swapped, TARGETS) == classification_error(LEFT_OUTPUTS, TARGETS)


def test_seed_002_mse_is_twice_half_sse_and_k_times_mse_with_mean_reduction():
    # score the left outputs through a 3-3 identity network with W = I and X = the outputs
    spec = {name: NetworkSpec((3, 3), ("identity",), cost=name, reduction="mean", m=3)
            for name in ("half_sse", "mse")}
    W = {"W1": np.eye(3)}
    assert 2 * cost(spec["half_sse"], W, LEFT_OUTPUTS, TARGETS) == pytest.approx(ARITHMETIC["left_squared_error"])
    assert 3 * cost(spec["mse"], W, LEFT_OUTPUTS, TARGETS) == pytest.approx(ARITHMETIC["left_squared_error"])


def test_seed_002_cross_entropy_is_categorical_cross_entropy_of_a_softmax_network():
    # a softmax of log p gives back p: score the rebuilt outputs through the network's own cost
    spec = NetworkSpec((3, 3), ("softmax",), cost="cce", reduction="mean", m=3)
    J = cost(spec, {"W1": np.eye(3)}, np.log(LEFT_OUTPUTS), TARGETS)
    assert J == pytest.approx(ARITHMETIC["left_cross_entropy"], rel=EXACT)

