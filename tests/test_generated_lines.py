"""The generated source: f' through the output, shared subexpressions, broadcasting, one line per quantity."""

import dataclasses
import re

import numpy as np
import pytest
import sympy as sp

from checks.inputs import data
from checks.routes.derived import DerivedNumPyPrinter, derived_gradient_function, generate_source, lambdify_matrix
from checks.routes.generated_lines import share_common, through_outputs
from checks.handwritten.network import backprop
from derive.network import activations
from derive.proofs import local as local_proof
from derive.network.activations import opaque_pair
from derive.backward.matrix_ops import EntrywiseMap
from derive.network.spec import NetworkSpec, parse_spec

pytestmark = pytest.mark.filterwarnings("error")

# two evaluations of one formula in a different order of operations: rounding only
ROUNDING = 1e-13
T = sp.Symbol("t")


def _body(source: str) -> list[tuple[str, str]]:
    """(name, right-hand side) of every assignment in the generated function."""
    lines = [line.strip() for line in source.splitlines()[1:] if line.strip() and not line.strip().startswith("return")]
    return [tuple(part.strip() for part in line.split("=", 1)) for line in lines]


# --- f' through the activation's output ----------------------------------------------------

@pytest.mark.parametrize("name, output_form", [("sigmoid", "a3*(1 - a3)"), ("tanh", "1 - a3**2")])
def test_f_prime_through_the_output_equals_f_prime_of_z_on_random_arrays(name, output_form):
    function, prime = opaque_pair(name)
    z, a = sp.MatrixSymbol("z3", 5, 2), sp.MatrixSymbol("a3", 5, 2)
    of_z = EntrywiseMap(sp.Lambda(T, prime(T)), z)
    through = through_outputs(of_z, {z: (name, a)})
    assert DerivedNumPyPrinter().doprint(through) == output_form
    values = np.random.default_rng(0).normal(scale=3.0, size=(5, 2))
    outputs = lambdify_matrix([z], EntrywiseMap(sp.Lambda(T, function(T)), z))(values)
    direct = lambdify_matrix([z], of_z)(values)
    assert np.max(np.abs(lambdify_matrix([a], through)(outputs) - direct)) <= ROUNDING


def test_identity_prime_through_the_output_drops_out_of_the_hadamard_product():
    z, a, g = sp.MatrixSymbol("z2", 4, 3), sp.MatrixSymbol("a2", 4, 3), sp.MatrixSymbol("g", 4, 3)
    delta = sp.HadamardProduct(g, EntrywiseMap(sp.Lambda(T, opaque_pair("identity")[1](T)), z))
    assert through_outputs(delta, {z: ("identity", a)}) == g


def test_the_activation_read_inside_a_loss_becomes_the_forward_pass_output():
    z, a, y = (sp.MatrixSymbol(name, 4, 1) for name in ("z3", "a3", "y"))
    u = sp.Symbol("u")
    loss = EntrywiseMap(sp.Lambda((u, T), (u - opaque_pair("sigmoid")[0](T)) ** 2 / 2), y, z)
    assert DerivedNumPyPrinter().doprint(through_outputs(loss, {z: ("sigmoid", a)})) == "(1/2)*(y - a3)**2"


def test_a_wrong_output_identity_fails_the_local_proof_and_the_printer_falls_back_to_z(monkeypatch):
    spec = NetworkSpec((2, 3, 1), ("sigmoid", "identity"), cost="half_sse", bias="vector")
    assert "a2*(1 - a2)" in generate_source(spec)  # also caches the derivation, made with the true table
    wrong = dataclasses.replace(activations.ACTIVATION_TABLE["sigmoid"], derivative_from_output=lambda a: a * (1 + a))
    assert not local_proof.output_identity_check(wrong).holds
    monkeypatch.setitem(activations.ACTIVATION_TABLE, "sigmoid", wrong)
    local_proof.proved_output_identity.cache_clear()
    local_proof._elementwise_check.cache_clear()
    try:
        assert not local_proof.prove_activation_rules({"sigmoid"}).holds
        source = generate_source(spec)
    finally:
        local_proof.proved_output_identity.cache_clear()
        local_proof._elementwise_check.cache_clear()
    assert "a2*(1 + a2)" not in source and "a2*(1 - a2)" not in source
    assert "numpy.exp(-numpy.abs(z2))" in source  # sigma'(z) from z: unproved identities are not used


def test_every_table_identity_is_proved_by_sympy():
    for name, entry in activations.ACTIVATION_TABLE.items():
        if entry.derivative_from_output is not None:
            assert local_proof.output_identity_check(entry).holds, name


# --- the generated source ---------------------------------------------------------------------

def test_each_activation_is_evaluated_once_and_its_derivative_reads_the_output():
    source = generate_source(parse_spec("2-3-1", bias="vector"))
    assert source.count("numpy.tanh") == 2  # a2 and a3, nowhere else: sigma(z) = (1 + tanh(z/2))/2
    assert "numpy.exp" not in source
    body = dict(_body(source))
    assert body["J"] == "1/2 * ((y - a3)**2).sum()"
    assert body["delta3"] == "(a3 - y) * (a3*(1 - a3))"
    assert body["delta2"] == "delta3.dot(W2.T) * (a2*(1 - a2))"


