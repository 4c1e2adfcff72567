"""The hand-written NumPy backprop against central differences, by hand, and across conventions."""

import ast
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checks.inputs import data
from checks.routes.finite_differences import compare_gradients, finite_difference_gradient
from checks.handwritten.network import backprop, cost, forward, parameter_shapes, sigmoid, softplus
from derive.network.spec import NetworkSpec
from derive.network.activations import activation
from tests.spec_strategies import NUMERIC_HIDDEN, NUMERIC_OUTPUT_COST

pytestmark = pytest.mark.filterwarnings("error")

ROOT = Path(__file__).resolve().parents[1]
NUMPY_ONLY_MODULES = ("handwritten.network", "routes.finite_differences", "training", "inputs.data")

# Agreement between backprop and central differences uses the finite-difference module's own
# tolerances (1e-7 absolute + 1e-5 relative per entry, reasoned there from float64 and the step).
# Hand-computed values are exact up to a few roundings of numbers of order 1:
EXACT = 1e-12
# Two conventions do the same float operations in a different order: agreement to rounding.
TRANSPOSE_TOLERANCE = 1e-12
# Finite differences are invalid across relu's kink: examples with a relu pre-activation closer to
# 0 than this (about 100 steps of 6e-6 times |a|) are skipped rather than mis-scored.
KINK_MARGIN = 1e-3

# every numeric activation and (output, cost) pair of the tables: a new entry's twin is drawn here too
HIDDEN, OUTPUT_COST = NUMERIC_HIDDEN, NUMERIC_OUTPUT_COST

HYPOTHESIS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@st.composite
def networks(draw, convention=None):
    """A small random spec, its parameters (ε_init times a scale up to 3) and data."""
    depth = draw(st.integers(2, 4))
    sizes = tuple(draw(st.integers(1, 4)) for _ in range(depth))
    output, cost_name = draw(st.sampled_from(OUTPUT_COST))
    if output == "softmax" and sizes[-1] == 1:
        sizes = sizes[:-1] + (2,)
    activations = tuple(draw(st.sampled_from(HIDDEN)) for _ in range(depth - 2)) + (output,)
    spec = NetworkSpec(sizes, activations, cost=cost_name,
                       reduction=draw(st.sampled_from(("sum", "mean"))),
                       bias=draw(st.sampled_from(("none", "vector", "unit"))),
                       convention=convention or draw(st.sampled_from(("row", "column"))),
                       m=draw(st.integers(1, 4)), l2=draw(st.sampled_from((0.0, 0.3))))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from((1.0, 3.0)))
    params = {name: scale * value for name, value in data.random_params(spec, seed).items()}
    X, Y = data.random_data(spec, rng=seed + 1)
    return spec, params, X, Y


def _away_from_relu_kinks(spec, params, X) -> bool:
    passes = forward(spec, params, X)
    return all(np.min(np.abs(passes.z[layer])) > KINK_MARGIN
               for layer in range(2, len(spec.sizes) + 1) if activation(spec.activation(layer)).kink)


@HYPOTHESIS
@given(networks())
def test_backprop_gradients_agree_with_central_differences(network):
    spec, params, X, Y = network
    assume(_away_from_relu_kinks(spec, params, X))
    result = backprop(spec, params, X, Y)
    numeric = finite_difference_gradient(lambda p: cost(spec, p, X, Y), params)
    comparison = compare_gradients(result.gradients, numeric)
    assert comparison.agree, (spec, {name: (c.worst_index, c.worst_analytic, c.worst_numeric)
                                     for name, c in comparison.parameters.items() if not c.agree})


@HYPOTHESIS
@given(networks(convention="row"))
def test_row_and_column_conventions_give_the_same_gradients_up_to_transpose(network):
    row_spec, params, X, Y = network
    column_spec = NetworkSpec(row_spec.sizes, row_spec.activations, cost=row_spec.cost,
                              reduction=row_spec.reduction, bias=row_spec.bias, convention="column",
                              m=row_spec.m, l2=row_spec.l2)
    row = backprop(row_spec, params, X, Y)
    column = backprop(column_spec, {name: value.T for name, value in params.items()}, X.T, Y.T)
    assert column.cost == pytest.approx(row.cost, rel=TRANSPOSE_TOLERANCE, abs=TRANSPOSE_TOLERANCE)
    for name, gradient in row.gradients.items():
        np.testing.assert_allclose(column.gradients[name].T, gradient,
                                   rtol=TRANSPOSE_TOLERANCE, atol=TRANSPOSE_TOLERANCE)
    for layer, delta in row.deltas.items():
        np.testing.assert_allclose(column.deltas[layer].T, delta,
                                   rtol=TRANSPOSE_TOLERANCE, atol=TRANSPOSE_TOLERANCE)


