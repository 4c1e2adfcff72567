"""Ng's unrolled parameters: nnCostFunction(nn_params, input_layer_size, hidden_layer_size, num_labels,
X, y, lambda) called with every Theta in one vector, and the unrolled gradient it returns split back."""

# Ng's ex4 unrolls the weights for fmincg as nn_params = [Theta1(:); Theta2(:)]: MATLAB's (:) reads a
# matrix column by column (Fortran order), and Python ports read it back with
# np.reshape(nn_params[:h * (n + 1)], (h, n + 1), order="F"); ports that unroll with NumPy's ravel()
# use C order instead. The tool's column form with a bias unit holds Theta1 (h, n + 1) and Theta2
# (K, h + 1) in exactly Ng's shapes, so unrolling is ravel(order) and splitting is reshape(order).

from __future__ import annotations

from typing import Sequence

import numpy as np

from checks.diagnose.contract import Contract, ContractError
from checks.handwritten.network import parameter_shapes

# The names of Ng's arguments, for the signature check and the messages.
ARGUMENTS = ("nn_params", "input_layer_size", "hidden_layer_size", "num_labels", "X", "y", "lambda")


def unrolled_arguments(terms: Contract, X: np.ndarray, Y: np.ndarray, params: Sequence[np.ndarray]) -> tuple:
    """Ng's arguments from the contract's column-form ones.

    nn_params = [Theta1(:); Theta2(:)] in the contract's order; X with one example per row (the
    column form's X transposed, as ex4 loads it); y as given when it holds labels (1-D), else the
    one-hot targets with one example per row; lambda, the spec's --l2.
    """
    order = terms.unrolled.order
    nn_params = np.concatenate([np.ravel(theta, order=order) for theta in params])
    y = Y.copy() if Y.ndim == 1 else Y.T.copy()
    sizes = [int(size) for size in terms.spec.sizes]
    return (nn_params, *sizes, X.T.copy(), y, float(terms.unrolled.l2))


def split_unrolled(result, terms: Contract, name: str) -> list:
    """What Ng's function returned, as the contract's outputs in order: J, and grad cut into
    Theta1, Theta2, ... and each reshaped in the order it was unrolled in.

    Raises:
        ContractError: not (J, grad), grad or J as --returns says; a grad that is not one vector of
            real numbers; a grad of the wrong length.
    """
    outputs = terms.outputs
    if outputs == ("cost",):
        return [result]
    if "cost" in outputs:
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"one {type(result).__name__}"
            raise ContractError(f"{name} returned {got}; expected (J, grad) with grad unrolled as nn_params is "
                                f"(or say what it returns with --returns gradients or --returns cost)")
        cost, grad = result
    else:
        grad = result[0] if isinstance(result, tuple) and len(result) == 1 else result
    return ([cost] if "cost" in outputs else []) + _split(grad, terms, name)


def _split(grad, terms: Contract, name: str) -> list[np.ndarray]:
    shapes = parameter_shapes(terms.spec)
    sizes = [rows * columns for rows, columns in shapes.values()]
    layout = " then ".join(f"Theta{p[1:]} {r} x {c} ({r * c})" for p, (r, c) in shapes.items())
    try:
        vector = np.asarray(grad)
    except Exception:  # noqa: BLE001 (the returned object's own code raised: a contract error)
        vector = np.asarray(None)
    if vector.dtype.kind not in "biuf":
        raise ContractError(f"{name}: grad is not a vector of real numbers (got {type(grad).__name__}); expected "
                            f"the unrolled gradient, {sum(sizes)} numbers: {layout}")
    if vector.ndim > 2 or (vector.ndim == 2 and 1 not in vector.shape) or vector.ndim == 0:
        raise ContractError(f"{name}: grad has shape {vector.shape}; expected the unrolled gradient, one vector "
                            f"of {sum(sizes)} numbers: {layout}")
    vector = np.ravel(vector).astype(np.float64)
    if vector.size != sum(sizes):
        raise ContractError(f"{name}: grad has {vector.size} numbers; expected {sum(sizes)}, the unrolled "
                            f"gradient: {layout}")
    parts, start = [], 0
    for (rows, columns), size in zip(shapes.values(), sizes):
        parts.append(vector[start:start + size].reshape((rows, columns), order=terms.unrolled.order))
        start += size
    return parts
