"""Three routes (derived, hand-written NumPy, finite differences) agree, and disagree on a planted mistake."""

import numpy as np
import pytest

from checks.attention import reference
from checks.attention.check import check_attention, check_embedding, default_embedding_point, default_point
from derive.attention import EMBEDDING, ONE_HEAD, RESIDUAL, derive_program, mistakes


@pytest.mark.parametrize("heads, causal, residual", [(1, False, False), (2, True, False), (2, True, True)])
def test_three_routes_agree_on_the_derived_block(heads, causal, residual):
    verdict = check_attention(default_point(5, 6, heads, causal, seed=1), residual)
    assert verdict.agree, verdict.text()


def test_three_routes_agree_on_the_embedding_with_repeated_tokens():
    point = default_embedding_point((1, 1, 3, 1, 0), 5, 3)
    verdict = check_embedding(point)
    assert verdict.agree, verdict.text()


@pytest.mark.parametrize("edit", [mistakes.rowsum_dropped, mistakes.scale_forgotten, mistakes.dq_transposed,
                                  mistakes.dk_untransposed, mistakes.mask_dropped], ids=lambda e: e.__name__)
def test_a_planted_mistake_makes_the_routes_disagree(edit):
    verdict = check_attention(default_point(4, 4, 1, True), program=edit(derive_program(ONE_HEAD)))
    assert not verdict.agree and "DISAGREE" in verdict.text()


def test_dropped_identity_path_makes_the_residual_routes_disagree():
    planted = mistakes.identity_path_dropped(derive_program(RESIDUAL))
    assert not check_attention(default_point(4, 4, 1, False), True, program=planted).agree


def test_overwritten_repeats_make_the_embedding_routes_disagree():
    planted = mistakes.repeats_overwritten(derive_program(EMBEDDING))
    assert not check_embedding(default_embedding_point((0, 2, 2, 1, 2), 4, 3), program=planted).agree


def test_hand_written_softmax_backward_builds_the_jacobian_and_still_agrees_with_the_compact_form():
    rng = np.random.default_rng(0)
    P = reference.softmax_rows(rng.standard_normal((3, 3)), np.ones((3, 3), dtype=bool))
    dP = rng.standard_normal((3, 3))
    compact = P * (dP - (P * dP).sum(axis=1, keepdims=True))
    by_jacobian = np.stack([(np.diag(p) - np.outer(p, p)) @ g for p, g in zip(P, dP)])
    assert np.allclose(compact, by_jacobian, atol=1e-15)


def test_finite_differences_see_a_wrong_gradient():
    point = default_point(3, 2, 1, False)
    fd_dX, _ = reference.finite_difference_gradients(point.X, list(point.heads), point.mask, point.dout)
    _, cache = reference.forward(point.X, list(point.heads), point.mask)
    dX, _ = reference.backward(point.dout, cache)
    assert reference.rel_error(fd_dX, dX) < 1e-7 and reference.rel_error(fd_dX, 1.01 * dX) > 1e-3