@pytest.mark.parametrize("convention", ["row", "column"])
def test_bias_unit_row_of_w_is_the_bias_vector(convention):
    # Ng's bias unit and a separate b are the same network: W_unit = [b; W] in row form
    vector = NetworkSpec((3, 4, 2), ("tanh", "sigmoid"), cost="bce", bias="vector",
                         convention=convention, l2=0.5)
    unit = NetworkSpec((3, 4, 2), ("tanh", "sigmoid"), cost="bce", bias="unit",
                       convention=convention, l2=0.5)
    params = data.random_params(vector, 7)
    X, Y = data.random_data(vector, rng=8)
    axis = 0 if convention == "row" else 1
    folded = {f"W{l}": np.concatenate([params[f"b{l}"], params[f"W{l}"]], axis=axis) for l in (1, 2)}
    with_vector, with_unit = backprop(vector, params, X, Y), backprop(unit, folded, X, Y)
    assert with_unit.cost == pytest.approx(with_vector.cost, rel=EXACT)
    for layer in (1, 2):
        expected = np.concatenate([with_vector.gradients[f"b{layer}"], with_vector.gradients[f"W{layer}"]],
                                  axis=axis)
        np.testing.assert_allclose(with_unit.gradients[f"W{layer}"], expected, rtol=EXACT, atol=EXACT)


