"""The derived normalisation gradients against an independent hand-written NumPy backward pass."""

import ast
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from checks.handwritten import normalization as reference
from derive.normalization import derive_normalization, evaluate_gradients

LAYERS = [("batch", False), ("batch", True), ("layer", False), ("layer", True)]
NAMES = ("dX", "dgamma", "dbeta")

# Hand-written backward and finite differences agree to ~1e-13..1e-9 (measured over seeds; the
# five-point stencil's error, see checks/handwritten/normalization.py); the cs231n target is ~1e-9 or better.
GRADIENT_CHECK_TOLERANCE = 1e-8
# Two exact formulas in float64 differ only by rounding: a few hundred ulps on a small entry.
FORMULA_AGREEMENT_TOLERANCE = 1e-11


@lru_cache(maxsize=None)
def derived(kind="batch", unbiased=False):
    return derive_normalization(kind, unbiased)


def _inputs(seed, examples=5, features=4):
    rng = np.random.default_rng(seed)
    # cs231n's batch-norm check: inputs far from 0 and 1, so centring and scaling both matter
    X = 5 * rng.normal(size=(examples, features)) + 12
    return X, rng.normal(size=features), rng.normal(size=features), rng.normal(size=(examples, features))


@pytest.mark.parametrize("kind, unbiased", LAYERS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hand_written_backward_passes_the_cs231n_gradient_check(kind, unbiased, seed):
    X, gamma, beta, G = _inputs(seed)
    _, cache = reference.forward(kind, X, gamma, beta, 1e-5, unbiased)
    by_hand = reference.backward(G, cache)
    numeric = reference.finite_difference_gradients(kind, X, gamma, beta, G, 1e-5, unbiased)
    for name, a, b in zip(NAMES, by_hand, numeric):
        assert reference.rel_error(a, b) < GRADIENT_CHECK_TOLERANCE, name


@pytest.mark.parametrize("kind, unbiased", LAYERS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_derived_formula_agrees_with_the_hand_written_backward(kind, unbiased, seed):
    X, gamma, beta, G = _inputs(seed)
    by_hand = reference.backward(G, reference.forward(kind, X, gamma, beta, 1e-5, unbiased)[1])
    formula = evaluate_gradients(derived(kind, unbiased), X, gamma, G, 1e-5)
    for name, expected in zip(NAMES, by_hand):
        assert formula[name].shape == expected.shape
        assert reference.rel_error(formula[name], expected) < FORMULA_AGREEMENT_TOLERANCE, name


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_derived_formula_passes_the_finite_difference_check_directly(kind):
    X, gamma, beta, G = _inputs(3, examples=4, features=3)
    formula = evaluate_gradients(derived(kind), X, gamma, G, 1e-5)
    numeric = reference.finite_difference_gradients(kind, X, gamma, beta, G, 1e-5)
    for name, expected in zip(NAMES, numeric):
        assert reference.rel_error(formula[name], expected) < GRADIENT_CHECK_TOLERANCE, name


def test_gradient_check_rejects_the_formula_without_the_mu_path():
    from derive.normalization.mistakes import mean_path_dropped
    X, gamma, beta, G = _inputs(4)
    wrong = evaluate_gradients(mean_path_dropped(derived("batch")), X, gamma, G, 1e-5)
    numeric = reference.finite_difference_gradients("batch", X, gamma, beta, G, 1e-5)
    assert reference.rel_error(wrong["dX"], numeric[0]) > 1e-3


def test_batch_norm_dx_sums_to_zero_over_the_batch():
    # shifting every example by the same vector leaves Y unchanged, so sum_n dX[n] = 0
    X, gamma, _, G = _inputs(5)
    assert np.allclose(evaluate_gradients(derived("batch"), X, gamma, G)["dX"].sum(axis=0), 0, atol=1e-12)


def test_reference_module_imports_numpy_only():
    tree = ast.parse(Path(reference.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"numpy", "__future__"}
