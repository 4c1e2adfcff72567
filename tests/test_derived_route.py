"""The derived route: the printer, the generated function, against the hand-written backprop."""

import math

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from checks.inputs import data
from checks.routes.derived import (EXAMPLES, DerivedNumPyPrinter, NotNumeric, derivation_examples,
                                  derived_backprop, derived_gradient_function,
                                  entrywise_gradient_function, entry_loss, lambdify_matrix,
                                  with_symbolic_examples)
from checks.handwritten.network import backprop
from checks.training import train
from derive.network.activations import opaque_pair
from derive.backward.derivation import derive_rule
from derive.backward.matrix_ops import EntrywiseMap
from derive.network.spec import XOR_SPEC, NetworkSpec

pytestmark = pytest.mark.filterwarnings("error")

# The derived and hand-written routes differ by rounding only (measured ~1e-15 of the largest
# entry): 1e-12 of max(1, largest entry) is a thousand times that and far below any wrong formula.
ROUTE_TOLERANCE = 1e-12
# sigma and sigma' at |z| = 700 against math.exp(-700): both are exp(-700) to a few roundings.
CLOSED_FORM_TOLERANCE = 1e-13
# sigma through tanh against 1/(1 + e^-z): each rounds to about an ulp of 1/2 (1.1e-16) plus
# tanh's own error; four ulps of 1/2
SIGMOID_ABSOLUTE_TOLERANCE = 4.5e-16

SIGMOID, SIGMOID_PRIME = opaque_pair("sigmoid")
RELU_PRIME = opaque_pair("relu")[1]
TANH_PRIME = opaque_pair("tanh")[1]
T = sp.Dummy("t")

A, B = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("B", 3, 2)
W1 = sp.MatrixSymbol("W1", 3, 4)
Z = sp.MatrixSymbol("z2", 2, 3)


def _assert_close(actual, expected, tolerance=ROUTE_TOLERANCE):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    assert actual.shape == expected.shape
    assert np.max(np.abs(actual - expected), initial=0.0) <= tolerance * scale


def _assert_routes_agree(spec, params, X, Y):
    derived, hand = derived_gradient_function(spec)(params, X, Y), backprop(spec, params, X, Y)
    _assert_close(derived.cost, hand.cost)
    assert set(derived.gradients) == set(hand.gradients)
    for name in hand.gradients:
        _assert_close(derived.gradients[name], hand.gradients[name])
    for layer in hand.deltas:
        _assert_close(derived.deltas[layer], hand.deltas[layer])


# --- the printer ---------------------------------------------------------------------------

def test_plain_lambdify_refuses_an_entrywise_derivative_and_ours_evaluates_it():
    delta2 = derive_rule(XOR_SPEC).deltas()[1][1]  # (delta3 W2^T) (.) sigma'(z2)
    symbols = sorted(delta2.atoms(sp.MatrixSymbol), key=lambda s: s.name)
    with pytest.raises(PrintMethodNotImplementedError):
        sp.lambdify(symbols, delta2, modules="numpy")
    values = {"W2": np.array([[1.0], [2.0], [3.0]]), "delta3": np.array([[1.0], [-1.0], [0.5], [2.0]]),
              "z2": np.zeros((4, 3))}
    result = lambdify_matrix(symbols, delta2)(*[values[s.name] for s in symbols])
    # sigma'(0) = 1/4, so delta2[n, j] = delta3[n] * W2[j] / 4
    _assert_close(result, values["delta3"] @ values["W2"].T / 4)


def test_plain_lambdify_writes_sympys_own_elementwise_application_as_a_syntax_error():
    expression = ElementwiseApplyFunction(sp.Lambda(T, sp.exp(T)), Z)  # KNOWN.md: Lambda(t, ...).(...)
    with pytest.raises(SyntaxError):
        sp.lambdify([Z], expression, modules="numpy")


