"""Batch norm and layer norm as layer kinds of a network program (row form: examples in rows).

Each kind declares its parameters (gamma and beta, one entry per feature, 1 x D), its forward
computation on arrays (float64, or SymPy entries in object arrays: the same code builds the
numbers and the proof's expressions) and its LaTeX. The gradients are not here: they are found by
derive.normalization.derive_normalization from the index form in derive/normalization/forward.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.normalization.errors import check_sizes

# derive_normalization's kind for each layer name
KIND_OF = {"batchnorm": "batch", "layernorm": "layer"}


@dataclass(frozen=True)
class NormForward:
    """What a norm's forward pass leaves for its backward: the output, x-hat and s = sqrt(var + eps)."""

    output: np.ndarray
    xhat: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class _Norm:
    features: int  # D, the width of its input and output
    unbiased: bool = False
    eps: float = 1e-5
    index: int = 1  # gamma1, beta1 for the first norm of a net

    name = ""
    axis = 0  # the axis the statistics are taken over

    @property
    def kind(self) -> str:
        return KIND_OF[self.name]

    def check(self, examples: int) -> None:
        """Raise (NormalizationInputError) where the layer is undefined: N = 1 batch norm, D = 1 layer norm."""
        check_sizes(self.kind, examples, self.features, self.unbiased)

    def parameters(self) -> tuple[tuple[str, tuple[int, int]], ...]:
        return ((f"gamma{self.index}", (1, self.features)), (f"beta{self.index}", (1, self.features)))

    def forward(self, x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, sqrt, eps) -> NormForward:
        """y = gamma (x - mu) / sqrt(var + eps) + beta; `sqrt` entrywise, eps a number or a symbol."""
        count = x.shape[self.axis]
        mean = x.sum(axis=self.axis, keepdims=True) / count
        centred = x - mean
        variance = (centred * centred).sum(axis=self.axis, keepdims=True) / (count - 1 if self.unbiased else count)
        s = sqrt(variance + eps)
        xhat = centred / s
        return NormForward(gamma * xhat + beta, xhat, s)

    def latex(self, source: str, target: str) -> str:
        statistic = "each column (feature) over the examples" if self.axis == 0 else "each row (example) over its features"
        return (rf"{target} = \gamma^{{({self.index})}} \odot \frac{{{source} - \mu}}{{\sqrt{{\sigma^2 + \epsilon}}}}"
                rf" + \beta^{{({self.index})}}", statistic)


@dataclass(frozen=True)
class BatchNorm(_Norm):
    """Training-mode batch norm: statistics per feature over the N examples."""

    name = "batchnorm"
    axis = 0


@dataclass(frozen=True)
class LayerNorm(_Norm):
    """Layer norm: statistics per example over its D features."""

    name = "layernorm"
    axis = 1


NORM_LAYERS = {"batchnorm": BatchNorm, "layernorm": LayerNorm}
