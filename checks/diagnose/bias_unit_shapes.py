"""Ng's bias unit in the wrong place, named from the shapes that did not fit and the spec's layer widths."""

# With a bias unit (Ng's layout), a hidden layer l of n units has n + 1 activations (the bias unit's
# 1 first) but n deltas: nothing feeds the bias unit, so dJ/dz has no entry for it. Theta(l) is
# (n_{l+1}, n_l + 1) in column form: a row per unit of layer l + 1, column 0 the bias unit's weights.
# Two slicing mistakes change a shape by exactly one, and NumPy then fails, often lines later:
#   - the bias unit's row of Theta(l).T @ delta(l+1) kept: a dimension n_l + 1 where n_l belongs;
#   - Theta(l)[1:] for Theta(l)[:, 1:]: one of layer l + 1's units dropped instead of the bias column.
# Each rule below reads only what the shapes say (and the spec's widths); a pair of shapes no rule
# fits gets no hint, and the line of the mistake is not claimed when the error is raised later.
# Shapes alone can coincide (with m = 4 and 3 inputs, a2 is 6 x 4 like Theta1 plus a row), so every
# rule is anchored on a local that holds the weights themselves: equal, entry for entry, to the
# Theta(l) the function was given.

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from checks.diagnose.line_shapes import (FailingPair, Shape, base_name, expression_shape, factors_of,
                                         failing_pair, is_product)
from checks.handwritten.network import parameter_shapes
from derive.network.spec import NetworkSpec


@dataclass(frozen=True)
class Layout:
    """Where the units are in the spec's arrays: the axis of a layer's units in an activation or a
    delta, and Theta(l)'s axis of layer l + 1's units (the other holds the bias unit's weights first)."""

    spec: NetworkSpec
    params: Mapping[str, np.ndarray]  # the weights the function was given, by our names W1, W2, ...

    def is_weights(self, node: ast.AST | None, local: dict, layer: int) -> bool:
        """Whether the name (under slices and .T) holds Theta(layer) itself, as the function was given it."""
        name = base_name(node) if node is not None else None
        value = local.get(name.id) if name is not None else None
        given = self.params.get(f"W{layer}")
        return isinstance(value, np.ndarray) and given is not None and value.shape == given.shape \
            and bool(np.array_equal(value, given))

    @property
    def row_form(self) -> bool:
        return self.spec.convention == "row"

    @property
    def units_axis(self) -> int:  # z, a, delta: (units, m) in column form, (m, units) in row form
        return 1 if self.row_form else 0

    @property
    def line(self) -> str:  # what one unit of an activation or delta is
        return "column" if self.row_form else "row"

    def weights(self, layer: int) -> Shape:
        return parameter_shapes(self.spec)[f"W{layer}"]

    def hidden_layers(self) -> range:
        return range(2, len(self.spec.sizes))

    def width(self, layer: int) -> int:
        return self.spec.sizes[layer - 1]

    def units(self, layer: int) -> str:
        n = self.width(layer)
        return f"the {n} output units" if layer == len(self.spec.sizes) else f"the {n} units of layer {layer}"

    def dropped(self, layer: int) -> str:
        """How Ng drops the bias unit's entry of Theta(layer).T @ delta(layer+1), after the product."""
        if self.row_form:
            return f"(delta{layer + 1} @ Theta{layer}.T)[:, 1:]"
        return f"(Theta{layer}.T @ delta{layer + 1})[1:]"


def bias_unit_reasoning(error: BaseException, filename: str | None, spec: NetworkSpec | None,
                        params: Mapping[str, np.ndarray] | None) -> str:
    """"; " and what the shapes of the failing operands say about the bias unit, or "" when no rule
    fits them (or the spec has no bias unit). Nothing of the user's line is run (line_shapes).

    Args:
        error: what the user's function raised.
        filename: the user's file: the innermost line there is read.
        spec: the network checked; its widths say which dimension is a layer's units (+ 1).
        params: the weights the function was given (W1, W2, ...), to tell them among its locals.
    """
    if spec is None or spec.bias != "unit" or params is None:
        return ""
    found = failing_pair(error, filename)
    if found is None:
        return ""
    pair, local = found
    layout = Layout(spec, params)
    for rule in RULES:
        said = rule(pair, local, layout)
        if said:
            return "; " + said
    return ""


def returned_gradient_reasoning(spec: NetworkSpec, output: str, shape: Shape) -> str:
    """ " (one row more: ...)" when a returned gradient of Theta(l-1) has an entry for layer l's bias
    unit, or "" (the output's place in the contract says what it is; no line is read)."""
    if spec.bias != "unit" or not output.startswith("W") or not output[1:].isdigit():
        return ""
    layout, layer = Layout(spec, {}), int(output[1:]) + 1
    axis = 1 if layout.row_form else 0  # Theta(l-1)'s axis of layer l's units
    expected = layout.weights(layer - 1)
    grown = tuple(size + 1 if i == axis else size for i, size in enumerate(expected))
    if layer not in layout.hidden_layers() or tuple(shape) != grown:
        return ""
    n = layout.width(layer)
    return (f" (one {layout.line} more: {n + 1} = {layout.units(layer)} + its bias unit, which no weight feeds: "
            f"the bias unit's {layout.line} was kept in the delta of layer {layer}; Ng drops it after the product: "
            f"{layout.dropped(layer)})")


