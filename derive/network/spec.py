"""The network a user describes: sizes, activations, cost, biases, convention, batch size.

Layers are numbered as in seed 000 and Ng's course: layer 1 is the input (a(1) = X), layer L the
output, and W(l) carries layer l into layer l + 1, so z(l+1) = a(l) W(l) in row form and
z(l+1) = W(l) a(l) in column form. Nielsen numbers the same weights W^{l+1}; only the label moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from derive.network.activations import ACTIVATION_TABLE, ACTIVATIONS
from derive.network.costs import COST_ALIASES, COST_TABLE, COSTS

REDUCTIONS = ("sum", "mean")
BIAS_MODES = ("none", "vector", "unit")
CONVENTIONS = ("row", "column")


# Every weight and input entry is a SymPy symbol: far past 784-100-10 a derivation would run for
# hours, so absurd sizes are refused rather than left to hang.
MAX_SIZE = 100_000
# lambda/2 times the sum of squared weights must stay a float64 (at most 1.8e308): with a million
# weights of size up to 1e50 the sum is at most 1e106, which leaves lambda up to 1e200; far above
# any strength used in practice (Ng's course uses 0 to 10).
MAX_L2 = 1e200


class SpecError(ValueError):
    """A network description that the tool cannot build; the message says what is accepted."""


@dataclass(frozen=True)
class NetworkSpec:
    """A fully connected network and its cost.

    Args:
        sizes: units per layer, input first: (2, 3, 1) is seed 000's XOR net.
        activations: one per non-input layer, hidden layers first, output last.
        cost: one of COSTS; the per-example loss.
        reduction: "sum" or "mean" of the per-example losses over the m examples.
        bias: "none" (seed 000), "vector" (z = a W + b), or "unit" (Ng's bias unit folded into W
            as its first row in row form, its first column in column form).
        convention: "row" (examples in rows, z(l+1) = a(l) W(l)) or "column" (examples in
            columns, z(l+1) = W(l) a(l) + b(l)).
        m: the number of examples in the batch.
        l2: the L2 regularization strength lambda (0 means none); derivations keep lambda as a
            symbol and the numeric checks use this value; the term is
            lambda/2 * sum of non-bias weights squared, divided by m when reduction is "mean"
            (Ng's lambda/(2m) sum theta^2).

    >>> NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid")).layer_count
    3
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    cost: str = "half_sse"
    reduction: str = "sum"
    bias: str = "none"
    convention: str = "row"
    m: int = 4
    l2: float = 0.0

    def __post_init__(self) -> None:
        for field, value in (("sizes", self.sizes), ("activations", self.activations)):
            if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise SpecError(f"{field} must be a sequence (a tuple or list), got {value!r}")
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "activations", tuple(self.activations))
        for field in ("cost", "reduction", "bias", "convention"):
            if not isinstance(getattr(self, field), str):
                raise SpecError(f"{field} must be a name (a string), got {getattr(self, field)!r}")
        for name in self.activations:
            if not isinstance(name, str):
                raise SpecError(f"activations must be names (strings), got {name!r}")
        object.__setattr__(self, "cost", COST_ALIASES.get(self.cost, self.cost))
        _validate(self)

    @property
    def layer_count(self) -> int:
        """L, the number of layers including the input layer."""
        return len(self.sizes)

    @property
    def output_activation(self) -> str:
        return self.activations[-1]

    def activation(self, layer: int) -> str:
        """The activation of layer `layer` (2..L)."""
        return self.activations[layer - 2]

    @property
    def slug(self) -> str:
        """A file-name-safe description, e.g. "2-3-1"."""
        return "-".join(str(size) for size in self.sizes)

    @property
    def parameter_count(self) -> int:
        count = 0
        for fan_in, fan_out in zip(self.sizes, self.sizes[1:]):
            count += fan_in * fan_out + (fan_out if self.bias != "none" else 0)
        return count