def test_seed_000_formulas_by_hand_for_the_xor_net():
    # seed 000: delta3 = -(y - yHat) f'(z3), dJ/dW2 = a2^T delta3, delta2 = delta3 W2^T * f'(z2),
    # dJ/dW1 = X^T delta2, written out here with sigma'(z) = sigma(z) (1 - sigma(z))
    spec = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"))
    X, Y = data.xor_data()
    W1 = np.array([[0.1, -0.4, 0.7], [0.5, 0.2, -0.3]])
    W2 = np.array([[0.6], [-0.8], [0.9]])
    s = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731 - the textbook form, fine for |z| < 2
    z2 = X @ W1
    a2 = s(z2)
    z3 = a2 @ W2
    y_hat = s(z3)
    delta3 = -(Y - y_hat) * s(z3) * (1 - s(z3))
    delta2 = delta3 @ W2.T * s(z2) * (1 - s(z2))
    result = backprop(spec, {"W1": W1, "W2": W2}, X, Y)
    assert result.cost == pytest.approx(float(np.sum(0.5 * (Y - y_hat) ** 2)), rel=EXACT)
    np.testing.assert_allclose(result.gradients["W2"], a2.T @ delta3, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(result.gradients["W1"], X.T @ delta2, rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(result.deltas[2], delta2, rtol=EXACT, atol=EXACT)


def _one_layer(activation="identity", cost_name="half_sse"):
    """A duck-typed 1-2 spec (no NetworkSpec validation), one example."""
    return SimpleNamespace(sizes=(1, 2), activations=(activation,), cost=cost_name, reduction="sum",
                           bias="none", convention="row", l2=0.0, m=1)


def test_mse_divides_the_squared_error_by_the_number_of_outputs():
    spec = _one_layer(cost_name="mse")
    # yhat = (2, -1), y = (0, 1): (1/K) sum_k (y - yhat)^2 = (4 + 4) / 2
    assert cost(spec, {"W1": [[2.0, -1.0]]}, [[1.0]], [[0.0, 1.0]]) == pytest.approx(4.0, rel=EXACT)


def test_mean_reduction_divides_cost_and_l2_term_by_m():
    spec = NetworkSpec((1, 2), ("identity",), reduction="mean", bias="unit", l2=0.5)
    # W rows: bias (10, 10), weights (2, -1); the bias row is not penalized
    W = np.array([[10.0, 10.0], [2.0, -1.0]])
    X, Y = np.array([[1.0], [0.0]]), np.array([[11.0, 9.0], [10.0, 12.0]])
    losses = 0.5 * np.sum((Y - np.hstack([np.ones((2, 1)), X]) @ W) ** 2, axis=1)
    expected = (np.sum(losses) + 0.5 / 2 * (2.0 ** 2 + 1.0 ** 2)) / 2
    assert cost(spec, {"W1": W}, X, Y) == pytest.approx(expected, rel=EXACT)


def test_l2_gradient_leaves_the_bias_column_alone_in_column_form():
    plain = NetworkSpec((2, 2), ("identity",), bias="unit", convention="column", m=1)
    regularized = NetworkSpec((2, 2), ("identity",), bias="unit", convention="column", m=1, l2=2.0)
    W = np.array([[1.0, 3.0, -2.0], [-4.0, 0.5, 1.5]])  # column 0 is the bias column
    X, Y = np.array([[0.3], [-0.7]]), np.array([[1.0], [0.0]])
    difference = backprop(regularized, {"W1": W}, X, Y).gradients["W1"] - \
        backprop(plain, {"W1": W}, X, Y).gradients["W1"]
    expected = 2.0 * W
    expected[:, 0] = 0.0
    np.testing.assert_allclose(difference, expected, rtol=EXACT, atol=EXACT)


def test_relu_derivative_at_zero_is_zero():
    spec = _one_layer("relu")
    result = backprop(spec, {"W1": [[1.0, -1.0]]}, [[0.0]], [[1.0, 1.0]])
    # z = 0 for both units: relu'(0) = 0, so no gradient reaches W
    np.testing.assert_array_equal(result.gradients["W1"], [[0.0, 0.0]])


def test_softmax_cross_entropy_delta_is_output_minus_one_hot_target():
    spec = NetworkSpec((2, 3), ("softmax",), cost="cce", convention="column", m=1)
    W = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    X, Y = np.array([[0.5], [0.25]]), np.array([[0.0], [1.0], [0.0]])
    z = W @ X
    y_hat = np.exp(z) / np.sum(np.exp(z))
    np.testing.assert_allclose(backprop(spec, {"W1": W}, X, Y).deltas[2], y_hat - Y, rtol=EXACT, atol=EXACT)


@pytest.mark.parametrize("z", [700.0, -700.0])
def test_sigmoid_and_softplus_stay_finite_at_700(z):
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        assert np.isfinite(sigmoid(np.array(z)))
        assert softplus(np.array(z)) == pytest.approx(max(z, 0.0), abs=EXACT)


@pytest.mark.parametrize("output, cost_name, Y, expected", [
    # -log sigma(-700) = 700 for target 1 at z = -700; target 0 at z = +700 likewise
    ("sigmoid", "binary_cross_entropy", [[1.0], [0.0]], 1400.0),
    ("sigmoid", "categorical_cross_entropy", [[1.0], [0.0]], 700.0),
    # sigma(-700) ~ 1e-304 and sigma(700) = 1: half squared errors 0.5 + 0
    ("sigmoid", "half_sse", [[1.0], [1.0]], 0.5),
    # tanh(-700) = -1 against target 1: 1/2 (1 - (-1))^2 = 2
    ("tanh", "half_sse", [[1.0], [1.0]], 2.0),
    ("identity", "half_sse", [[0.0], [0.0]], 700.0 ** 2),
])
def test_costs_and_gradients_stay_finite_at_z_of_700(output, cost_name, Y, expected):
    spec = NetworkSpec((1, 1), (output,), cost=cost_name, m=2)
    X = np.array([[-1.0], [1.0]])  # z = -700 and +700
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        result = backprop(spec, {"W1": [[700.0]]}, X, Y)
    assert result.cost == pytest.approx(expected, rel=EXACT)
    assert all(np.all(np.isfinite(g)) for g in result.gradients.values())


def test_softmax_cross_entropy_stays_finite_at_z_of_700():
    spec = NetworkSpec((1, 3), ("softmax",), cost="cce", m=1)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        result = backprop(spec, {"W1": [[700.0, -700.0, 0.0]]}, [[1.0]], [[0.0, 1.0, 0.0]])
    # -log softmax_1 = 700 - (-700) + log(1 + e^-700 + e^-1400) = 1400
    assert result.cost == pytest.approx(1400.0, rel=EXACT)
    np.testing.assert_allclose(result.gradients["W1"], [[1.0, -1.0, 0.0]], atol=EXACT)


def test_hidden_layers_saturated_at_700_give_finite_gradients():
    spec = NetworkSpec((1, 2, 2, 1), ("sigmoid", "tanh", "sigmoid"), cost="bce", bias="vector", m=2)
    params = {"W1": [[700.0, -700.0]], "b1": [[0.0, 0.0]], "W2": [[700.0, 1.0], [1.0, -700.0]],
              "b2": [[0.0, 0.0]], "W3": [[700.0], [-700.0]], "b3": [[0.0]]}
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        result = backprop(spec, params, [[1.0], [-1.0]], [[0.0], [1.0]])
    assert np.isfinite(result.cost)
    assert all(np.all(np.isfinite(g)) for g in result.gradients.values())


def test_parameter_shapes_follow_the_convention_and_bias_unit():
    row = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), bias="unit")
    column = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), bias="vector", convention="column")
    assert parameter_shapes(row) == {"W1": (3, 3), "W2": (4, 1)}
    assert parameter_shapes(column) == {"W1": (3, 2), "b1": (3, 1), "W2": (1, 3), "b2": (1, 1)}


