"""The speed table's reference: the lean hand-written backprop does the same work as the checked routes."""

import numpy as np
import pytest

from bench.generated_code import REFERENCE, _numpy_routes, assert_routes_agree
from bench.lean_reference import lean_backprop
from checks.inputs import data
from checks.handwritten.network import backprop
from derive.network.spec import parse_spec

# one formula evaluated in two orders of operations: rounding only (~1e-16 of the largest entry)
ROUNDING = 1e-12


@pytest.mark.parametrize("layers, m", [("2-3-1", 4), ("5-7-3", 9)])
def test_lean_reference_equals_the_validating_hand_written_backprop(layers, m):
    spec = parse_spec(layers, bias="vector", m=m)
    params, (X, Y) = data.random_params(spec, 1), data.random_data(spec, m, rng=2)
    cost, gradients = lean_backprop(params["W1"], params["b1"], params["W2"], params["b2"], X, Y)
    checked = backprop(spec, params, X, Y)
    assert abs(cost - checked.cost) <= ROUNDING * max(1.0, checked.cost)
    assert set(gradients) == set(checked.gradients)
    for name, gradient in checked.gradients.items():
        assert gradients[name].shape == gradient.shape
        assert np.max(np.abs(gradients[name] - gradient)) <= ROUNDING * max(1.0, np.max(np.abs(gradient)))


def test_the_bench_refuses_to_time_a_route_that_disagrees_with_the_reference():
    spec = parse_spec("2-3-1", bias="vector", m=4)
    params, (X, Y) = data.random_params(spec, 1), data.random_data(spec, 4, rng=2)
    routes = _numpy_routes(spec, params, X, Y)
    assert_routes_agree(routes)  # the lean, validating, derived and entrywise routes agree

    def off_by_a_little():
        cost, gradients = routes[REFERENCE]()
        return cost, dict(gradients, W1=gradients["W1"] * (1 + 1e-6))

    with pytest.raises(AssertionError, match="disagrees with the lean reference on dJ/dW1"):
        assert_routes_agree(dict(routes, wrong=off_by_a_little))
