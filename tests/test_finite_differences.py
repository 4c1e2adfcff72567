"""The gradient checker: unrolling, central differences, random directions, and catching planted bugs."""

import numpy as np
import pytest

from checks.inputs import data
from checks.routes.finite_differences import (CENTRAL_STEP, DIRECTION_COUNT, compare_gradients, directional_check,
                                       entry_errors, finite_difference_gradient, parameter_order,
                                       relative_difference, roll, unroll)
from checks.handwritten.network import backprop, cost, sigmoid
from derive.network.spec import NetworkSpec

pytestmark = pytest.mark.filterwarnings("error")

EXACT = 1e-12
# Central differences of a cubic are exact up to rounding: (t+h)^3 - (t-h)^3 = 6 t^2 h + 2 h^3,
# so the estimate is 3 t^2 + h^2; what is left is h^2 (~3.7e-11) plus eps t^3 / h (~3e-10 at t = 2).
CUBIC_TOLERANCE = 1e-9
# A planted bug is wrong by a factor of order 1; anything above this is a clear miss, not noise.
PLANTED_BUG_MINIMUM_ERROR = 1e-3

# A 2-3-3-1 sigmoid net in row form (seed 000's notation, one more hidden layer): W2 is square,
# so a forgotten transpose still multiplies, and is wrong only in value.
SPEC = NetworkSpec((2, 3, 3, 1), ("sigmoid", "sigmoid", "sigmoid"), m=4)
PARAMS = {name: 3.0 * value for name, value in data.random_params(SPEC, 11).items()}
X, Y = data.random_data(SPEC, rng=12)


def hand_written_backprop(params, X, Y, bug=None):
    """Seed 000's backprop for the 2-3-3-1 net, written out; `bug` plants one classic mistake.

    bug: "missing_transpose" (delta2 = delta3 W2 * f'(z2), W2 not transposed),
         "sign_flip" (dJ/dW2 = -a2^T delta3),
         "derivative_of_a" (delta3 = delta4 W3^T * f'(a3) instead of f'(z3)).
    """
    W1, W2, W3 = params["W1"], params["W2"], params["W3"]
    f_prime = lambda z: sigmoid(z) * (1.0 - sigmoid(z))  # noqa: E731
    z2 = X @ W1
    a2 = sigmoid(z2)
    z3 = a2 @ W2
    a3 = sigmoid(z3)
    z4 = a3 @ W3
    y_hat = sigmoid(z4)
    delta4 = -(Y - y_hat) * f_prime(z4)
    delta3 = delta4 @ W3.T * (f_prime(a3) if bug == "derivative_of_a" else f_prime(z3))
    delta2 = (delta3 @ W2 if bug == "missing_transpose" else delta3 @ W2.T) * f_prime(z2)
    sign = -1.0 if bug == "sign_flip" else 1.0
    return {"W1": X.T @ delta2, "W2": sign * a2.T @ delta3, "W3": a3.T @ delta4}


def _numeric():
    return finite_difference_gradient(lambda p: cost(SPEC, p, X, Y), PARAMS)


def test_hand_written_backprop_without_a_bug_agrees_with_central_differences():
    comparison = compare_gradients(hand_written_backprop(PARAMS, X, Y), _numeric())
    assert comparison.agree and comparison.disagreeing == ()


@pytest.mark.parametrize("bug, wrong", [
    ("missing_transpose", ("W1",)),           # delta2 is wrong; it only feeds dJ/dW1
    ("sign_flip", ("W2",)),                   # only dJ/dW2 carries the flipped sign
    ("derivative_of_a", ("W1", "W2")),        # delta3 is wrong, and delta2 is built from it
])
def test_planted_bug_is_reported_at_the_layer_it_breaks(bug, wrong):
    comparison = compare_gradients(hand_written_backprop(PARAMS, X, Y, bug=bug), _numeric())
    assert not comparison.agree
    assert comparison.disagreeing == wrong
    for name in wrong:
        assert comparison.parameters[name].worst_absolute_error > PLANTED_BUG_MINIMUM_ERROR


