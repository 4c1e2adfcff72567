"""The circuit's forward and backward pass, checked against hand derivations and SymPy."""

import math

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.circuits import circuit as circuit_module
from derive.circuits.circuit import CircuitError, Gate, build_circuit, run_circuit
from derive.circuits.check import check_gradients
from derive.formulas.expression_parser import FormulaError


def _sympy_gradients(text_expression, point):
    """A second route: SymPy differentiates an expression written here by hand."""
    symbols = {name: sp.Symbol(name, real=True) for name in point}
    expression = text_expression(symbols)
    at = {symbols[name]: sp.Rational(value) for name, value in point.items()}
    return (float(expression.subs(at)),
            {name: float(sp.diff(expression, symbol).subs(at)) for name, symbol in symbols.items()})


def _node(circuit, text):
    return next(node for node in circuit.nodes if node.text == text)


def test_cs231n_add_then_multiply_forward_and_backward_by_hand():
    # cs231n: q = x + y, f = q z. df/dz = q, df/dq = z, df/dx = df/dq * dq/dx = z * 1.
    x, y, z = -2.0, 5.0, -4.0
    q = x + y
    run = run_circuit(build_circuit("(x + y) * z"), {"x": x, "y": y, "z": z})
    assert run.output_value == q * z == -12
    assert run.values[_node(run.circuit, "x + y").index] == q == 3
    assert run.gradients[_node(run.circuit, "x + y").index] == z
    assert (run.gradient("x"), run.gradient("y"), run.gradient("z")) == (z * 1, z * 1, q)


def test_cs231n_add_then_multiply_agrees_with_sympy_diff():
    point = {"x": -2, "y": 5, "z": -4}
    value, gradients = _sympy_gradients(lambda s: (s["x"] + s["y"]) * s["z"], point)
    run = run_circuit(build_circuit("(x + y) * z"), point)
    assert run.output_value == value
    assert {name: run.gradient(name) for name in point} == gradients


def test_backward_pass_starts_from_one_at_the_output():
    run = run_circuit(build_circuit("(x + y) * z"), {"x": -2, "y": 5, "z": -4})
    first = run.steps[0]
    assert first.node == run.circuit.output.index
    assert first.upstream == 1.0 and first.contributions == ()


def test_each_downstream_gradient_is_upstream_times_local():
    run = run_circuit(build_circuit("sin(x) * exp(y) / (x + 3)"), {"x": 0.5, "y": -1.0})
    for step in run.steps:
        for local, downstream in zip(step.local, step.downstream):
            if local is not None:  # None: a constant input, which receives no gradient
                assert downstream == step.upstream * local


# cs231n's 2-D neuron: w = [2, -3, -3], x = [-1, -2].
NEURON_POINT = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
NEURON = "sigmoid(w0 * x0 + w1 * x1 + w2)"


def _neuron_by_hand():
    p = NEURON_POINT
    dot = p["w0"] * p["x0"] + p["w1"] * p["x1"] + p["w2"]
    f = 1.0 / (1.0 + math.exp(-dot))
    ddot = (1 - f) * f  # cs231n: gradient on dot
    return f, {"w0": p["x0"] * ddot, "x0": p["w0"] * ddot, "w1": p["x1"] * ddot,
               "x1": p["w1"] * ddot, "w2": 1.0 * ddot}


@pytest.mark.parametrize("split", [False, True])
def test_sigmoid_neuron_matches_cs231n_hand_derivation(split):
    f, expected = _neuron_by_hand()
    run = run_circuit(build_circuit(NEURON, split_sigmoid=split), NEURON_POINT)
    assert run.output_value == pytest.approx(f, rel=1e-15)
    for name, gradient in expected.items():
        assert run.gradient(name) == pytest.approx(gradient, rel=1e-14)