def _off_by_one(pair: FailingPair, layout: Layout) -> tuple[int, int] | None:
    """(hidden layer l, the operand with n_l + 1) when the two shapes differ only along the units
    axis, as n_l + 1 against n_l; else None."""
    a, b = pair.left_shape, pair.right_shape
    axis = layout.units_axis
    if len(a) != 2 or len(b) != 2 or a[1 - axis] != b[1 - axis]:
        return None
    for layer in layout.hidden_layers():
        n = layout.width(layer)
        if (a[axis], b[axis]) == (n + 1, n):
            return layer, 0
        if (a[axis], b[axis]) == (n, n + 1):
            return layer, 1
    return None


def _shown(shape: Shape) -> str:
    return "x".join(map(str, shape))


def bias_row_kept_in_product(pair: FailingPair, local: dict, layout: Layout) -> str:
    """Theta(l).T @ delta(l+1) (or its row-form twin) broadcast against n_l units: its bias unit's
    entry was not dropped after the product."""
    if pair.operator != "broadcast":
        return ""
    found = _off_by_one(pair, layout)
    if found is None:
        return ""
    layer, wide = found
    node, shape = (pair.left, pair.left_shape) if wide == 0 else (pair.right, pair.right_shape)
    if not is_product(node) or not any(layout.is_weights(factor, local, layer) for factor in factors_of(node)):
        return ""
    text, n = ast.unparse(node), layout.width(layer)
    return (f"{text} ({_shown(shape)}) has {n + 1} {layout.line}s = {layout.units(layer)} + its bias unit, "
            f"where {n} belong: the bias unit's {layout.line} was not dropped "
            f"({'[:, 1:]' if layout.row_form else '[1:]'} after the product: "
            f"{'(' + text + ')' if isinstance(node, ast.BinOp) else text}{'[:, 1:]' if layout.row_form else '[1:]'})")


def bias_row_kept_in_gradient(pair: FailingPair, local: dict, layout: Layout) -> str:
    """An operand read from an array shaped like Theta(l-1) plus one unit of layer l, against Theta(l-1)
    itself (the L2 term of its gradient): a gradient with the bias unit's entry, which no weight has;
    it came from the delta of layer l, earlier."""
    found = _off_by_one(pair, layout)
    if found is None:
        return ""
    layer, wide = found
    base = base_name(pair.left if wide == 0 else pair.right)
    weights = base_name(pair.right if wide == 0 else pair.left)
    if weights is None:  # the weights may sit inside the other operand: lambda / m * Theta1[:, 1:]
        other = pair.right if wide == 0 else pair.left
        weights = next((n for n in ast.walk(other) if isinstance(n, ast.Name)
                        and layout.is_weights(n, local, layer - 1)), None)
    if weights is None or not layout.is_weights(weights, local, layer - 1):
        return ""
    expected = layout.weights(layer - 1)
    axis = 1 if layout.row_form else 0  # Theta(l-1)'s axis of layer l's units
    grown = tuple(size + 1 if i == axis else size for i, size in enumerate(expected))
    if base is None or expression_shape(base, local) != grown:
        return ""
    n = layout.width(layer)
    return (f"{base.id} ({_shown(grown)}) has one {layout.line} more than {weights.id} ({_shown(expected)}): "
            f"{n + 1} = {layout.units(layer)} + its bias unit, which no weight feeds, so a gradient of "
            f"{weights.id} has no {layout.line} for it: the bias unit's {layout.line} was kept earlier, in the "
            f"delta of layer {layer} (Ng drops it after the product: {layout.dropped(layer)})")


def weights_sliced_across_units(pair: FailingPair, local: dict, layout: Layout) -> str:
    """Theta(l)[1:] (column form; Theta(l)[:, 1:] in row form) in an operand that did not fit: one of
    layer l + 1's units dropped, where the bias unit's weights are the other axis's first entry."""
    for operand in (pair.left, pair.right):
        for node in ast.walk(operand):
            if not isinstance(node, ast.Subscript) or not isinstance(node.value, ast.Name):
                continue
            cut = expression_shape(node, local)
            for layer in range(1, len(layout.spec.sizes)):
                expected = layout.weights(layer)
                units = 1 if layout.row_form else 0  # Theta(l)'s axis of layer l + 1's units
                fewer = tuple(size - 1 if i == units else size for i, size in enumerate(expected))
                if cut == fewer and layout.is_weights(node.value, local, layer):
                    name, unit = node.value.id, "column" if layout.row_form else "row"
                    bias = "row 0" if layout.row_form else "column 0"
                    right = f"{name}[1:]" if layout.row_form else f"{name}[:, 1:]"
                    units_named = layout.units(layer + 1)
                    which = f"one of {units_named}' {unit}s" if layer + 1 == len(layout.spec.sizes) \
                        else f"the {unit} of one of {units_named}"
                    return (f"{ast.unparse(node)} drops {which} "
                            f"({_shown(expected)} to {_shown(fewer)}); the bias weights are {name}'s {bias} "
                            f"({right})")
    return ""


# Each rule reads the failing pair, the frame's locals and the spec's layout; the first that fits speaks.
RULES: tuple[Callable[[FailingPair, dict, Layout], str], ...] = (
    weights_sliced_across_units,
    bias_row_kept_in_product,
    bias_row_kept_in_gradient,
)