# --- bad input --------------------------------------------------------------------------------

XOR = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), bias="vector")
GOOD_PARAMS = data.random_params(XOR, 0)
GOOD_X, GOOD_Y = data.xor_data()


@pytest.mark.parametrize("change, message", [
    ({"W1": np.zeros((3, 2))}, r"W1 has shape \(3, 2\); expected \(2, 3\)"),
    ({"b2": np.zeros((1, 2))}, r"b2 has shape \(1, 2\); expected \(1, 1\)"),
    ({"W1": np.full((2, 3), np.nan)}, r"W1 contains NaN"),
    ({"W3": np.zeros((1, 1))}, r"unexpected: W3"),
])
def test_bad_parameters_raise_value_error_naming_the_array(change, message):
    with pytest.raises(ValueError, match=message):
        backprop(XOR, {**GOOD_PARAMS, **change}, GOOD_X, GOOD_Y)


def test_missing_parameter_raises_value_error_naming_it():
    params = {name: value for name, value in GOOD_PARAMS.items() if name != "b1"}
    with pytest.raises(ValueError, match=r"missing: b1"):
        cost(XOR, params, GOOD_X, GOOD_Y)


@pytest.mark.parametrize("X, Y, message", [
    (GOOD_X.T, GOOD_Y, r"X has shape \(2, 4\); expected \(m, 2\)"),
    (GOOD_X, GOOD_Y.T, r"Y has shape \(1, 4\); expected \(4, 1\)"),
    (GOOD_X[:3], GOOD_Y, r"Y has shape \(4, 1\); expected \(3, 1\)"),
    (np.where(GOOD_X == 1, np.nan, GOOD_X), GOOD_Y, r"X contains NaN or inf"),
    (GOOD_X, np.full((4, 1), np.inf), r"Y contains NaN or inf"),
    ([["a", "b"]], GOOD_Y, r"X must be an array of numbers"),
])
def test_bad_data_raises_value_error_naming_the_array_and_expected_shape(X, Y, message):
    with pytest.raises(ValueError, match=message):
        backprop(XOR, GOOD_PARAMS, X, Y)


def test_generic_activation_f_is_refused_as_symbolic_only():
    spec = NetworkSpec((2, 3, 1), ("f", "sigmoid"))
    with pytest.raises(ValueError, match=r"'f' on layer 2 is generic"):
        forward(spec, {"W1": np.zeros((2, 3)), "W2": np.zeros((3, 1))}, GOOD_X)


def test_duck_typed_spec_with_an_unscorable_output_is_refused():
    spec = _one_layer("tanh", "binary_cross_entropy")
    with pytest.raises(ValueError, match=r"a tanh output cannot be scored with binary_cross_entropy"):
        cost(spec, {"W1": [[1.0, 1.0]]}, [[1.0]], [[0.0, 1.0]])


# --- independence -----------------------------------------------------------------------------

def _imports(tree: ast.AST) -> list[tuple[str, bool]]:
    """(top-level module name, imported at module level?) for every import statement."""
    found = []
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((f"checks.{node.module or ''}", id(node) in top_level))
            else:
                found.append((node.module, id(node) in top_level))
    return found


@pytest.mark.parametrize("module", NUMPY_ONLY_MODULES)
def test_independent_route_imports_only_numpy_and_the_standard_library(module):
    tree = ast.parse((ROOT / "checks" / f"{module.replace('.', '/')}.py").read_text())
    allowed_checks = {f"checks.{name}" for name in NUMPY_ONLY_MODULES}
    for name, at_module_level in _imports(tree):
        top = name.split(".")[0]
        if top == "matplotlib":
            assert module == "training" and not at_module_level, f"{module} imports {name} at module level"
            continue
        assert (top == "numpy" or top in sys.stdlib_module_names or name in allowed_checks), \
            f"checks/{module}.py imports {name}"


def test_importing_the_independent_route_loads_neither_sympy_nor_derive():
    modules = ", ".join(f"checks.{name}" for name in NUMPY_ONLY_MODULES)
    probe = (f"import sys, {modules}; "
             "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sympy', 'derive', 'matplotlib')); "
             "print(','.join(loaded))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