@pytest.mark.parametrize("expression, expected", [
    (A * B, "A.dot(B)"),
    (A.T, "A.T"),
    (sp.HadamardProduct(A, A), "A * A"),
    (sp.Transpose(A * B), "A.dot(B).T"),
    (sp.OneMatrix(2, 1), "numpy.ones((2, 1))"),
    (sp.ZeroMatrix(1, 4), "numpy.zeros((1, 4))"),
    (W1[1:, :], "W1[1:, :]"),
    (W1[:, 1:], "W1[:, 1:]"),
    (sp.BlockMatrix([[sp.OneMatrix(2, 1), A]]), "numpy.block([[numpy.ones((2, 1)), A]])"),
    (EntrywiseMap(sp.Lambda(T, SIGMOID_PRIME(T)), Z), "(numpy.exp(-numpy.abs(z2)) / (1 + numpy.exp(-numpy.abs(z2)))**2)"),
    (EntrywiseMap(sp.Lambda(T, SIGMOID(T)), Z), "(0.5 + 0.5*numpy.tanh(0.5*z2))"),
    (EntrywiseMap(sp.Lambda(T, RELU_PRIME(T)), Z), "numpy.heaviside(z2, 0.0)"),
    (EntrywiseMap(sp.Lambda(T, TANH_PRIME(T)), Z), "(1 - numpy.tanh(z2)**2)"),
])
def test_printer_writes_each_matrix_operation_as_numpy(expression, expected):
    assert DerivedNumPyPrinter().doprint(expression) == expected


def test_a_dimension_equal_to_the_derivation_m_prints_as_the_runtime_m():
    printer = DerivedNumPyPrinter({"example_count": 5})
    assert printer.doprint(sp.OneMatrix(5, 1)) == "numpy.ones((m, 1))"
    assert printer.doprint(sp.ZeroMatrix(1, 4)) == "numpy.zeros((1, 4))"


def test_sigmoid_and_its_derivative_stay_finite_at_z_700_and_match_the_exponential_form():
    z = sp.MatrixSymbol("z", 1, 5)
    sigma = lambdify_matrix([z], EntrywiseMap(sp.Lambda(T, SIGMOID(T)), z))
    prime = lambdify_matrix([z], EntrywiseMap(sp.Lambda(T, SIGMOID_PRIME(T)), z))
    points = np.array([[-800.0, -700.0, 0.0, 700.0, 800.0]])
    tiny = math.exp(-700.0)  # sigma'(+-700) = e^-700 / (1 + e^-700)^2 = e^-700 to 1e-304 relative
    values, slopes = sigma(points)[0], prime(points)[0]
    # sigma is (1 + tanh(z/2)) / 2: tanh never overflows; its tail sigma(-700) = e^-700 is below
    # the absolute rounding of 1/2 and comes out 0 (the cross-entropies never take its log)
    assert values.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    for index in (1, 3):
        assert abs(slopes[index] - tiny) <= CLOSED_FORM_TOLERANCE * tiny
    assert slopes[2] == 0.25 and slopes[0] == 0.0 and slopes[4] == 0.0


def test_sigmoid_through_tanh_equals_one_over_one_plus_exp_to_an_absolute_rounding():
    z = sp.MatrixSymbol("z", 1, 201)
    points = np.linspace(-40.0, 40.0, 201)[None, :]
    through_tanh = lambdify_matrix([z], EntrywiseMap(sp.Lambda(T, SIGMOID(T)), z))(points)
    exponential = 1.0 / (1.0 + np.exp(-points))  # no overflow for |z| <= 40
    assert np.max(np.abs(through_tanh - exponential)) <= SIGMOID_ABSOLUTE_TOLERANCE
    shifted = lambdify_matrix([z], EntrywiseMap(sp.Lambda(T, SIGMOID(T)), z))(points + 1e-3)
    assert np.max(np.abs(shifted - exponential)) > 100 * SIGMOID_ABSOLUTE_TOLERANCE  # the check can fail


def test_relu_derivative_at_zero_is_zero():
    z = sp.MatrixSymbol("z", 1, 3)
    relu_prime = lambdify_matrix([z], EntrywiseMap(sp.Lambda(T, RELU_PRIME(T)), z))
    assert relu_prime(np.array([[-1.0, 0.0, 2.0]])).tolist() == [[0.0, 0.0, 1.0]]


def test_the_generic_activation_f_is_refused_with_a_reason():
    spec = NetworkSpec((2, 2, 1), ("f", "sigmoid"))
    with pytest.raises(NotNumeric, match="generic activation f"):
        derived_gradient_function(spec)