@pytest.mark.parametrize("bug", ["missing_transpose", "sign_flip", "derivative_of_a"])
def test_random_direction_mode_also_catches_each_planted_bug(bug):
    check = directional_check(lambda p: cost(SPEC, p, X, Y), PARAMS,
                              hand_written_backprop(PARAMS, X, Y, bug=bug), rng=3)
    assert not check.agree


def test_random_direction_mode_accepts_the_correct_gradient_with_two_evaluations_per_direction():
    calls = []

    def counted_cost(params):
        calls.append(1)
        return cost(SPEC, params, X, Y)

    check = directional_check(counted_cost, PARAMS, backprop(SPEC, PARAMS, X, Y).gradients, rng=3)
    assert check.agree
    assert len(calls) == 2 * DIRECTION_COUNT
    np.testing.assert_allclose(np.linalg.norm(check.directions, axis=1), 1.0, rtol=EXACT)


def test_central_differences_cost_two_evaluations_per_parameter():
    calls = []

    def counted_cost(params):
        calls.append(1)
        return cost(SPEC, params, X, Y)

    finite_difference_gradient(counted_cost, PARAMS)
    assert len(calls) == 2 * SPEC.parameter_count


def test_central_difference_of_a_cubic_is_exact_up_to_h_squared():
    numeric = finite_difference_gradient(lambda p: float(np.sum(p["W1"] ** 3)), {"W1": np.array([[2.0, -1.0]])})
    np.testing.assert_allclose(numeric["W1"], [[12.0, 3.0]], atol=CUBIC_TOLERANCE)


def test_step_is_the_cube_root_of_float64_epsilon():
    assert CENTRAL_STEP == pytest.approx(np.finfo(np.float64).eps ** (1 / 3))
    assert 6e-6 < CENTRAL_STEP < 6.1e-6


def test_parameter_order_puts_each_layers_weights_before_its_bias():
    assert parameter_order({"b2": 0, "W2": 0, "b1": 0, "W1": 0}) == ("W1", "b1", "W2", "b2")


def test_unroll_then_roll_gives_back_every_parameter():
    spec = NetworkSpec((3, 4, 2), ("tanh", "softmax"), cost="cce", bias="vector", convention="column")
    params = data.random_params(spec, 5)
    vector = unroll(params)
    assert vector.shape == (spec.parameter_count,)
    back = roll(vector, {name: value.shape for name, value in params.items()})
    assert list(back) == ["W1", "b1", "W2", "b2"]
    for name, value in params.items():
        np.testing.assert_array_equal(back[name], value)


def test_roll_refuses_a_vector_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"expected \(6,\)"):
        roll(np.zeros(5), {"W1": (2, 3)})


def test_relative_difference_is_ngs_norm_ratio():
    a, b = np.array([3.0, 4.0]), np.array([3.0, 3.0])
    # ||(0, 1)|| / ||(6, 7)|| = 1 / sqrt(85)
    assert relative_difference(a, b) == pytest.approx(1 / np.sqrt(85), rel=EXACT)
    assert relative_difference(a, -a) == float("inf")


def test_entry_errors_are_absolute_and_relative_to_the_larger_side():
    absolute, relative = entry_errors([1.0, 0.0, -2.0], [1.5, 0.0, -1.0])
    np.testing.assert_allclose(absolute, [0.5, 0.0, 1.0], rtol=EXACT)
    np.testing.assert_allclose(relative, [0.5 / 1.5, 0.0, 0.5], rtol=EXACT)


def test_worst_entry_names_its_index_and_both_values():
    analytic = {"W1": np.array([[1.0, 2.0], [3.0, 4.0]])}
    numeric = {"W1": np.array([[1.0, 2.0], [3.5, 4.0]])}
    worst = compare_gradients(analytic, numeric).parameters["W1"]
    assert (worst.worst_index, worst.worst_analytic, worst.worst_numeric) == ((1, 0), 3.0, 3.5)
    assert worst.worst_absolute_error == pytest.approx(0.5)


def test_comparison_refuses_gradients_with_different_names():
    with pytest.raises(ValueError, match="different parameters"):
        compare_gradients({"W1": np.zeros(1)}, {"W2": np.zeros(1)})
