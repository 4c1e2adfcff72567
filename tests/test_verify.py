"""verify(): three routes agree on correct code and name the layer of a planted bug."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checks.inputs import data
from checks.handwritten import network as nb
from checks.routes.derived import NotNumeric
from checks.routes.three_routes import (ANALYTIC_TOLERANCE, ENTRYWISE_Z_LIMIT, FULL_DIFFERENCE_LIMIT, KINK_MARGIN,
                           verify)
from derive.network.spec import XOR_SPEC, NetworkSpec
from tests.spec_strategies import NUMERIC_HIDDEN, NUMERIC_OUTPUT_COST

pytestmark = pytest.mark.filterwarnings("error")

# Each planted bug changes a gradient by a factor of order 1; the verdict's tolerances (1e-9 between
# analytic routes, 1e-7 + 1e-5 relative against finite differences) are far below that. A bug must
# show an error of at least this relative size at the reported worst entry:
PLANTED_BUG_MINIMUM_RELATIVE_ERROR = 1e-3

# every numeric activation and (output, cost) pair of the tables: a new entry is drawn here too
HIDDEN, OUTPUT_COST = NUMERIC_HIDDEN, NUMERIC_OUTPUT_COST

# derive_rule is the slow part (0.05-0.5 s per spec): few examples, small widths.
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@st.composite
def networks(draw):
    depth = draw(st.integers(2, 4))
    sizes = tuple(draw(st.integers(1, 3)) for _ in range(depth))
    output, cost_name = draw(st.sampled_from(OUTPUT_COST))
    if output == "softmax" and sizes[-1] == 1:
        sizes = sizes[:-1] + (2,)
    activations = tuple(draw(st.sampled_from(HIDDEN)) for _ in range(depth - 2)) + (output,)
    return NetworkSpec(sizes, activations, cost=cost_name,
                       reduction=draw(st.sampled_from(("sum", "mean"))),
                       bias=draw(st.sampled_from(("none", "vector", "unit"))),
                       convention=draw(st.sampled_from(("row", "column"))),
                       m=draw(st.integers(1, 4)), l2=draw(st.sampled_from((0.0, 0.3)))), \
        draw(st.integers(0, 2**16))


@PROPERTY
@given(networks())
def test_derived_hand_written_and_finite_differences_agree_across_random_architectures(network):
    spec, seed = network
    verdict = verify(spec, seed=seed, entrywise=False)
    assume(verdict.finite_differences_decide)  # a relu pre-activation on its kink: no numeric verdict
    assert verdict.agree, [(p.name, p.values, p.disagreeing_pairs) for p in verdict.parameters if not p.agree]
    assert verdict.finite_differences == "full"


@pytest.mark.parametrize("spec", [
    XOR_SPEC,
    NetworkSpec((2, 2, 2), ("tanh", "softmax"), cost="cce", bias="vector", reduction="mean", m=3),
    NetworkSpec((2, 2, 1), ("relu", "sigmoid"), cost="bce", bias="unit", convention="column", l2=0.3, m=3),
], ids=lambda s: f"{s.slug}-{s.activations[-1]}-{s.cost}")
def test_the_entrywise_oracle_joins_and_agrees_for_small_nets(spec):
    verdict = verify(spec, seed=1)
    assert "entrywise" in verdict.routes and verdict.agree
    assert all("entrywise" in p.values for p in verdict.parameters)


def test_a_large_net_is_checked_along_random_directions_and_still_catches_a_bug():
    spec = NetworkSpec((40, 30, 5), ("tanh", "softmax"), cost="cce", bias="vector", reduction="mean", m=8)
    assert spec.parameter_count > FULL_DIFFERENCE_LIMIT
    verdict = verify(spec)
    assert verdict.finite_differences == "directions" and verdict.agree
    assert "entrywise" not in verdict.routes
    bug = verify(spec, hand_written=planted(sign_flip="W2"))
    assert bug.disagreeing == ("W2",) and bug.parameter("W2").odd_route == "hand_written"


# --- the checker can fail ------------------------------------------------------------------------


def planted(transpose_missing=False, f_prime_of_a=False, sign_flip=None):
    """The hand-written backprop rebuilt from its pieces, with one deliberate bug (row form)."""

    def buggy(spec, params, X, Y):
        params = nb.check_params(spec, params)
        X, Y = nb.check_data(spec, X, Y)
        passes = nb.forward(spec, params, X)
        L, m = len(spec.sizes), X.shape[0]
        scale = 1.0 / m if spec.reduction == "mean" else 1.0
        deltas = {L: nb.output_delta(spec, passes.z[L], Y) * scale}
        for layer in range(L - 1, 1, -1):
            W, delta_next = params[f"W{layer}"], deltas[layer + 1]
            back = delta_next @ (W if transpose_missing else W.T)
            derivative = nb.ACTIVATIONS[spec.activation(layer)].derivative
            deltas[layer] = back * derivative(passes.a[layer] if f_prime_of_a else passes.z[layer])
        gradients = {}
        for layer in range(1, L):
            gradients[f"W{layer}"] = nb.weight_gradient(spec, passes.a[layer], deltas[layer + 1])
            if spec.bias == "vector":
                gradients[f"b{layer}"] = nb.bias_gradient(spec, deltas[layer + 1])
        if sign_flip:
            gradients[sign_flip] = -gradients[sign_flip]
        return nb.Backprop(cost=nb.cost(spec, params, X, Y), gradients=gradients, deltas=deltas)

    return buggy


SQUARE = NetworkSpec((3, 3, 3, 3), ("sigmoid", "sigmoid", "sigmoid"), cost="half_sse", m=4)


def test_the_unplanted_rebuild_agrees_so_the_bugs_below_are_the_only_difference():
    assert verify(SQUARE, hand_written=planted()).agree


@pytest.mark.parametrize("bug, wrong, right", [
    # delta3 @ W3 instead of delta3 @ W3^T: delta3 is wrong, so is every gradient below layer 3
    (dict(transpose_missing=True), ("W1", "W2"), ("W3",)),
    (dict(sign_flip="W2"), ("W2",), ("W1", "W3")),
    # sigma'(a) instead of sigma'(z) in the hidden deltas: the output layer's gradient stays right
    (dict(f_prime_of_a=True), ("W1", "W2"), ("W3",)),
], ids=["missing transpose", "sign flip", "f'(a) for f'(z)"])
def test_a_planted_bug_is_reported_at_its_layer_with_the_hand_written_route_as_the_odd_one(bug, wrong, right):
    verdict = verify(SQUARE, seed=3, hand_written=planted(**bug))
    assert not verdict.agree
    assert verdict.disagreeing == wrong
    for name in right:
        assert verdict.parameter(name).agree
    for name in wrong:
        parameter = verdict.parameter(name)
        assert parameter.odd_route == "hand_written"
        assert abs(parameter.derived - parameter.numeric) <= 1e-7 + 1e-5 * abs(parameter.numeric)
        assert parameter.relative_error >= PLANTED_BUG_MINIMUM_RELATIVE_ERROR
        assert set(parameter.disagreeing_pairs) == {("derived", "hand_written"),
                                                   ("hand_written", "finite_differences"),
                                                   ("hand_written", "entrywise")} - \
            ({("hand_written", "entrywise")} if "entrywise" not in verdict.routes else set())


def test_the_worst_entry_of_a_sign_flip_shows_three_values_two_of_which_agree():
    parameter = verify(XOR_SPEC, hand_written=planted(sign_flip="W1")).parameter("W1")
    assert parameter.hand_written == pytest.approx(-parameter.derived, rel=ANALYTIC_TOLERANCE)
    assert parameter.numeric == pytest.approx(parameter.derived, rel=1e-5)
    assert parameter.derived != 0.0


# --- numbers at the edge ---------------------------------------------------------------------------


def test_verify_is_stable_at_z_700_without_warnings():
    from tests.test_derived_route import SATURATING_SPECS, saturating_point

    for spec in SATURATING_SPECS:
        params, X, Y = saturating_point(spec)
        verdict = verify(spec, params, (X, Y))
        assert verdict.agree, spec
        assert all(np.isfinite(c) for c in verdict.costs.values())
        assert "entrywise" not in verdict.routes  # |z| beyond ENTRYWISE_Z_LIMIT: its formulas overflow
        assert ENTRYWISE_Z_LIMIT < 350.0


def test_a_relu_on_its_kink_leaves_finite_differences_out_of_the_verdict():
    spec = NetworkSpec((2, 2, 1), ("relu", "sigmoid"), m=4)
    X, Y = data.xor_data()  # the example (0, 0) puts z2 exactly on the kink (no biases)
    verdict = verify(spec, data.random_params(spec, 0), (X, Y))
    assert not verdict.finite_differences_decide
    assert any(f"within {KINK_MARGIN:g}" in note for note in verdict.notes)


def test_softmax_targets_that_do_not_sum_to_one_are_refused_with_the_example():
    spec = NetworkSpec((2, 3), ("softmax",), cost="cce", m=2)
    X, Y = np.ones((2, 2)), np.array([[1.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    with pytest.raises(ValueError, match="example 1 sums to 0.5"):
        verify(spec, data.random_params(spec, 0), (X, Y))


def test_the_generic_activation_f_is_refused():
    with pytest.raises(NotNumeric):
        verify(NetworkSpec((2, 2, 1), ("f", "sigmoid")))


def test_the_same_seed_gives_the_same_verdict_and_the_data_sets_m():
    first, second = verify(XOR_SPEC, seed=5), verify(XOR_SPEC, seed=5)
    assert [p.values for p in first.parameters] == [p.values for p in second.parameters]
    X, Y = data.random_data(XOR_SPEC, 7, rng=1)
    assert verify(XOR_SPEC, data=(X, Y)).spec.m == 7


def test_bad_parameters_are_refused_by_name_and_shape():
    with pytest.raises(ValueError, match=r"W2 has shape \(1, 3\); expected \(3, 1\)"):
        verify(XOR_SPEC, {"W1": np.ones((2, 3)), "W2": np.ones((1, 3))})


@pytest.mark.slow
@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.integers(1, 8),
                 st.sampled_from(OUTPUT_COST), st.sampled_from(HIDDEN), st.integers(0, 2**16)))
def test_wider_nets_agree_with_the_entrywise_oracle_where_it_is_affordable(case):
    n_in, hidden, n_out, m, (output, cost_name), activation, seed = case
    n_out = max(n_out, 2) if output == "softmax" else n_out
    spec = NetworkSpec((n_in, hidden, n_out), (activation, output), cost=cost_name, bias="vector", m=m)
    verdict = verify(spec, seed=seed)
    assume(verdict.finite_differences_decide)
    assert verdict.agree


def test_a_sign_flip_in_a_tiny_gradient_is_caught_where_finite_differences_cannot_see_it():
    spec = NetworkSpec((2, 3, 1), ("tanh", "identity"), m=4)
    X, Y = 1e-6 * data.random_data(spec, rng=2)[0], np.zeros((4, 1))  # gradients ~ 1e-12
    verdict = verify(spec, data.random_params(spec, 2), (X, Y), hand_written=planted(sign_flip="W1"))
    parameter = verdict.parameter("W1")
    assert abs(parameter.derived) < 1e-9 and parameter.derived != 0.0
    # the analytic routes catch it; finite differences (1e-7 absolute) agree with both signs
    assert set(parameter.disagreeing_pairs) == {("derived", "hand_written"), ("hand_written", "entrywise")}
    assert verdict.disagreeing == ("W1",) and not verdict.agree
