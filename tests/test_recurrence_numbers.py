"""Three routes at cs231n's RNN check point; truncated BPTT; the vanishing gradient in numbers."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from checks.recurrence.check import check_sequence, cs231n_point, derived_route, hand_written_route
from derive.recurrence.derivation import derive_recurrence
from derive.recurrence.mistakes import last_step_only, recursion_cut
from derive.recurrence.vanishing import gradient_norms


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("convention", ["column", "row"])
@pytest.mark.parametrize("cost", ["half_sse", "cross_entropy"])
def test_derived_hand_written_and_finite_differences_agree(kind, convention, cost):
    verdict = check_sequence(cs231n_point(kind, convention, cost=cost))
    assert verdict.agree, [c for c in verdict.comparisons if not c.agree]


@pytest.mark.parametrize("mistake", [recursion_cut, last_step_only])
def test_the_check_disagrees_when_the_derived_route_has_a_planted_mistake(mistake):
    verdict = check_sequence(cs231n_point("rnn"), derivation=mistake(derive_recurrence("rnn")))
    assert not verdict.agree


@given(steps=st.integers(1, 6), hidden=st.integers(1, 5), inputs=st.integers(1, 4), outputs=st.integers(1, 3),
       kind=st.sampled_from(["rnn", "lstm"]), convention=st.sampled_from(["column", "row"]))
@settings(max_examples=25, deadline=None)
def test_derived_equals_hand_written_at_random_sizes(steps, hidden, inputs, outputs, kind, convention):
    point = cs231n_point(kind, convention, examples=2, steps=steps, inputs=inputs, hidden=hidden, outputs=outputs)
    derived, hand = derived_route(point), hand_written_route(point)
    for name in derived:
        assert np.allclose(derived[name], hand[name], rtol=1e-10, atol=1e-12), name


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_truncation_to_every_step_is_full_backprop_through_time(kind):
    point = cs231n_point(kind, steps=6)
    full, truncated = derived_route(point), derived_route(point, truncate=6)
    assert all(np.allclose(full[n], truncated[n], rtol=1e-12, atol=1e-14) for n in full)


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_truncated_bptt_agrees_with_the_hand_written_truncation_and_differs_from_full(kind):
    verdict = check_sequence(cs231n_point(kind, steps=8), truncate=2)
    assert verdict.truncation.agree
    assert dict(verdict.truncation.distance)["W_xh" if kind == "rnn" else "W_xf"] > 1e-3


def test_a_tanh_rnns_gradient_vanishes_where_an_lstms_is_carried_by_the_cell():
    norms = gradient_norms()
    rnn_decay, lstm_decay = norms.rnn[-1] / norms.rnn[0], norms.lstm[-1] / norms.lstm[0]
    assert rnn_decay > 1e5 and lstm_decay < 1e3


@pytest.mark.parametrize("kind", ["rnn", "lstm"])
@pytest.mark.parametrize("convention", ["column", "row"])
def test_the_generated_numpy_source_computes_what_the_step_by_step_evaluator_computes(kind, convention):
    from derive.recurrence.codegen import compile_layer
    from derive.recurrence.evaluate import float_functions, run_backward, run_forward

    derivation = derive_recurrence(kind, convention)
    point = cs231n_point(kind, convention, steps=5)
    column = convention == "column"
    xs = [point.x[:, s, :].T if column else point.x[:, s, :] for s in range(point.steps)]
    initial = {"h": point.h0.T if column else point.h0}
    if kind == "lstm":
        initial["c"] = point.c0.T if column else point.c0
    forward, backward = compile_layer(derivation)
    cache = forward(point.params, xs, initial)
    dys = [np.random.default_rng(s).standard_normal(cache["y"][1].shape) for s in range(point.steps)]
    generated = backward(point.params, cache, dys)
    functions = float_functions()
    stepped = run_backward(derivation, point.params, run_forward(derivation, point.params, xs, initial, functions),
                           dys, functions)
    for name in stepped:
        assert np.allclose(np.asarray(generated[name]), np.asarray(stepped[name]), rtol=1e-12, atol=1e-14), name


def test_the_stacked_network_backward_matches_finite_differences_of_its_forward():
    # two routes: the generated backward vs central differences of the generated forward's J
    from derive.recurrence.codegen import compile_layer

    forward, backward = compile_layer(derive_recurrence("stacked"))
    rng = np.random.default_rng(0)
    H, D, M, T, B = 3, 2, 2, 4, 2
    params = {"W_xh1": rng.standard_normal((H, D)), "W_hh1": rng.standard_normal((H, H)),
              "b1": rng.standard_normal((H, 1)), "W_xh2": rng.standard_normal((H, H)),
              "W_hh2": rng.standard_normal((H, H)), "b2": rng.standard_normal((H, 1)),
              "W_hy": rng.standard_normal((M, H)), "c": rng.standard_normal((M, 1))}
    xs = [rng.standard_normal((D, B)) for _ in range(T)]
    initial = {"h1": rng.standard_normal((H, B)), "h2": rng.standard_normal((H, B))}
    dys = [rng.standard_normal((M, B)) for _ in range(T)]

    def cost():
        ys = forward(params, xs, initial)["y"][1:T + 1]
        return sum(float(np.sum(dy * y)) for dy, y in zip(dys, ys))

    gradients = backward(params, forward(params, xs, initial), dys)
    for name, array in params.items():
        numeric = np.zeros_like(array)
        for index in np.ndindex(*array.shape):
            kept = array[index]
            array[index] = kept + 1e-6
            plus = cost()
            array[index] = kept - 1e-6
            numeric[index] = (plus - cost()) / 2e-6
            array[index] = kept
        assert np.allclose(gradients[name], numeric, rtol=1e-6, atol=1e-8), name
