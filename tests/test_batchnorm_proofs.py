"""Each proof of the normalisation gradients holds for the derived formulas and fails on planted bugs."""

from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.normalization import (
    derive_normalization, prove_entrywise, prove_index_level, prove_randomized)
from derive.normalization import matrix_expression as mx
from derive.normalization.mistakes import mean_path_dropped, variance_path_dropped, with_gradient

LAYERS = [("batch", False), ("batch", True), ("layer", False), ("layer", True)]
PROOFS = [prove_entrywise, prove_randomized, prove_index_level]


@lru_cache(maxsize=None)
def derived(kind="batch", unbiased=False):
    return derive_normalization(kind, unbiased)


@pytest.mark.parametrize("kind, unbiased", LAYERS)
@pytest.mark.parametrize("proof", PROOFS, ids=lambda f: f.__name__)
def test_every_proof_holds_for_every_derived_layer(proof, kind, unbiased):
    result = proof(derived(kind, unbiased))
    assert result.holds, result.text()
    assert result.checked == ("dX", "dgamma", "dbeta")


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("proof", PROOFS, ids=lambda f: f.__name__)
def test_every_proof_fails_when_the_mu_path_is_dropped(proof, kind):
    result = proof(mean_path_dropped(derived(kind)))
    assert not result.holds and result.first_failure.startswith("dX")


@pytest.mark.parametrize("proof", PROOFS, ids=lambda f: f.__name__)
def test_every_proof_fails_when_the_variance_path_is_dropped(proof):
    result = proof(variance_path_dropped(derived("batch")))
    assert not result.holds and "dX" in result.first_failure


@pytest.mark.parametrize("proof", PROOFS, ids=lambda f: f.__name__)
def test_every_proof_names_dgamma_when_it_lacks_x_hat(proof):
    # a classic slip: dgamma = 1^T G, the bias gradient
    wrong = with_gradient(derived("batch"), "dgamma", derived("batch").dbeta.matrix)
    result = proof(wrong)
    assert not result.holds and result.first_failure.startswith("dgamma")


@pytest.mark.parametrize("proof", PROOFS, ids=lambda f: f.__name__)
def test_every_proof_catches_the_biased_formula_used_for_the_unbiased_variance(proof):
    wrong = with_gradient(derived("batch", True), "dX", derived("batch").dX.matrix)
    assert not proof(wrong).holds


def test_entrywise_failure_names_the_entry_and_the_size():
    result = prove_entrywise(mean_path_dropped(derived("batch")))
    assert "d J / d x_0_0" in result.first_failure and "3 x 2" in result.first_failure


def test_index_level_failure_shows_what_is_left_over():
    result = prove_index_level(mean_path_dropped(derived("batch")))
    assert "Sum(G[k, q], (k, 0, N - 1))" in result.first_failure


def test_randomized_proof_holds_at_a_size_beyond_the_entrywise_oracle():
    assert prove_randomized(derived("batch"), examples=64, features=32, trials=3, seed=7).holds


def test_randomized_proof_catches_a_coefficient_off_by_one_part_in_a_thousand():
    # float64 comparison at 1e-9 would not notice 1e-12; exact arithmetic notices any change
    product = derived("batch").dX.matrix
    nudged = mx.Product((mx.Number(1000000000001, 1000000000000),) + product.factors)
    assert not prove_randomized(with_gradient(derived("batch"), "dX", nudged)).holds


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(["batch", "layer"]), examples=st.integers(2, 6), features=st.integers(2, 6),
       seed=st.integers(0, 10**6))
def test_randomized_proof_holds_at_random_small_sizes(kind, examples, features, seed):
    assert prove_randomized(derived(kind), examples, features, trials=1, seed=seed).holds


def test_gradient_evaluates_in_gf_p_as_its_rational_value_reduced_mod_p():
    # two routes to one number: exact rationals (SymPy) reduced mod p, and GF(p) arithmetic
    import numpy as np
    import sympy as sp

    from derive.proofs.modular import PRIME, inverse
    gradient = derived("batch").dX
    rng = np.random.default_rng(3)
    ints = {name: rng.integers(1, 50, size=shape).astype(object) for name, shape in
            [("G", (4, 3)), ("Xhat", (4, 3)), ("gamma", (1, 3)), ("s", (1, 3))]}
    rational = gradient.evaluate({**{k: np.vectorize(sp.Integer, otypes=[object])(v) for k, v in ints.items()},
                                  "N": 4, "D": 3}, mx.SymbolicArithmetic())
    modular = gradient.evaluate({**ints, "N": 4, "D": 3}, mx.ModularArithmetic())
    for exact, in_field in zip(np.ravel(rational), np.ravel(modular)):
        assert int(exact.p) * inverse(int(exact.q)) % PRIME == in_field


@pytest.mark.slow
@pytest.mark.parametrize("kind, examples, features", [("batch", 4, 3), ("layer", 2, 4), ("layer", 3, 3)])
def test_entrywise_proof_holds_at_other_small_sizes(kind, examples, features):
    assert prove_entrywise(derived(kind), examples, features).holds
