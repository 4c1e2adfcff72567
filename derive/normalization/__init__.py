"""Batch norm and layer norm: gradients found from the forward pass, proved three ways."""

from derive.normalization.derivation import (
    Gradient, NormalizationGradients, PathTerm, chain_rule_paths, derive_normalization)
from derive.normalization.errors import (
    BatchTooSmallError, GammaShapeError, InputShapeError, NormalizationInputError, SingleFeatureError)
from derive.normalization.forward import NormalizationLayer
from derive.normalization.numeric import evaluate_gradients
from derive.normalization.proofs import (
    ProofResult, prove_all, prove_entrywise, prove_index_level, prove_randomized)

__all__ = [
    "BatchTooSmallError", "GammaShapeError", "Gradient", "InputShapeError", "NormalizationGradients",
    "NormalizationInputError", "NormalizationLayer", "PathTerm", "ProofResult", "SingleFeatureError",
    "chain_rule_paths", "derive_normalization", "evaluate_gradients", "prove_all", "prove_entrywise",
    "prove_index_level", "prove_randomized",
]
