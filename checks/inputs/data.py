"""Data and starting parameters: seed 000's XOR examples, seeded random parameters and data."""

# NumPy and the standard library only: this is part of the route independent of the derivation.

from __future__ import annotations

import math

import numpy as np

from checks.handwritten.network import ACTIVATIONS, COSTS, check_spec, parameter_shapes

DEFAULT_SEED = 0

# Seed 000's XOR net: one example per row, inputs (x1, x2), target x1 XOR x2.
XOR_INPUTS = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
XOR_TARGETS = ((0.0,), (1.0,), (1.0,), (0.0,))


def generator(rng: np.random.Generator | int | None = DEFAULT_SEED) -> np.random.Generator:
    """A numpy Generator: the one given, or a new one seeded with the given integer."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def xor_data(convention: str = "row") -> tuple[np.ndarray, np.ndarray]:
    """Seed 000's four XOR examples: X is (4, 2) and Y (4, 1) in row form, transposed in column form.

    >>> X, Y = xor_data("column")
    >>> X.shape, Y.tolist()
    ((2, 4), [[0.0, 1.0, 1.0, 0.0]])
    """
    if convention not in ("row", "column"):
        raise ValueError(f"unknown convention {convention!r}; accepted: row, column")
    X, Y = np.array(XOR_INPUTS), np.array(XOR_TARGETS)
    return (X, Y) if convention == "row" else (X.T.copy(), Y.T.copy())


def epsilon_init(fan_in: int, fan_out: int) -> float:
    """Ng's epsilon_init = sqrt(6) / sqrt(fan_in + fan_out), units without the bias unit.

    >>> round(epsilon_init(400, 25), 4)
    0.1188
    """
    return math.sqrt(6.0) / math.sqrt(fan_in + fan_out)


def random_params(spec, rng: np.random.Generator | int | None = DEFAULT_SEED) -> dict[str, np.ndarray]:
    """Parameters drawn uniformly from [-epsilon_init, epsilon_init] per layer (seed 003).

    Every entry is drawn, bias weights included (Ng draws the whole of Theta, bias column and
    all), so that no two hidden units start the same: that is what breaks the symmetry.

    Args:
        spec: sizes, activations, bias, convention (e.g. NetworkSpec).
        rng: a numpy Generator or a seed.

    Returns:
        "W1", "b1", ... shaped as checks.handwritten.network.parameter_shapes(spec).
    """
    check_spec(spec)
    rng = generator(rng)
    params = {}
    for name, shape in parameter_shapes(spec).items():
        layer = int(name[1:])
        epsilon = epsilon_init(spec.sizes[layer - 1], spec.sizes[layer])
        params[name] = rng.uniform(-epsilon, epsilon, size=shape)
    return params


def zero_params(spec) -> dict[str, np.ndarray]:
    """Every parameter zero: the start that never breaks the symmetry between hidden units."""
    check_spec(spec)
    return {name: np.zeros(shape) for name, shape in parameter_shapes(spec).items()}


def random_targets(spec, m: int, rng: np.random.Generator | int | None = DEFAULT_SEED) -> np.ndarray:
    """Targets valid for the spec's cost and output, (m, n_L) in row form, transposed in column form.

    As the hand-written route's tables say (each cost's targets, each activation's target_range):
    one-hot rows for categorical cross-entropy; uniform in [0, 1] for binary cross-entropy and for
    a sigmoid or relu output; uniform in [-1, 1] for tanh; standard normal for identity.
    """
    check_spec(spec)
    rng = generator(rng)
    K, output = spec.sizes[-1], spec.activations[-1]
    targets, target_range = COSTS[spec.cost].targets, ACTIVATIONS[output].target_range
    if targets == "one_hot":
        Y = np.eye(K)[rng.integers(0, K, size=m)]
    elif targets == "unit_interval":
        Y = rng.uniform(0.0, 1.0, size=(m, K))
    elif target_range is not None:
        Y = rng.uniform(*target_range, size=(m, K))
    else:
        Y = rng.standard_normal((m, K))
    return Y if spec.convention == "row" else Y.T.copy()


def random_data(spec, m: int | None = None,
                rng: np.random.Generator | int | None = DEFAULT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Inputs drawn from a standard normal and targets from random_targets.

    Args:
        spec: the network (e.g. NetworkSpec).
        m: the number of examples; spec.m when None.
        rng: a numpy Generator or a seed.

    Returns:
        (X, Y): (m, n_1) and (m, n_L) in row form, transposed in column form.
    """
    check_spec(spec)
    m = spec.m if m is None else m
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m, the number of examples, must be an integer >= 1, got {m!r}")
    rng = generator(rng)
    X = rng.standard_normal((m, spec.sizes[0]))
    Y = random_targets(spec, m, rng)
    return (X, Y) if spec.convention == "row" else (X.T.copy(), Y)
