"""Bad input to the normalisation layers is a ValueError subclass that says what is accepted."""

import numpy as np
import pytest

from derive.normalization import (
    BatchTooSmallError, GammaShapeError, NormalizationInputError, SingleFeatureError,
    derive_normalization, evaluate_gradients, prove_entrywise, prove_randomized)
from checks.handwritten import normalization as reference
@pytest.fixture(scope="module")
def batch_norm():
    return derive_normalization("batch")


@pytest.fixture(scope="module")
def layer_norm():
    return derive_normalization("layer")


def test_batch_norm_of_one_example_says_the_variance_is_zero_and_only_epsilon_defines_it(batch_norm):
    with pytest.raises(BatchTooSmallError, match=r"N = 1.*variance is 0.*only because of epsilon.*N >= 2"):
        evaluate_gradients(batch_norm, np.ones((1, 3)), np.ones(3), np.ones((1, 3)))


def test_unbiased_batch_norm_of_one_example_says_it_divides_by_zero():
    with pytest.raises(BatchTooSmallError, match=r"N - 1 = 0"):
        prove_randomized(derive_normalization("batch", True), examples=1, features=3)


def test_entrywise_proof_refuses_a_batch_of_one(batch_norm):
    with pytest.raises(NormalizationInputError):
        prove_entrywise(batch_norm, examples=1, features=2)


@pytest.mark.parametrize("shape", [(2,), (3, 1), (1, 4), (4,)])
def test_gamma_of_the_wrong_shape_names_the_shape_it_needs(batch_norm, shape):
    with pytest.raises(GammaShapeError, match=r"must have shape \(3,\)"):
        evaluate_gradients(batch_norm, np.ones((4, 3)), np.ones(shape), np.ones((4, 3)))


def test_layer_norm_of_one_feature_says_the_output_is_beta(layer_norm):
    with pytest.raises(SingleFeatureError, match=r"D = 1.*output is beta.*D >= 2"):
        evaluate_gradients(layer_norm, np.ones((4, 1)), np.ones(1), np.ones((4, 1)))


def test_layer_norm_of_one_example_is_fine(layer_norm):
    X = np.array([[1.0, 2.0, 4.0]])
    assert evaluate_gradients(layer_norm, X, np.ones(3), np.ones((1, 3)))["dX"].shape == (1, 3)


@pytest.mark.parametrize("error", [BatchTooSmallError(1), SingleFeatureError(1), GammaShapeError("gamma", (2,), 3)])
def test_every_input_error_is_a_value_error(error):
    assert isinstance(error, NormalizationInputError) and isinstance(error, ValueError)


@pytest.mark.parametrize("kind, shape", [("batch", (1, 3)), ("layer", (3, 1))])
def test_hand_written_reference_refuses_the_same_degenerate_inputs(kind, shape):
    with pytest.raises(ValueError, match=">= 2"):
        reference.forward(kind, np.ones(shape), np.ones(shape[1]), np.ones(shape[1]))
