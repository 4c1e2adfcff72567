"""verify_function: the calling contract, the comparison, the verdict and its diagnosis."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from checks.handwritten.network import backprop
from checks.diagnose.contract import ContractError, contract
from checks.diagnose.calling import Point, evaluation_points, own_data
from checks.diagnose.user_function import verify_function
from derive.network.spec import XOR_SPEC, parse_spec

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "user_backprop.py"
COLUMN_BIAS = parse_spec("2-3-2", activation="tanh", output_activation="sigmoid", cost="bce", reduction="mean",
                         bias="vector", convention="column", m=3, l2=0.1)


def load_example():
    spec = importlib.util.spec_from_file_location("user_backprop_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def hand_written(spec, outputs="gradients"):
    """A correct function under the contract, built on checks/handwritten/network.py."""
    names = list(contract(spec).arguments[2:])

    def fn(X, y, *params):
        result = backprop(spec, dict(zip(names, params)), X, y)
        if outputs == "gradients":
            return tuple(result.gradients[n] for n in names)
        if outputs == "cost":
            return result.cost
        return result.deltas[int(outputs.removeprefix("delta"))]

    return fn


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# --- a correct function passes -----------------------------------------------------------------


def test_correct_example_passes_at_tight_tolerance():
    verdict = verify_function(load_example().correct_backprop, XOR_SPEC, tolerance=1e-12)
    assert verdict.passed, verdict.text()
    assert "verdict: PASS" in verdict.text()


@pytest.mark.parametrize("spec", [XOR_SPEC, COLUMN_BIAS], ids=["xor-row", "column-bias-l2"])
def test_hand_written_backprop_passes_for_gradients_cost_and_delta(spec):
    for outputs in ("gradients", "cost", "delta2"):
        verdict = verify_function(hand_written(spec, outputs), spec, outputs, tolerance=1e-12)
        assert verdict.passed, verdict.text()


def test_one_entry_of_one_gradient_can_be_checked():
    def w2_entry(X, y, W1, W2):
        a2 = sigmoid(X @ W1)
        yhat = sigmoid(a2 @ W2)
        return float((a2.T @ ((yhat - y) * yhat * (1 - yhat)))[1, 0])

    verdict = verify_function(w2_entry, XOR_SPEC, "W2[1, 0]")
    assert verdict.passed, verdict.text()
    assert verdict.outputs[0].output == "W2[1, 0]"


def test_a_gradient_returned_as_a_dict_is_accepted():
    def as_dict(X, y, W1, W2):
        dW1, dW2 = load_example().correct_backprop(X, y, W1, W2)
        return {"dJ_dW2": dW2, "dW1": dW1}

    assert verify_function(as_dict, XOR_SPEC).passed


# --- a wrong function is caught, located and diagnosed -----------------------------------------


def test_buggy_example_is_wrong_in_w1_only_and_diagnosed():
    verdict = verify_function(load_example().buggy_backprop, XOR_SPEC)
    assert not verdict.passed
    by_name = {o.output: o for o in verdict.outputs}
    assert by_name["W2"].agree and not by_name["W1"].agree
    assert [e.keys for e in verdict.explanations] == [("derivative_of_activation",)]
    report = verdict.text()
    assert "dJ/dW1: WRONG at entry" in report
    assert "sigmoid_prime(a2)" in report
    assert "the mistake is in delta2 or in dJ/dW1" in report


def test_worst_entry_values_are_the_function_and_the_derived_ones():
    example = load_example()
    verdict = verify_function(example.buggy_backprop, XOR_SPEC)
    worst = verdict.failures[0]
    point = next(p for p in evaluation_points(XOR_SPEC) if p.label == worst.point)
    mine = example.buggy_backprop(point.X, point.Y, point.params["W1"], point.params["W2"])[0]
    right = example.correct_backprop(point.X, point.Y, point.params["W1"], point.params["W2"])[0]
    assert worst.function_value == pytest.approx(mine[worst.entry], rel=1e-15)
    assert worst.derived_value == pytest.approx(right[worst.entry], rel=1e-12)


def test_a_constant_factor_is_reported_when_no_mistake_explains_it():
    def scaled(X, y, W1, W2):  # the update step lr * dJ/dW with lr = 0.3, returned as a gradient
        return tuple(0.3 * g for g in load_example().correct_backprop(X, y, W1, W2))

    verdict = verify_function(scaled, XOR_SPEC)
    assert not verdict.passed
    assert "is 0.3 times the derived value" in verdict.diagnosis()


def test_nan_output_is_wrong_not_a_crash():
    def nan(X, y, W1, W2):
        return np.full(W1.shape, np.nan), np.zeros(W2.shape)

    verdict = verify_function(nan, XOR_SPEC, diagnose=False)
    assert not verdict.passed
    assert "nan" in verdict.text()


# --- the contract ------------------------------------------------------------------------------


def test_contract_describes_arguments_and_results_with_shapes():
    assert contract(XOR_SPEC).describe() == "fn(X (4, 2), y (4, 1), W1 (2, 3), W2 (3, 1)) -> (dJ/dW1 (2, 3), dJ/dW2 (3, 1))"
    assert contract(COLUMN_BIAS, "deltas").outputs == ("delta2", "delta3")
    assert contract(COLUMN_BIAS, "gradients").outputs == ("W1", "b1", "W2", "b2")


@pytest.mark.parametrize("returns, message", [
    ("W9", "unknown output 'W9'; accepted: gradients, deltas, cost, W1, W2"),
    ("W2[5, 0]", "W2[5, 0] is outside W2, which is 3 x 1"),
    ("W1, dW1", "an output is named twice"),
    ("", "nothing to check"),
])
def test_bad_returns_are_refused_with_what_is_accepted(returns, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        contract(XOR_SPEC, returns)


def test_wrong_output_count_says_how_many_and_which():
    with pytest.raises(ContractError, match=r"returned 1 value; expected 2 in this order: dJ/dW1, dJ/dW2"):
        verify_function(lambda X, y, W1, W2: [np.zeros((2, 3))], XOR_SPEC)


def test_wrong_output_shape_says_which_and_what_was_expected():
    def transposed(X, y, W1, W2):
        dW1, dW2 = load_example().correct_backprop(X, y, W1, W2)
        return dW1.T, dW2

    with pytest.raises(ContractError, match=r"output 1 of 2 \(dJ/dW1\) has shape \(3, 2\); expected \(2, 3\) in "
                                            r"row form \(the transpose: a transpose missing in this output, or code written for column form\)"):
        verify_function(transposed, XOR_SPEC)


def test_a_function_with_the_wrong_parameters_is_refused_before_it_runs():
    calls = []

    def three(X, y, params):
        calls.append(1)

    with pytest.raises(ContractError, match=r"three takes \(X, y, params\) but the contract calls it with \(X, y, W1, W2\)"):
        verify_function(three, XOR_SPEC)
    assert calls == []


def test_a_function_that_raises_is_a_contract_error_naming_the_call():
    def broken(X, y, W1, W2):
        return X @ W2

    with pytest.raises(ContractError, match=r"broken raised ValueError: matmul.*called as fn\(X \(4, 2\)"):
        verify_function(broken, XOR_SPEC)


def test_an_output_that_is_not_numbers_is_refused():
    with pytest.raises(ContractError, match=r"output 2 of 2 \(dJ/dW2\) is not an array of numbers \(got str\)"):
        verify_function(lambda X, y, W1, W2: (np.zeros((2, 3)), "oops"), XOR_SPEC)


def test_a_non_function_is_refused():
    with pytest.raises(ContractError, match="is not a function"):
        verify_function(3, XOR_SPEC, name="three")


def test_the_function_gets_fresh_copies():
    def vandal(X, y, W1, W2):
        result = load_example().correct_backprop(X, y, W1, W2)
        W1[:] = 0.0
        X[:] = 0.0
        return result

    assert verify_function(vandal, XOR_SPEC).passed


# --- the points --------------------------------------------------------------------------------


def test_the_xor_spec_is_checked_at_its_own_data_and_three_random_points():
    points = evaluation_points(XOR_SPEC)
    assert len(points) == 4
    assert points[0].X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert points[0].Y.ravel().tolist() == [0, 1, 1, 0]
    assert own_data(COLUMN_BIAS) is None


def test_given_data_replaces_the_own_data():
    mine = Point("mine", np.ones((4, 2)), np.zeros((4, 1)), {"W1": np.ones((2, 3)), "W2": np.ones((3, 1))})
    points = evaluation_points(XOR_SPEC, count=1, data=[mine])
    assert [p.label for p in points] == ["mine", "random point (seed 1)"]
