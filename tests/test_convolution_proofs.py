"""Each proof of the convolution and pooling gradients holds, and fails on planted bugs."""

from dataclasses import replace
from functools import lru_cache

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.convolution import proofs
from derive.convolution.derivation import LayerGradients, derive_convolution
from derive.convolution.forward import AXES, STRIDE, W
from derive.convolution.layer import make_layer
from derive.convolution.matrix_form import MatrixGradient, Product

TINY = {
    "conv2d": make_layer("conv2d", 1, 2, (5, 4), (3, 2), stride=2, padding=1, filters=2),
    "conv1d": make_layer("conv1d", 2, 2, (6,), (3,), stride=2, padding=1, filters=2),
    "maxpool": make_layer("maxpool", 1, 2, (4, 4), (2, 2), stride=2),
    "avgpool": make_layer("avgpool", 1, 2, (5, 5), (3, 3), stride=2),
}
REALISTIC = {
    "conv2d": make_layer("conv2d", 2, 3, (9, 8), (3, 3), stride=2, padding=1, filters=4),
    "conv1d": make_layer("conv1d", 2, 3, (30,), (3,), stride=2, padding=1, filters=4),
    "maxpool": make_layer("maxpool", 2, 3, (8, 8), (2, 2), stride=2),
    "avgpool": make_layer("avgpool", 2, 3, (9, 9), (3, 3), stride=2),
}
KINDS = tuple(TINY)


@lru_cache(maxsize=None)
def derived(kind):
    return derive_convolution(kind)


def run(proof, gradients, kind):
    if proof is proofs.prove_entrywise:
        return proof(gradients, TINY[kind])
    if proof is proofs.prove_randomized:
        return proof(gradients, REALISTIC[kind])
    return proof(gradients)


def edited(gradients: LayerGradients, name: str, edit) -> LayerGradients:
    """The derivation with one gradient's collapsed terms edited (a planted bug)."""
    return LayerGradients(gradients.layer, tuple(
        replace(g, collapsed=tuple(replace(t, coefficient=edit(t.coefficient)) for t in g.collapsed))
        if g.name == name else g for g in gradients.gradients))


def unflipped(coefficient):
    """W[f, c, u, v] -> W[f, c, K_h - 1 - u, K_w - 1 - v]: correlation where convolution is needed."""
    return coefficient.replace(lambda e: isinstance(e, sp.Indexed) and e.base == W,
                               lambda e: W[e.indices[:2] + tuple(a[2] - 1 - k for a, k in zip(AXES[len(e.indices) - 2], e.indices[2:]))])


PROOFS = [proofs.prove_entrywise, proofs.prove_randomized]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("proof", PROOFS + [proofs.prove_index_level], ids=lambda f: f.__name__)
def test_every_proof_holds_for_every_derived_layer(proof, kind):
    result = run(proof, derived(kind), kind)
    assert result.holds, result.text()


@pytest.mark.parametrize("kind", ["conv2d", "conv1d"])
@pytest.mark.parametrize("proof", PROOFS, ids=lambda f: f.__name__)
def test_every_numeric_proof_catches_an_unflipped_kernel(proof, kind):
    result = run(proof, edited(derived(kind), "dX", unflipped), kind)
    assert not result.holds and result.first_failure.startswith("dX (index form)")


@pytest.mark.parametrize("proof", PROOFS, ids=lambda f: f.__name__)
def test_every_numeric_proof_catches_a_missing_max_pool_selector(proof):
    everywhere = edited(derived("maxpool"), "dX", lambda e: e.replace(
        lambda a: isinstance(a, sp.Indexed) and a.base.name == "S", lambda a: sp.Integer(1)))
    assert not run(proof, everywhere, "maxpool").holds


def test_the_index_level_proof_catches_an_unflipped_kernel():
    assert not proofs.prove_index_level(edited(derived("conv2d"), "dX", unflipped)).holds


def test_the_index_level_proof_catches_a_stride_ignored():
    ignored = edited(derived("conv2d"), "dX", lambda e: e.xreplace({STRIDE: 1}))
    assert not proofs.prove_index_level(ignored).holds


def test_the_index_level_proof_catches_a_matrix_form_read_without_its_transpose(monkeypatch):
    dX, dW, db = proofs.find_matrix_forms(True)
    wrong = (MatrixGradient("dX", dX.flat, Product("W_col", False, "G_col"), True), dW, db)
    monkeypatch.setattr(proofs, "find_matrix_forms", lambda is_convolution: wrong)
    result = proofs.prove_index_level(derived("conv2d"))
    assert not result.holds and "does not fit" in result.first_failure


def test_the_randomized_proof_covers_the_issues_28_by_28_layer_with_eight_filters():
    layer = make_layer("conv2d", 1, 1, (28, 28), (3, 3), stride=1, padding=1, filters=8)
    assert proofs.prove_randomized(derived("conv2d"), layer).holds


@settings(max_examples=8, deadline=None)
@given(size=st.integers(3, 9), kernel=st.integers(1, 3), stride=st.integers(1, 3), padding=st.integers(0, 2),
       filters=st.integers(1, 3), channels=st.integers(1, 3))
def test_the_randomized_proof_holds_at_random_sizes(size, kernel, stride, padding, filters, channels):
    layer = make_layer("conv2d", 2, channels, (size, size + 1), (kernel, kernel), stride, padding, filters)
    assert proofs.prove_randomized(derived("conv2d"), layer).holds
