"""What a network will cost, estimated from its spec before any work starts, and the limits on it.

Each layer is capped in derive.network.spec (MAX_SIZE); the whole network is capped here: its weights,
its depth, weights x m, m itself where the write-up sums over examples, and the float64 arrays a
numeric check holds. A spec over a limit is refused at once, in one line giving the estimate and
the limit; a factor (--size-limit-factor on the command line, size_limit_factor= in the API)
raises every limit on purpose.

Measured on the 2-core machine of output/bench (other processes running):
  784-100-10, m = 1      79,400 weights      derive + prove 2.9 s, peak 210 MiB (~1.8 KiB a weight)
  784-30-10,  m = 64     1.5 M weights x m   derive and write 32 s, peak 870 MiB
  2-3-1,      m = 4,000  write-up 13 s and 644 MiB (its sums over examples grow as m squared);
              m = 20,000 passed 12 GiB within two minutes
  2-2-...-2,  200 layers derive and write 9 s, 110 MiB; 400 layers 38 s, 143 MiB
  784-30-10,  m = 20,000 check 3.5 s; its arrays add 220 MiB over m = 4 (~1.7 float64 copies of
              every activation entry)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from derive.network.spec import NetworkSpec, SpecError

# A SymPy symbol per weight at ~1.8 KiB each: a million weights is ~2 GiB and minutes of work,
# 12 times 784-100-10.
MAX_WEIGHTS = 1_000_000
# The derivation's time grows as the depth squared (2-2-...-2: 200 layers 9 s, 400 layers 38 s),
# so 1,000 layers would take about four minutes; 200 layers is the deepest net run on purpose.
MAX_DEPTH = 200
# Every weight gradient entry is a sum over the m examples: 784-30-10 at m = 64 (1.5 M) took 32 s
# and 870 MiB, so the limit sits a little above it.
MAX_WEIGHTS_TIMES_M = 2_000_000
# The write-up prints sums over the m examples, and its cost grows as m squared (m = 4,000 on
# 2-3-1 took 13 s and 644 MiB); the symbolic batch needs a few examples, not thousands. A numeric
# check's batch is not limited by this, only by MAX_ARRAY_BYTES.
MAX_SYMBOLIC_EXAMPLES = 1_000
# The float64 arrays of a numeric check: parameters and a gradient per route (derived,
# hand-written, finite differences, entrywise) and the perturbed copies, counted as 8 copies of
# the weights; z, a and delta of every layer and example in two routes, counted as 4 copies of
# every activation entry (measured: 1.7). 2 GiB is a tenth of a 23 GiB machine, and holds a
# 784-100-10 net on all 60,000 MNIST examples.
MAX_ARRAY_BYTES = 2 * 1024 ** 3
WEIGHT_COPIES = 8
ACTIVATION_COPIES = 4
FLOAT_BYTES = 8

# What each kind of work needs limited: "derive" derives symbolically at the spec's m, writes the
# document and checks numerically at that m; "check" derives at a small m and evaluates at the
# spec's m; "graph" draws shapes only, one node per layer.
WORKS = ("derive", "check", "graph")
_LIMITED = {
    "derive": ("weights", "depth", "weights_times_m", "m", "array_bytes"),
    "check": ("weights", "depth", "array_bytes"),
    "graph": ("depth",),
}
_LIMITS = {"weights": MAX_WEIGHTS, "depth": MAX_DEPTH, "weights_times_m": MAX_WEIGHTS_TIMES_M,
           "m": MAX_SYMBOLIC_EXAMPLES, "array_bytes": MAX_ARRAY_BYTES}


class NetworkTooLarge(SpecError):
    """A network whose estimated cost is over a limit; the message gives both and the way out."""


@dataclass(frozen=True)
class NetworkCost:
    """The size of a network's work, from its spec alone.

    Args:
        weights: parameters, biases included.
        depth: layers, the input layer included.
        m: examples in the batch.
        weights_times_m: terms of the weight gradients' sums over examples.
        array_bytes: the float64 arrays a numeric check holds at once (an upper estimate).
    """

    weights: int
    depth: int
    m: int
    weights_times_m: int
    array_bytes: int


def estimate_cost(spec: NetworkSpec) -> NetworkCost:
    """The cost of `spec`, computed from its sizes and m only (no work is done).

    array_bytes = 8 * (WEIGHT_COPIES * weights + ACTIVATION_COPIES * m * sum(sizes)).

    >>> estimate_cost(NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"))).weights_times_m
    36
    """
    weights = spec.parameter_count
    entries = spec.m * sum(spec.sizes)
    array_bytes = FLOAT_BYTES * (WEIGHT_COPIES * weights + ACTIVATION_COPIES * entries)
    return NetworkCost(weights, spec.layer_count, spec.m, weights * spec.m, array_bytes)


def check_size(spec: NetworkSpec, work: str = "derive", factor: float = 1.0) -> NetworkCost:
    """Refuses `spec` at once when the estimated cost of `work` is over a limit.

    Args:
        spec: the network.
        work: one of WORKS, what is about to be done with it.
        factor: every limit is multiplied by this (at least 1 raises them on purpose).

    Returns:
        The NetworkCost, when every limit holds.

    Raises:
        NetworkTooLarge: the first measure over its limit, with the estimate, the limit and the
            factor that would let it through.
        SpecError: an unknown `work` or a factor that is not a positive finite number.
    """
    if work not in WORKS:
        raise SpecError(f"unknown work {work!r}; accepted: {', '.join(WORKS)}")
    factor = size_limit_factor(factor)
    cost = estimate_cost(spec)
    for measure in _LIMITED[work]:
        value, limit = getattr(cost, measure), _LIMITS[measure] * factor
        if value > limit:
            needed = _round_up(value / _LIMITS[measure])
            raise NetworkTooLarge(
                f"network too large: {_short_slug(spec)} {_describe(measure, cost)} "
                f"(limit {_format(measure, limit)}); to raise every limit on purpose pass "
                f"--size-limit-factor {needed:g} (size_limit_factor={needed:g} in the API)")
    return cost


def size_limit_factor(value: object) -> float:
    """A factor for the limits: a positive finite number; raises SpecError otherwise."""
    try:
        factor = float(value) if not isinstance(value, (bool, str)) else math.nan
    except (TypeError, ValueError, OverflowError):
        factor = math.nan
    if not (math.isfinite(factor) and factor > 0):
        raise SpecError(f"the size limit factor must be a positive finite number, got {value!r}")
    return factor


def _short_slug(spec: NetworkSpec) -> str:
    """2-3-1; a deep net as 2-3-...-3-1, so the message stays one readable line."""
    if spec.layer_count <= 8:
        return spec.slug
    sizes = spec.sizes
    return f"{sizes[0]}-{sizes[1]}-...-{sizes[-2]}-{sizes[-1]}"


def _describe(measure: str, cost: NetworkCost) -> str:
    if measure == "weights_times_m":
        return f"has ~{cost.weights:,} weights x m = {cost.m:,}, {cost.weights_times_m:,} terms"
    if measure == "m":
        return f"has m = {cost.m:,} examples to write out symbolically"
    if measure == "array_bytes":
        return f"needs ~{_format(measure, cost.array_bytes)} of float64 arrays at m = {cost.m:,}"
    if measure == "depth":
        return f"has {cost.depth:,} layers"
    return f"has ~{cost.weights:,} weights"


def _format(measure: str, value: float) -> str:
    if measure == "array_bytes":
        return f"{value / 1024 ** 3:.1f} GiB"
    return f"{int(value):,}"


def _round_up(ratio: float) -> float:
    """A factor just above `ratio` with two significant digits: 50.01 -> 51, 1.234 -> 1.3."""
    digits = 10 ** (math.floor(math.log10(ratio)) - 1)
    return math.ceil(ratio / digits) * digits
