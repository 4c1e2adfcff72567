"""Seed 004's hand-written code, run as a function and checked by the tool."""

import math

import numpy as np
import pytest

from checks.published import seed004
@pytest.fixture(scope="module")
def report():
    return seed004.demonstration()


def intended_w11_gradient():
    """dJ/dw11 for the intended net, by hand in plain Python: (yhat - z) * z1 for sigmoid + BCE."""
    w = seed004.PRINTED_WEIGHTS
    x1, x2 = seed004.SEED_INPUT
    z1 = max(x1 * w["w1"] + x2 * w["w2"], 0.0)
    z2 = max(x1 * w["w12"] + x2 * w["w21"], 0.0)
    yhat = 1.0 / (1.0 + math.exp(-(z1 * w["w11"] + z2 * w["w22"])))
    return (yhat - seed004.SEED_TARGET) * z1


def test_the_seeded_weights_are_the_printed_table():
    assert seed004.initial_weights() == seed004.PRINTED_WEIGHTS


def test_the_cleaned_code_prints_what_the_post_printed():
    run = seed004.back_propagation(*seed004.SEED_INPUT, seed004.SEED_TARGET, 3)
    for done, (z_hat, ce, before, after) in zip(run, seed004.PRINTED_ITERATIONS):
        assert (done.z_hat, done.CE, done.w11_before) == pytest.approx((z_hat, ce, before), rel=1e-14)
        assert done.w11_after == pytest.approx(after, rel=1e-14)


def test_the_prose_figure_disagrees_with_the_printed_one(report):
    assert seed004.PROSE_W11_AFTER == 0.904
    assert report.rerun[0].w11_after == pytest.approx(0.0904578, abs=1e-7)
    assert "says w11 went from 0.026 to 0.904; its own printed output says 0.09045776247" in report.text()


def test_the_tool_names_the_forward_pass_typos_and_the_cost(report):
    verdict = report.cost_verdict
    assert not verdict.passed
    assert len(verdict.explanations) == 1
    named = {str(m) for m in verdict.explanations[0].mistakes}
    assert named == {
        "wrong cross-entropy term: -(y log(yhat) + (1 - y) log(yhat)): log(yhat) where log(1 - yhat) belongs",
        # f2 = x1*w12 + x2*w2: w2 = W1[1, 0] where w21 = W1[1, 1] belongs
        "a weight used in the wrong place: z2 uses W1[1, 0] where W1[1, 1] belongs (forward pass)",
        # f = z1*w11 + z2+w22: the sum z2 + w22 where the product z2*w22 belongs
        "+ typed for * in the forward pass: z3[:, 0] adds a2[:, 1] + W2[1, 0] where the product "
        "a2[:, 1] * W2[1, 0] belongs",
    }


def test_the_w11_gradient_is_wrong_for_the_same_three_reasons(report):
    verdict = report.gradient_verdict
    assert not verdict.passed
    assert [set(e.keys) for e in verdict.explanations] == [
        {"cross_entropy_term", "weight_misplaced", "product_as_sum"}]


def test_the_correct_w11_gradient_by_derivation_finite_differences_and_hand(report):
    assert report.derived_gradient == pytest.approx(intended_w11_gradient(), rel=1e-12)
    assert report.finite_difference == pytest.approx(report.derived_gradient, rel=1e-8)
    assert report.derived_gradient == pytest.approx(-0.1961064175, abs=1e-10)
    # what the post's code uses instead, at its own point: the typos change the forward pass
    assert report.seed_gradient == pytest.approx(-(1 - seed004.PRINTED_ITERATIONS[0][0]) * 0.4312, rel=1e-12)


def test_the_posts_cross_entropy_is_right_only_for_target_1():
    X, params = np.array([seed004.SEED_INPUT]), seed004.seed_params()
    z_hat = seed004.PRINTED_ITERATIONS[0][0]
    for target, right in ((1.0, -math.log(z_hat)), (0.0, -math.log(1 - z_hat))):
        seed_ce = seed004.seed_cost(X, np.array([[target]]), params["W1"], params["W2"])
        assert seed_ce == pytest.approx(-math.log(z_hat), rel=1e-12)
        assert (seed_ce == pytest.approx(right, rel=1e-12)) == (target == 1.0)


def test_the_report_shows_both_runs_side_by_side(report):
    text = report.text()
    assert "dJ/dw11: post -0.1289155249; derived -0.1961064175; finite differences -0.1961064175" in text
    assert "1: z_hat 0.7010307863 / 0.7010307863 / 0.5452077516" in text
