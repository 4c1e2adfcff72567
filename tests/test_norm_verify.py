"""checks/normalization/verify.py and checks/normalization/check.py: each catalogued mistake named, each checker shown to fail."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from checks.normalization.check import check_layer, cs231n_point
from checks.normalization.verify import ContractError, verify_layer_function
from derive.normalization import derive_normalization
from derive.normalization.mistakes import CATALOGUE, mean_path_dropped

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("user_batchnorm", ROOT / "examples" / "user_batchnorm.py")
USER = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(USER)


@pytest.mark.parametrize("function, mistake", [
    ("batchnorm_backward_no_mean_path", "mean path dropped"),
    ("batchnorm_backward_no_variance_path", "variance path dropped"),
    ("batchnorm_backward_unbiased", "1/(N-1) in the backward"),
    ("batchnorm_backward_dgamma_with_x", "dgamma with x"),
    ("batchnorm_backward_wrong_axis", "wrong axis"),
    ("batchnorm_backward_no_eps", "epsilon left out of the backward"),
])
def test_each_hand_written_mistake_is_named_and_only_it(function, mistake):
    verdict = verify_layer_function(getattr(USER, function), "batch")
    assert not verdict.passed
    assert [name for name, _ in verdict.mistakes] == [mistake]


def test_the_right_hand_written_backward_passes():
    verdict = verify_layer_function(USER.batchnorm_backward, "batch", points=4)
    assert verdict.passed and verdict.mistakes == ()


def test_every_catalogued_mistake_changes_the_gradients_at_the_cs231n_point():
    from derive.normalization import evaluate_gradients

    gradients = derive_normalization("batch")
    point = cs231n_point(epsilon=0.1)
    right = evaluate_gradients(gradients, point.x, point.gamma, point.dout, point.epsilon)
    for name, _, edit in CATALOGUE:
        wrong = evaluate_gradients(edit(gradients), point.x, point.gamma, point.dout, point.epsilon)
        assert any(not np.allclose(right[k], wrong[k]) for k in right), name


def test_unknown_numbers_are_not_blamed_on_a_catalogued_mistake():
    def doubled(x, gamma, beta, dout, eps):
        dx, dgamma, dbeta = USER.batchnorm_backward(x, gamma, beta, dout, eps)
        return 2 * dx, dgamma, dbeta

    verdict = verify_layer_function(doubled, "batch")
    assert not verdict.passed and verdict.mistakes == ()
    assert "no catalogued mistake reproduces the numbers" in verdict.text()


def test_a_function_that_raises_is_a_contract_error():
    def broken(x, gamma, beta, dout, eps):
        raise RuntimeError("oops")

    with pytest.raises(ContractError, match="raised RuntimeError: oops"):
        verify_layer_function(broken, "batch")


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_three_routes_agree_to_cs231n_figures_at_its_point(kind):
    verdict = check_layer(kind, cs231n_point())
    assert verdict.agree
    # cs231n: "relative errors around 1e-9 or better"
    assert max(e for c in verdict.comparisons for e in c.errors) < 1e-9


def test_the_three_route_check_fails_on_a_planted_mistake_and_names_dx():
    verdict = check_layer("batch", cs231n_point(), gradients=mean_path_dropped(derive_normalization("batch")))
    assert not verdict.agree
    assert [c.name for c in verdict.comparisons if not c.agree] == ["dX"]


def test_a_function_that_hangs_is_stopped_at_the_time_limit():
    def hangs(x, gamma, beta, dout, eps):
        while True:
            pass

    with pytest.raises(ContractError, match="ran past the time limit of 0.2 s"):
        verify_layer_function(hangs, "batch", timeout=0.2)


def test_a_function_that_calls_exit_is_a_contract_error():
    import sys

    def exits(x, gamma, beta, dout, eps):
        sys.exit(3)

    with pytest.raises(ContractError, match="called sys.exit"):
        verify_layer_function(exits, "batch")


def test_the_wrong_axis_function_is_a_right_layer_norm_backward():
    # statistics over axis 1 is layer norm: the same function passes when checked as layer norm
    assert verify_layer_function(USER.batchnorm_backward_wrong_axis, "layer").passed


def test_a_batch_norm_backward_checked_as_layer_norm_is_named_wrong_axis():
    verdict = verify_layer_function(USER.batchnorm_backward, "layer")
    assert [name for name, _ in verdict.mistakes] == ["wrong axis"]