# --- one derivation for every m -------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    XOR_SPEC,
    NetworkSpec((3, 5, 2), ("tanh", "softmax"), cost="cce", reduction="mean", m=5),
    NetworkSpec((2, 4, 3), ("relu", "identity"), cost="mse", bias="unit", m=9),
])
def test_the_derivation_m_differs_from_every_other_dimension_and_is_odd_and_coprime_to_2K(spec):
    m0 = derivation_examples(spec)
    others = {1} | set(spec.sizes) | {size + 1 for size in spec.sizes}
    assert m0 >= 3 and m0 % 2 == 1 and m0 not in others and math.gcd(m0, spec.sizes[-1]) == 1


def test_the_means_one_over_m0_becomes_one_over_m():
    spec = NetworkSpec((2, 3, 3), ("tanh", "softmax"), cost="cce", reduction="mean", m=5)
    delta = derive_rule(spec).deltas()[0][1]  # (1/5) a3 - (1/5) y
    general = with_symbolic_examples(delta, 5)
    assert EXAMPLES in general.free_symbols
    assert general.xreplace({EXAMPLES: 5}).as_explicit() == delta.as_explicit()


@pytest.mark.parametrize("m", [1, 2, 7, 50])
def test_one_derived_function_serves_every_number_of_examples(m):
    spec = NetworkSpec((3, 4, 2), ("sigmoid", "sigmoid"), cost="bce", bias="vector", reduction="mean", l2=0.3)
    params = data.random_params(spec, 1)
    X, Y = data.random_data(spec, m, rng=2)
    _assert_routes_agree(spec, params, X, Y)


# --- the derived route against the hand-written one -----------------------------------------

SPECS = [
    XOR_SPEC,
    NetworkSpec((2, 3, 2), ("relu", "sigmoid"), cost="bce", bias="unit", convention="column",
                reduction="mean", l2=0.5, m=3),
    NetworkSpec((3, 4, 3), ("tanh", "softmax"), cost="cce", bias="vector", reduction="mean", m=4),
    NetworkSpec((2, 3, 3), ("sigmoid", "sigmoid"), cost="cce", convention="column", l2=0.1, m=2),
    NetworkSpec((2, 3, 2, 2), ("identity", "tanh", "identity"), cost="mse", bias="unit", m=5),
    NetworkSpec((1, 2, 1), ("relu", "relu"), cost="half_sse", bias="vector", convention="column", m=4),
    NetworkSpec((2, 2), ("tanh",), cost="mse", reduction="mean", l2=0.2, m=3),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.slug}-{s.activations[-1]}-{s.cost}-{s.convention}")
def test_derived_cost_gradients_and_deltas_equal_the_hand_written_ones(spec):
    _assert_routes_agree(spec, data.random_params(spec, 3), *data.random_data(spec, rng=4))


def saturating_point(spec):
    """A 1-3-K net's parameters and data with every |z| of 350 to 1400: two examples confidently right, two wrong.

    z2 = x (700, -700, 350) for x = 1, -1, 2, -2; the output weights send each example's hidden
    pattern to z3 = (700, -700) or (-700, 700) (and 0 for a third softmax unit).
    """
    K = spec.sizes[-1]
    X = np.array([[1.0], [-1.0], [2.0], [-2.0]])
    W1 = np.array([[700.0, -700.0, 350.0]])
    W2 = np.zeros((3, K))
    W2[0, :2], W2[1, :2] = (700.0, -700.0), (-700.0, 700.0)
    Y = np.eye(K)[[1, 1, 0, 0]]  # examples 0 and 3 are confidently wrong, 1 and 2 right
    params = {"W1": W1, "W2": W2}
    if spec.bias == "unit":
        params = {name: np.vstack([np.zeros((1, W.shape[1])), W]) for name, W in params.items()}
    if spec.bias == "vector":
        params.update(b1=np.zeros((1, 3)), b2=np.zeros((1, K)))
    if spec.convention == "column":
        return {name: W.T.copy() for name, W in params.items()}, X.T.copy(), Y.T.copy()
    return params, X, Y


SATURATING_SPECS = [
    NetworkSpec((1, 3, 2), ("sigmoid", "sigmoid"), cost="bce", bias="vector"),
    NetworkSpec((1, 3, 2), ("tanh", "sigmoid"), cost="cce", convention="column"),
    NetworkSpec((1, 3, 3), ("sigmoid", "softmax"), cost="cce", reduction="mean", bias="unit"),
    NetworkSpec((1, 3, 2), ("sigmoid", "sigmoid"), cost="half_sse", bias="unit", convention="column"),
    NetworkSpec((1, 3, 2), ("tanh", "tanh"), cost="mse", bias="vector"),
]