@pytest.mark.parametrize("convention, axis", [("row", 0), ("column", 1)])
def test_biases_are_broadcast_and_bias_gradients_are_axis_sums_not_ones_matrix_products(convention, axis):
    source = generate_source(parse_spec("2-3-1", bias="vector", convention=convention))
    assert "numpy.ones" not in source
    body = dict(_body(source))
    assert body["z2"] in ("X.dot(W1) + b1", "W1.dot(X) + b1")
    assert body["dJ_db1"] == f"delta2.sum(axis={axis}, keepdims=True)"


def test_the_shared_log_softmax_is_computed_once_and_read_by_the_activation_and_the_cost():
    spec = NetworkSpec((3, 4, 3), ("tanh", "softmax"), cost="cce", bias="vector", reduction="mean")
    source = generate_source(spec)
    body = dict(_body(source))
    assert source.count("numpy.log(") == 1
    assert body["a3"] == "numpy.exp(log_a3)"
    assert "log_a3" in body["J"]
    assert body["delta2"] == "delta3.dot(W2.T) * (1 - a2**2)"


@pytest.mark.parametrize("spec", [
    parse_spec("2-3-1", bias="vector"),
    NetworkSpec((3, 4, 3), ("tanh", "softmax"), cost="cce", bias="vector", reduction="mean"),
    NetworkSpec((2, 3, 2, 2), ("identity", "tanh", "relu"), cost="mse", bias="unit", convention="column"),
], ids=lambda s: s.slug)
def test_the_generated_function_has_one_named_line_per_quantity_each_assigned_once(spec):
    names = [name for name, _ in _body(generate_source(spec))]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) for name in names)
    layers = range(2, len(spec.sizes) + 1)
    expected = {"J"} | {f"z{l}" for l in layers} | {f"a{l}" for l in layers} | {f"delta{l}" for l in layers}
    assert expected <= set(names)


def test_a_subexpression_used_twice_gets_a_line_and_a_whole_line_met_again_becomes_its_name():
    A, B = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("B", 3, 3)
    lines = share_common([("P", A * B), ("Q", sp.HadamardProduct(A * B, A + B)), ("R", sp.HadamardProduct(A + B, B))],
                         lambda e: None)
    assert [name for name, _ in lines] == ["P", "shared1", "Q", "R"]
    assert dict(lines)["Q"] == sp.HadamardProduct(sp.MatrixSymbol("P", 3, 3), sp.MatrixSymbol("shared1", 3, 3))
    unshared = share_common([("P", A * B), ("R", sp.HadamardProduct(A + B, B))], lambda e: None)
    assert [name for name, _ in unshared] == ["P", "R"]  # the check can fail: nothing repeated, nothing named


# --- the numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), cost="half_sse", bias="vector"),
    NetworkSpec((3, 4, 2), ("tanh", "identity"), cost="mse", bias="vector", convention="column", reduction="mean"),
    NetworkSpec((2, 4, 3, 2), ("relu", "sigmoid", "sigmoid"), cost="bce", bias="vector", l2=0.3),
    NetworkSpec((3, 5, 3), ("sigmoid", "softmax"), cost="cce", bias="vector", convention="column"),
], ids=lambda s: f"{s.slug}-{s.activations[-1]}-{s.convention}")
def test_the_shared_generated_code_equals_the_hand_written_backprop(spec):
    params, (X, Y) = data.random_params(spec, 11), data.random_data(spec, 7, rng=12)
    derived, hand = derived_gradient_function(spec)(params, X, Y), backprop(spec, params, X, Y)
    assert abs(derived.cost - hand.cost) <= 1e-12 * max(1.0, abs(hand.cost))
    for name, gradient in hand.gradients.items():
        assert np.max(np.abs(derived.gradients[name] - gradient)) <= 1e-12 * max(1.0, np.max(np.abs(gradient)))


@pytest.mark.parametrize("output, cost", [("sigmoid", "bce"), ("softmax", "cce")])
def test_stable_forms_give_no_nan_or_inf_at_z_of_plus_and_minus_700(output, cost):
    spec = NetworkSpec((1, 2, 2), ("sigmoid", output), cost=cost, bias="vector")
    # z2 = (700, -700) for x = 1 and (-700, 700) for x = -1; W2 sends a2 to z3 = +-700
    params = {"W1": np.array([[700.0, -700.0]]), "b1": np.zeros((1, 2)),
              "W2": np.array([[700.0, -700.0], [-700.0, 700.0]]), "b2": np.zeros((1, 2))}
    X, Y = np.array([[1.0], [-1.0]]), np.array([[0.0, 1.0], [0.0, 1.0]])  # first wrong, second right
    route = derived_gradient_function(spec)
    z, _ = route.forward(params, X, Y)
    assert np.max(np.abs(z[2])) == 700.0 and np.max(np.abs(z[3])) >= 700.0
    derived, hand = route(params, X, Y), backprop(spec, params, X, Y)
    assert np.isfinite(derived.cost) and derived.cost > 600.0  # the wrong example costs ~1400
    assert all(np.all(np.isfinite(g)) for g in derived.gradients.values())
    assert abs(derived.cost - hand.cost) <= 1e-12 * hand.cost
    for name, gradient in hand.gradients.items():
        assert np.max(np.abs(derived.gradients[name] - gradient)) <= 1e-12 * max(1.0, np.max(np.abs(gradient)))