def test_sigmoid_neuron_matches_cs231n_published_two_decimals():
    # cs231n's figure: w0 -0.20, x0 0.39, w1 -0.39, x1 -0.59, w2 0.20; output 0.73
    run = run_circuit(build_circuit(NEURON), NEURON_POINT)
    published = {"w0": -0.20, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.20}
    assert round(run.output_value, 2) == 0.73
    assert {name: round(run.gradient(name), 2) for name in published} == published


def test_sigmoid_kept_whole_is_one_gate():
    labels = [node.label for node in build_circuit(NEURON).nodes if node.is_gate]
    assert labels == ["*", "*", "+", "+", "sigmoid"]


def test_split_sigmoid_is_cs231n_four_gates():
    labels = [node.label for node in build_circuit(NEURON, split_sigmoid=True).nodes
              if node.is_gate]
    assert labels[-4:] == ["*-1", "exp", "+", "1/x"]


def test_split_sigmoid_gate_values_match_cs231n_figure():
    circuit = build_circuit(NEURON, split_sigmoid=True)
    run = run_circuit(circuit, NEURON_POINT)
    gates = [(node.label, round(run.values[node.index], 2)) for node in circuit.nodes
             if node.is_gate]
    # cs231n's figure: -1.00 after *-1, 0.37 after exp, 1.37 after +1, 0.73 after 1/x
    assert gates[-4:] == [("*-1", -1.0), ("exp", 0.37), ("+", 1.37), ("1/x", 0.73)]


def test_shared_input_gradients_add():
    # f = x y + x: df/dx = y + 1 by hand, df/dy = x
    run = run_circuit(build_circuit("x * y + x"), {"x": 3.0, "y": -4.0})
    assert run.gradient("x") == -4.0 + 1.0
    assert run.gradient("y") == 3.0
    step = next(s for s in run.steps if s.node == run.circuit.node_named("x").index)
    assert sorted(g for _, g in step.contributions) == [-4.0, 1.0]
    assert step.upstream == sum(g for _, g in step.contributions)


def test_square_by_product_sends_two_gradients_to_one_input():
    # d(x x)/dx = 2x: one node, two edges into the same gate
    run = run_circuit(build_circuit("x * x"), {"x": 3.0})
    assert run.gradient("x") == 6.0
    assert len(run.circuit.consumers(run.circuit.node_named("x").index)) == 2


def test_a_name_used_twice_is_one_input_node():
    circuit = build_circuit("x * y + x")
    assert [node.text for node in circuit.nodes if node.gate == "input"] == ["x", "y"]


def test_max_routes_the_gradient_to_the_larger_input():
    run = run_circuit(build_circuit("max(x, y) * 2"), {"x": 4.0, "y": 1.0})
    assert (run.gradient("x"), run.gradient("y")) == (2.0, 0.0)


def test_max_tie_splits_the_gradient_equally():
    run = run_circuit(build_circuit("max(x, y)"), {"x": 1.0, "y": 1.0})
    assert (run.gradient("x"), run.gradient("y")) == (0.5, 0.5)
    assert run.kinks == (run.circuit.output.index,)


def test_max_three_way_with_two_tied_splits_between_those_two():
    run = run_circuit(build_circuit("max(x, y, z)"), {"x": 2.0, "y": 0.0, "z": 2.0})
    assert (run.gradient("x"), run.gradient("y"), run.gradient("z")) == (0.5, 0.0, 0.5)


def test_max_tie_rule_agrees_with_sympy_and_central_differences():
    # SymPy: d Max(x, y)/dx = Heaviside(x - y), Heaviside(0) = 1/2; a central difference
    # averages the one-sided slopes 1 and 0. The split rule gives 1/2 as well.
    check = check_gradients(run_circuit(build_circuit("max(x, y)"), {"x": 1.0, "y": 1.0}))
    assert [g.status for g in check.gradients] == ["agree", "agree"]
    assert check.passed


