"""Scaled dot-product attention, its projections and heads, the embedding lookup and the residual
connection: gradients found from the forward pass, proved three ways."""

from derive.attention.derivation import Gradient, Path, Program, derive_program
from derive.attention.errors import AttentionInputError
from derive.attention.forward import EMBEDDING, ONE_HEAD, RESIDUAL, SCALED_DOT_PRODUCT, STAGES

__all__ = ["AttentionInputError", "EMBEDDING", "Gradient", "ONE_HEAD", "Path", "Program", "RESIDUAL",
           "SCALED_DOT_PRODUCT", "STAGES", "derive_program"]
