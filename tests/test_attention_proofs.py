"""The three proofs (and FlashAttention's identity) hold for the derived formulas and catch each planted mistake."""

import pytest

from derive.attention import EMBEDDING, ONE_HEAD, RESIDUAL, derive_program
from derive.attention import matrix_form as mf
from derive.attention import mistakes, proofs


@pytest.fixture(scope="module")
def one_head():
    return derive_program(ONE_HEAD)


@pytest.fixture(scope="module")
def residual():
    return derive_program(RESIDUAL)


@pytest.mark.parametrize("stages", [ONE_HEAD, RESIDUAL, EMBEDDING], ids=["attention", "residual", "embedding"])
def test_every_proof_holds_for_the_derived_gradients(stages):
    results = proofs.prove_all(derive_program(stages))
    assert all(r.holds for r in results), [r.text() for r in results]
    assert len(results) == 3


def test_flash_attentions_identity_holds(one_head):
    assert proofs.prove_flash_identity(one_head).holds


def test_flash_identity_fails_for_a_wrong_dp(one_head):
    wrong = one_head.replace("dP", mf.MatMul(mf.Leaf("dO"), mf.Leaf("V")))  # V where V^T belongs
    assert not proofs.prove_flash_identity(wrong).holds


PLANTED = [mistakes.rowsum_dropped, mistakes.scale_forgotten, mistakes.dq_transposed, mistakes.dk_untransposed]


@pytest.mark.parametrize("edit", PLANTED, ids=lambda e: e.__name__)
def test_entrywise_proof_catches_the_planted_mistake(one_head, edit):
    assert not proofs.prove_stages_entrywise(edit(one_head)).holds


@pytest.mark.parametrize("edit", PLANTED + [mistakes.mask_dropped], ids=lambda e: e.__name__)
def test_randomized_proof_catches_the_planted_mistake(one_head, edit):
    assert not proofs.prove_randomized(edit(one_head), causal=True).holds


@pytest.mark.parametrize("edit", PLANTED, ids=lambda e: e.__name__)
def test_index_level_proof_catches_the_planted_mistake(one_head, edit):
    assert not proofs.prove_index_level(edit(one_head)).holds


def test_every_proof_catches_the_dropped_identity_path(residual):
    planted = mistakes.identity_path_dropped(residual)
    assert not proofs.prove_randomized(planted).holds
    assert not proofs.prove_stages_entrywise(planted).holds  # dX's matrix no longer sums its paths' forms


def test_randomized_proof_catches_overwritten_repeated_tokens():
    planted = mistakes.repeats_overwritten(derive_program(EMBEDDING))
    with pytest.raises(KeyError):  # the overwritten one-hot is a leaf only verify supplies: the proof cannot
        proofs.prove_randomized_embedding(planted)  # even evaluate it, let alone pass it


def test_a_mask_that_is_not_applied_is_invisible_without_a_mask(one_head):
    # what the causal runs above catch needs a mask: with none, P_unmasked is P
    assert proofs.prove_randomized(mistakes.mask_dropped(one_head), causal=False).holds


@pytest.mark.slow
@pytest.mark.parametrize("causal, tokens", [(True, 3), (False, 2)])  # unmasked at T = 3: minutes
def test_whole_block_entrywise_against_sympys_diff(residual, causal, tokens):
    assert proofs.prove_block_entrywise(residual, 1, causal, dict(proofs.TINY, T=tokens)).holds


def test_whole_block_entrywise_catches_a_planted_mistake_at_two_tokens(residual):
    planted = mistakes.scale_forgotten(residual)
    assert not proofs.prove_block_entrywise(planted, 1, True, dict(proofs.TINY, T=2)).holds