def _one_of(kind: str, value: object, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise SpecError(f"unknown {kind} {value!r}; accepted: {', '.join(accepted)}")


def _validate(spec: NetworkSpec) -> None:
    if len(spec.sizes) < 2:
        raise SpecError(f"a network needs at least an input and an output layer, got sizes {spec.sizes}")
    for size in spec.sizes:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise SpecError(f"layer sizes must be integers of at least 1, got {size!r}")
        if size > MAX_SIZE:
            raise SpecError(f"layer sizes above {MAX_SIZE} are refused (a symbol per weight), got {size}")
    if len(spec.activations) != len(spec.sizes) - 1:
        raise SpecError(
            f"{len(spec.sizes) - 1} activations are needed (one per non-input layer), "
            f"got {len(spec.activations)}")
    for name in spec.activations:
        _one_of("activation", name, ACTIVATIONS)
    for position, name in enumerate(spec.activations[:-1], start=2):
        if not ACTIVATION_TABLE[name].is_elementwise:
            raise SpecError(f"{name} is accepted on the output layer only, not on hidden layer {position}")
    _one_of("cost", spec.cost, COSTS)
    _one_of("reduction", spec.reduction, REDUCTIONS)
    _one_of("bias mode", spec.bias, BIAS_MODES)
    _one_of("convention", spec.convention, CONVENTIONS)
    accepted_outputs = COST_TABLE[spec.cost].outputs
    if spec.output_activation not in accepted_outputs:
        raise SpecError(
            f"cost {spec.cost} does not fit a {spec.output_activation} output; "
            f"it accepts outputs: {', '.join(accepted_outputs)}")
    if spec.output_activation == "softmax" and spec.cost != "categorical_cross_entropy":
        raise SpecError("a softmax output is accepted with categorical_cross_entropy only")
    if spec.output_activation == "softmax" and spec.sizes[-1] < 2:
        raise SpecError("a softmax output needs at least 2 units (with 1 it is the constant 1)")
    if not isinstance(spec.m, int) or isinstance(spec.m, bool) or spec.m < 1:
        raise SpecError(f"m, the number of examples, must be an integer of at least 1, got {spec.m!r}")
    if spec.m > MAX_SIZE:
        raise SpecError(f"m above {MAX_SIZE} is refused (a symbol per input entry), got {spec.m}")
    if not isinstance(spec.l2, (int, float)) or isinstance(spec.l2, bool) or not _finite(spec.l2) \
            or not 0 <= spec.l2 <= MAX_L2:
        raise SpecError(f"l2 must be a finite number of at least 0 and at most {MAX_L2:g}, got {_short(spec.l2)}")


def _finite(value: int | float) -> bool:
    """True when `value` is a finite float64: an int like 10**400 overflows it."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def parse_spec(text: str, activation: str = "sigmoid", output_activation: str | None = None,
               **options) -> NetworkSpec:
    """Builds a spec from "2-3-1": one activation for the hidden layers, another for the output.

    Args:
        text: layer sizes joined by "-", input first.
        activation: the hidden layers' activation (and the output's unless given).
        output_activation: the output layer's activation.
        **options: the other NetworkSpec fields.

    Raises:
        SpecError: the text is not sizes joined by "-", or the spec is invalid.

    >>> parse_spec("2-3-1").sizes
    (2, 3, 1)
    """
    if not isinstance(text, str):
        raise SpecError(f"layer sizes must be text like '2-3-1', got {text!r}")
    parts = text.strip().split("-")
    # isdigit() accepts '²'; only ASCII decimal digits are sizes
    if not all(part.strip().isascii() and part.strip().isdecimal() for part in parts):
        raise SpecError(f"layer sizes must look like 2-3-1 (integers joined by '-'), got {text!r}")
    unknown = sorted(set(options) - _SPEC_OPTIONS)
    if unknown:
        raise SpecError(f"unknown option {unknown[0]!r}; accepted: {', '.join(sorted(_SPEC_OPTIONS))}")
    sizes = tuple(int(part) for part in parts)
    hidden = len(sizes) - 2
    output = output_activation or activation
    return NetworkSpec(sizes, (activation,) * max(hidden, 0) + (output,), **options)


_SPEC_OPTIONS = {"cost", "reduction", "bias", "convention", "m", "l2"}


XOR_SPEC = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), cost="half_sse", reduction="sum",
                       bias="none", convention="row", m=4)