@pytest.mark.parametrize("spec", SATURATING_SPECS, ids=lambda s: f"{s.activations[-1]}-{s.cost}")
def test_derived_route_is_finite_and_equals_hand_written_at_z_about_700(spec):
    params, X, Y = saturating_point(spec)
    route = derived_gradient_function(spec)
    z, _ = route.forward(params, X, Y)
    assert np.min(np.abs(z[2])) >= 350.0 and np.max(np.abs(z[3])) >= 700.0
    result = route(params, X, Y)
    if spec.cost in ("binary_cross_entropy", "categorical_cross_entropy"):
        assert result.cost > 300.0  # two of four examples confidently wrong: ~700 each (log of e^-700)
    assert np.isfinite(result.cost)
    assert all(np.all(np.isfinite(g)) for g in result.gradients.values())
    _assert_routes_agree(spec, params, X, Y)


def test_the_chain_rule_output_delta_is_nan_at_z_700_so_the_simplified_one_is_the_default():
    spec = SATURATING_SPECS[0]
    params, X, Y = saturating_point(spec)
    raw = derived_gradient_function(spec, output_delta="chain_rule")
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(raw(params, X, Y).gradients["W2"]))
    moderate = {name: value / 700.0 for name, value in params.items()}  # |z| of order 1
    simplified = derived_gradient_function(spec)(moderate, X, Y)
    for name, gradient in raw(moderate, X, Y).gradients.items():
        _assert_close(gradient, simplified.gradients[name])


def test_training_with_derived_gradients_follows_the_hand_written_path():
    spec = NetworkSpec((2, 3, 1), ("tanh", "sigmoid"), cost="bce", bias="vector", reduction="mean")
    X, Y = data.random_data(spec, 20, rng=5)
    start = data.random_params(spec, 6)
    options = dict(learning_rate=0.5, epochs=5, batch_size=6, rng=0)  # batches of 6, 6, 6 and 2
    derived = train(spec, start, X, Y, gradient_fn=derived_backprop, **options)
    hand = train(spec, start, X, Y, gradient_fn=backprop, **options)
    for name in start:
        _assert_close(derived.params[name], hand.params[name])


def test_wrong_parameter_names_and_shapes_are_refused_by_name():
    route = derived_gradient_function(XOR_SPEC)
    X, Y = data.xor_data()
    with pytest.raises(ValueError, match="expected: W1, W2"):
        route({"W1": np.ones((2, 3))}, X, Y)
    with pytest.raises(ValueError, match=r"W2 has shape \(1, 3\); expected \(3, 1\)"):
        route({"W1": np.ones((2, 3)), "W2": np.ones((1, 3))}, X, Y)


@pytest.mark.parametrize("cost_name, units, expected", [
    ("half_sse", 2, "(_y0 - _yhat0)**2/2"),
    ("mse", 3, "(_y0 - _yhat0)**2/3"),
    ("categorical_cross_entropy", 2, "-_y0*log(_yhat0)"),
])
def test_the_loss_of_one_output_entry_is_read_off_the_cost_table(cost_name, units, expected):
    _, _, loss = entry_loss(cost_name, units)
    assert str(loss) == expected


# --- the entrywise route -----------------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    XOR_SPEC,
    NetworkSpec((2, 2, 2), ("tanh", "softmax"), cost="cce", bias="vector", reduction="mean", m=2),
    NetworkSpec((2, 2, 1), ("relu", "sigmoid"), cost="bce", bias="unit", convention="column", l2=0.4, m=3),
], ids=lambda s: f"{s.slug}-{s.activations[-1]}-{s.cost}")
def test_sympys_entrywise_diff_lambdified_with_cse_equals_the_hand_written_gradients(spec):
    params, (X, Y) = data.random_params(spec, 8), data.random_data(spec, rng=9)
    entrywise, hand = entrywise_gradient_function(spec)(params, X, Y), backprop(spec, params, X, Y)
    _assert_close(entrywise.cost, hand.cost)
    for name in hand.gradients:
        _assert_close(entrywise.gradients[name], hand.gradients[name])