def test_relu_at_zero_takes_slope_zero_and_reports_a_kink():
    run = run_circuit(build_circuit("relu(x)"), {"x": 0.0})
    assert run.gradient("x") == 0.0
    check = check_gradients(run)
    assert check.gradients[0].status == "kink"
    assert check.gradients[0].sympy_diff == 0.5
    assert "not differentiable" in check.gradients[0].note
    assert check.passed


def test_central_difference_step_across_a_kink_is_reported():
    check = check_gradients(run_circuit(build_circuit("relu(x)"), {"x": 1e-7}))
    assert check.gradients[0].status == "kink"
    assert "crosses a kink" in check.gradients[0].note


def test_checks_report_all_three_figures():
    check = check_gradients(run_circuit(build_circuit("(x + y) * z"),
                                        {"x": -2, "y": 5, "z": -4}))
    g = check.gradients[2]
    assert (g.name, g.backprop, g.sympy_diff) == ("z", 3.0, 3.0)
    assert g.finite_difference == pytest.approx(3.0, rel=1e-8)
    assert check.output_sympy == -12.0 and check.output_agrees


def test_checker_catches_a_wrong_local_gradient(monkeypatch):
    # a multiply gate that forgets to swap its inputs: d(ab)/da = a, wrong
    wrong = Gate("*", lambda a, b: a * b, lambda v, out: (v[0], v[1]), "a, b (wrong)")
    monkeypatch.setitem(circuit_module.GATES, "mul", wrong)
    check = check_gradients(run_circuit(build_circuit("x * y"), {"x": 2.0, "y": 5.0}))
    assert not check.passed
    assert [g.status for g in check.gradients] == ["disagree", "disagree"]
    assert "SymPy's diff and central differences" in check.gradients[0].note


def test_checker_catches_a_gradient_wrong_in_the_tenth_digit(monkeypatch):
    exact = circuit_module.GATES["exp"]
    slightly = Gate("exp", exact.forward, lambda v, out: (out * (1 + 1e-8),), "exp(a)")
    monkeypatch.setitem(circuit_module.GATES, "exp", slightly)
    check = check_gradients(run_circuit(build_circuit("exp(x)"), {"x": 0.3}))
    assert check.gradients[0].status == "disagree"
    assert "SymPy's diff" in check.gradients[0].note


@pytest.mark.parametrize("text, point, fragment", [
    ("x / (y - z)", {"x": 1, "y": 2, "z": 2},
     "division by zero in x / (y - z) at the point: y - z = 0"),
    ("log(x - 3)", {"x": 1}, "log of a non-positive value in log(x - 3)"),
    ("log(x)", {"x": 0}, "log of a non-positive value"),
    ("x ** 0.5", {"x": -1}, "not a real number"),
    ("x ** -1", {"x": 0}, "division by zero"),
    ("x ** 0.5", {"x": 0}, "gradient of x ** 0.5 with respect to x is undefined or infinite"),
    ("x ** y", {"x": -2, "y": 2}, "with respect to y is undefined or infinite at the point, "
                                  "where x = -2, y = 2"),
    ("2 ** x", {"x": 1e4}, "overflows a float"),
    ("exp(x)", {"x": 1000}, "overflows a float"),
    ("x * y", {"x": 1e200, "y": 1e200}, "overflows a float"),
    ("x + y", {"x": 1}, "no value for y"),
    ("x", {"x": 1, "w": 2}, "w not in the expression"),
    ("x", {"x": float("nan")}, "finite number"),
])
def test_points_where_the_circuit_is_undefined_are_refused(text, point, fragment):
    with pytest.raises(CircuitError) as caught:
        run_circuit(build_circuit(text), point)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_an_expression_without_names_is_refused():
    with pytest.raises(CircuitError, match="uses no names"):
        build_circuit("2 * 3")


def test_a_constant_that_is_not_real_is_refused():
    with pytest.raises(CircuitError, match="log\\(-1\\) is not a finite real number"):
        build_circuit("x * log(-1)")


