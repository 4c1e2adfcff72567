"""The usual mistakes in a convolution or pooling backward, each an edit of the derived index form.

A mistake is planted into the collapsed sums derivation.py found, so what it produces is exactly
what a backward with that one mistake computes (evaluated by numeric.evaluate_index). Two change an
output's shape, as the person's code would: db left per position is F x H_out x W_out, dW with its
channels transposed is C x F x K_h x K_w.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import sympy as sp

from derive.convolution.derivation import IndexGradient, LayerGradients
from derive.convolution.forward import LETTERS, PAD, STRIDE, S, W, SymbolicLayer


@dataclass(frozen=True)
class Mistake:
    name: str
    what: str  # what the code did, in one line
    gradient: str  # "dX", "dW", "db"
    kinds: tuple[str, ...]  # the layers it applies to
    edit: Callable[[IndexGradient, SymbolicLayer], IndexGradient]


def _edit_terms(gradient: IndexGradient, change) -> IndexGradient:
    return replace(gradient, collapsed=tuple(change(term) for term in gradient.collapsed))


def unflipped_kernel(gradient: IndexGradient, layer: SymbolicLayer) -> IndexGradient:
    """W[f, c, u, v] -> W[f, c, K_h - 1 - u, K_w - 1 - v]: correlation with G where convolution is needed."""
    kernel_sizes = [axis[2] for axis in layer.axes]

    def flip(e):
        return W[e.indices[:2] + tuple(k - 1 - i for k, i in zip(kernel_sizes, e.indices[2:]))]
    return _edit_terms(gradient, lambda t: replace(t, coefficient=t.coefficient.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == W, flip)))


def valid_padding(gradient: IndexGradient, layer: SymbolicLayer) -> IndexGradient:
    """G padded by p (the forward's padding) in the backward where the full border K - 1 - p is needed."""
    def shift(term):
        changes = {}
        for axis in layer.axes:
            for condition in term.conditions:
                if LETTERS[axis[3]] in condition.numerator.free_symbols:
                    changes[condition] = replace(condition, numerator=condition.numerator + axis[2] - 1 - 2 * PAD)
        rows = {LETTERS[axis[3]]: LETTERS[axis[3]] + axis[2] - 1 - 2 * PAD for axis in layer.axes}
        return replace(term, coefficient=_shift_g(term.coefficient, rows),
                       conditions=tuple(changes.get(c, c) for c in term.conditions))
    return _edit_terms(gradient, shift)


def _shift_g(coefficient: sp.Expr, rows: dict) -> sp.Expr:
    """Shift the entry rows inside G's (and S's) indices only, not inside W's."""
    return coefficient.replace(lambda e: isinstance(e, sp.Indexed) and e.base.name in ("G", "S"),
                               lambda e: e.base[tuple(i.xreplace(rows) for i in e.indices)])


def stride_ignored(gradient: IndexGradient, layer: SymbolicLayer) -> IndexGradient:
    """s -> 1 in dX: G not dilated, as if the forward pass had stride 1."""
    return _edit_terms(gradient, lambda t: replace(
        t, coefficient=t.coefficient.xreplace({STRIDE: 1}),
        conditions=tuple(replace(c, numerator=c.numerator.xreplace({STRIDE: 1}), stride=sp.Integer(1))
                         for c in t.conditions)))


def bias_per_position(gradient: IndexGradient, layer: SymbolicLayer) -> IndexGradient:
    """db[f] summed over the examples only: one bias gradient per output position (F x H_out x W_out)."""
    (term,) = gradient.collapsed
    positions = tuple(i for i in term.indices if i.role in ("i", "j"))
    entry = gradient.entry + tuple((i.symbol, i.upper) for i in positions)
    return replace(gradient, entry=entry, collapsed=(replace(term, indices=tuple(
        i for i in term.indices if i not in positions)),))


def whole_window(gradient: IndexGradient, layer: SymbolicLayer) -> IndexGradient:
    """S -> 1: every entry of a max-pool window receives G, not only the largest."""
    return _edit_terms(gradient, lambda t: replace(t, coefficient=t.coefficient.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == S, lambda e: sp.Integer(1))))


def channels_transposed(gradient: IndexGradient, layer: SymbolicLayer) -> IndexGradient:
    """dW[c, f, u, v] where dW[f, c, u, v] is meant: filters and channels swapped (C x F x K_h x K_w)."""
    f, c, *kernel = gradient.entry
    return replace(gradient, entry=(c, f, *kernel))


CONVOLUTION = ("conv2d", "conv1d")
CATALOGUE = (
    Mistake("kernel not flipped", "dX correlates G with W where the rotated kernel is needed: convolution "
            "confused with correlation", "dX", CONVOLUTION, unflipped_kernel),
    Mistake("valid padding in the backward", "dX pads G by p, the forward's padding, where the full border "
            "K - 1 - p is needed", "dX", CONVOLUTION, valid_padding),
    Mistake("stride ignored in dX", "dX uses G as if the stride were 1 (G not dilated by s)", "dX",
            CONVOLUTION + ("maxpool", "avgpool"), stride_ignored),
    Mistake("bias gradient not summed over positions", "db sums G over the examples only, one value per "
            "output position", "db", CONVOLUTION, bias_per_position),
    Mistake("max-pool gradient sent to the whole window", "dX gives G to every entry of the window, not "
            "only to its largest", "dX", ("maxpool",), whole_window),
    Mistake("channels transposed in dW", "dW is indexed [c, f, u, v] where [f, c, u, v] is meant", "dW",
            CONVOLUTION, channels_transposed),
)


def planted(gradients: LayerGradients, mistake: Mistake) -> LayerGradients:
    """The derivation with one mistake planted into its gradient."""
    return LayerGradients(gradients.layer, tuple(
        mistake.edit(g, gradients.layer) if g.name == mistake.gradient else g for g in gradients.gradients))
