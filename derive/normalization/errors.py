"""What can be wrong with a normalisation layer's input, as ValueError subclasses."""

from __future__ import annotations


class NormalizationInputError(ValueError):
    """Bad input to a batch-norm or layer-norm derivation, proof or evaluation."""


class BatchTooSmallError(NormalizationInputError):
    """Batch norm over a batch of one example (or of none)."""

    def __init__(self, examples: int, unbiased: bool = False):
        if unbiased:
            why = ("the unbiased variance divides by N - 1 = 0, so it is undefined; "
                   "batch norm with the unbiased variance needs N >= 2 examples")
        else:
            why = ("with N = 1 every x equals its batch mean, so the variance is 0 and "
                   "x_hat = 0 / sqrt(0 + epsilon) is defined only because of epsilon (and is 0 "
                   "whatever x is); batch norm needs N >= 2 examples")
        super().__init__(f"batch norm got N = {examples} example(s): {why}")


class SingleFeatureError(NormalizationInputError):
    """Layer norm over a single feature."""

    def __init__(self, features: int):
        super().__init__(
            f"layer norm got D = {features} feature(s): each example is normalised over its own "
            "features, so with D = 1 the feature equals its mean, the variance is 0 and the output "
            "is beta whatever x is; layer norm needs D >= 2 features")


class GammaShapeError(NormalizationInputError):
    """gamma or beta that does not have one entry per feature."""

    def __init__(self, name: str, shape: tuple, features: int):
        super().__init__(
            f"{name} has shape {tuple(shape)}, but the input has D = {features} features: "
            f"{name} must have shape ({features},) (or (1, {features})), one entry per feature")


class InputShapeError(NormalizationInputError):
    """X or G that is not a 2-D array of the same shape."""


def check_sizes(kind: str, examples: int, features: int, unbiased: bool = False) -> None:
    """Raise if a layer of this kind is undefined at N x D.

    Raises:
        BatchTooSmallError: batch norm with N < 2.
        SingleFeatureError: layer norm with D < 2.
    """
    if kind == "batch" and examples < 2:
        raise BatchTooSmallError(examples, unbiased)
    if kind == "layer" and features < 2:
        raise SingleFeatureError(features)


def check_parameter_shape(name: str, shape: tuple, features: int) -> None:
    if tuple(shape) not in ((features,), (1, features)):
        raise GammaShapeError(name, shape, features)