def test_matrix_operators_are_refused_by_the_scalar_grammar():
    with pytest.raises(FormulaError, match="'@'"):
        build_circuit("x @ y")


def test_name_free_subexpressions_become_one_constant():
    circuit = build_circuit("x ** (1 / 2) * exp(1)")
    constants = [node for node in circuit.nodes if node.gate == "const"]
    assert [node.text for node in constants] == ["1 / 2", "exp(1)"]
    assert constants[1].constant == math.e


def test_the_deepest_accepted_nesting_is_still_checked_by_sympy():
    # 20 nested sigmoids: SymPy's diff recurses ~30 frames per level; it must still answer
    text = "sigmoid(" * 20 + "x" + ")" * 20
    check = check_gradients(run_circuit(build_circuit(text), {"x": 0.3}))
    assert check.gradients[0].sympy_diff is not None
    assert check.gradients[0].status == "agree"


def test_sigmoid_is_stable_for_large_negative_input():
    run = run_circuit(build_circuit("sigmoid(x)"), {"x": -800.0})
    assert run.output_value == 0.0 and run.gradient("x") == 0.0


# Expressions with the points where each is defined; hypothesis picks the points.
CORPUS = [
    ("tanh(x) * sin(y) / cos(x) + log(y)", st.floats(-1.2, 1.2), st.floats(0.1, 5)),
    ("exp(x) ** 2 - x / (1 + y ** 2)", st.floats(-3, 3), st.floats(-3, 3)),
    ("sigmoid(x * y) * (x - y) ** 3", st.floats(-4, 4), st.floats(-4, 4)),
    ("x ** y + y ** x", st.floats(0.1, 3), st.floats(0.1, 3)),
    ("-x / y + sigmoid(-x) * exp(-y)", st.floats(-5, 5), st.floats(0.5, 5)),
]


@pytest.mark.parametrize("text, xs, ys", CORPUS, ids=[c[0] for c in CORPUS])
@pytest.mark.parametrize("split", [False, True])
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_random_points_agree_with_sympy_and_central_differences(text, xs, ys, split, data):
    point = {"x": data.draw(xs), "y": data.draw(ys)}
    check = check_gradients(run_circuit(build_circuit(text, split_sigmoid=split), point))
    assert check.passed, check


@pytest.mark.parametrize("text, by_hand, point", [
    ("tanh(x) ** 3 * log(y) / exp(1)", lambda x, y: sp.tanh(x) ** 3 * sp.log(y) / sp.E,
     {"x": 0.7, "y": 2.5}),
    ("max(x, y) * abs(x) + relu(y - x)", lambda x, y: sp.Max(x, y) * sp.Abs(x) + sp.Max(0, y - x),
     {"x": 1.0, "y": 1.0}),
    ("x ** y + sin(x) * cos(y)", lambda x, y: x ** y + sp.sin(x) * sp.cos(y),
     {"x": 1.5, "y": 0.25}),
])
def test_sympy_route_matches_sympy_evalf(text, by_hand, point):
    # the check evaluates SymPy's derivative with its own mpmath walk; SymPy's evalf agrees
    x, y = sp.symbols("x y", real=True)
    expression = by_hand(x, y)
    exact = {x: sp.Rational(point["x"]), y: sp.Rational(point["y"])}
    check = check_gradients(run_circuit(build_circuit(text), point))
    assert check.output_sympy == pytest.approx(float(expression.evalf(30, subs=exact)), rel=1e-15)
    for gradient, symbol in zip(check.gradients, (x, y)):
        expected = float(sp.diff(expression, symbol).evalf(30, subs=exact))
        assert gradient.sympy_diff == pytest.approx(expected, rel=1e-15)


def test_a_constant_base_needs_no_slope_of_its_own():
    # d(0 ** x)/d0 does not exist at x = 0.5, but no gradient flows into the constant 0
    run = run_circuit(build_circuit("0 ** x + x"), {"x": 0.5})
    assert run.gradient("x") == 1.0
