"""A slope that underflows to 0 in float64 is a value, not an undefined gradient (issue 11, item 21)."""

from derive.circuits.circuit import build_circuit, run_circuit
from derive.circuits.check import check_gradients


def test_split_sigmoid_far_left_is_computed_and_agrees_with_sympy():
    # 1 / (1 + exp(700)): the reciprocal's slope -1/a^2 is ~1e-608, 0 in float64, and well defined
    run = run_circuit(build_circuit("sigmoid(x)", split_sigmoid=True), {"x": -700.0})
    assert check_gradients(run).passed


def test_division_by_a_huge_value_has_a_slope_that_underflows_to_zero():
    run = run_circuit(build_circuit("x / y"), {"x": 1.0, "y": 1e200})
    assert check_gradients(run).passed
