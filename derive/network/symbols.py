"""The network as SymPy symbols: every input, target, weight and bias an ASCII-named symbol.

Row form: a(l) is m x n_l, W(l) is n_l x n_{l+1}, z(l+1) = a(l) W(l) + 1 b(l).
Column form: a(l) is n_l x m, W(l) is n_{l+1} x n_l, z(l+1) = W(l) a(l) + b(l) 1^T.
With Ng's bias unit, W(l) gains a first row (row form) or first column (column form) that
multiplies a constant 1. Intermediate quantities z, a and delta are symbols of their own, so
each layer's expressions stay the size of that layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import sympy as sp

from derive.network import naming
from derive.network.activations import activation as activation_entry
from derive.network.costs import L2_STRENGTH, cost as cost_entry, reduction_factor
from derive.network.spec import NetworkSpec


@dataclass(frozen=True)
class MatrixQuantity:
    """A named matrix whose entries are symbols, e.g. W1 with entries W1_0_0 ... W1_1_2."""

    name: str
    shape: tuple[int, int]
    kind: str  # input, target, weight, bias, pre_activation, activation, delta

    @property
    def symbol(self) -> sp.MatrixSymbol:
        return sp.MatrixSymbol(self.name, *self.shape)

    def entry(self, row: int, column: int) -> sp.Symbol:
        return naming.entry_symbol(self.name, row, column)

    def positions(self) -> list[tuple[int, int]]:
        return [(i, j) for i in range(self.shape[0]) for j in range(self.shape[1])]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


@dataclass(frozen=True)
class Term:
    """One product in a pre-activation sum, with the symbols it contains.

    `expression` is built raw, without SymPy's canonical ordering (see _pre_activation_terms);
    `canonical` is the same product as SymPy would build it, for anything compared structurally.
    """

    expression: sp.Expr
    symbols: tuple[sp.Symbol, ...]

    @property
    def canonical(self) -> sp.Expr:
        return sp.Mul(*self.expression.args) if self.expression.is_Mul else self.expression


def canonical_sum(terms) -> sp.Expr:
    """The pre-activation sum of `terms`, canonical: a raw product never leaks into an oracle."""
    return sp.Add(*[term.canonical for term in terms])


@dataclass(frozen=True, eq=False)
class SymbolicNetwork:
    """The symbolic network of a spec; expressions are built on first use and kept."""

    spec: NetworkSpec

    # --- orientation -----------------------------------------------------------------------
    @property
    def is_row(self) -> bool:
        return self.spec.convention == "row"

    def position(self, example: int, unit: int) -> tuple[int, int]:
        """Where (example, unit) sits in an activation-shaped matrix."""
        return (example, unit) if self.is_row else (unit, example)

    def example_unit(self, position: tuple[int, int]) -> tuple[int, int]:
        return position if self.is_row else (position[1], position[0])

    def _activation_shape(self, units: int) -> tuple[int, int]:
        return self.position(self.spec.m, units)

    @property
    def has_bias_unit(self) -> bool:
        return self.spec.bias == "unit"

    # --- quantities --------------------------------------------------------------------------
    @property
    def output_layer(self) -> int:
        return self.spec.layer_count

    def units(self, layer: int) -> int:
        return self.spec.sizes[layer - 1]

    @property
    def inputs(self) -> MatrixQuantity:
        return MatrixQuantity("X", self._activation_shape(self.units(1)), "input")

    @property
    def targets(self) -> MatrixQuantity:
        return MatrixQuantity(naming.TARGET_NAME, self._activation_shape(self.units(self.output_layer)),
                              "target")

    def weights(self, layer: int) -> MatrixQuantity:
        """W(layer), carrying layer `layer` into layer + 1 (1 <= layer < L)."""
        fan_in = self.units(layer) + (1 if self.has_bias_unit else 0)
        fan_out = self.units(layer + 1)
        shape = (fan_in, fan_out) if self.is_row else (fan_out, fan_in)
        return MatrixQuantity(naming.weight_name(layer), shape, "weight")

    def biases(self, layer: int) -> MatrixQuantity | None:
        if self.spec.bias != "vector":
            return None
        fan_out = self.units(layer + 1)
        shape = (1, fan_out) if self.is_row else (fan_out, 1)
        return MatrixQuantity(naming.bias_name(layer), shape, "bias")

    def pre_activation(self, layer: int) -> MatrixQuantity:
        return MatrixQuantity(naming.pre_activation_name(layer), self._activation_shape(self.units(layer)),
                              "pre_activation")

    def activation(self, layer: int) -> MatrixQuantity:
        kind = "input" if layer == 1 else "activation"
        return MatrixQuantity(naming.activation_name(layer), self._activation_shape(self.units(layer)), kind)

    def delta(self, layer: int) -> MatrixQuantity:
        return MatrixQuantity(naming.delta_name(layer), self._activation_shape(self.units(layer)), "delta")

    @property
    def output(self) -> MatrixQuantity:
        return self.activation(self.output_layer)

    def parameters(self) -> list[MatrixQuantity]:
        """The parameter matrices in unrolling order: W1, b1, W2, b2, ..."""
        found = []
        for layer in range(1, self.output_layer):
            found.append(self.weights(layer))
            bias = self.biases(layer)
            if bias is not None:
                found.append(bias)
        return found

    def is_bias_weight(self, weights: MatrixQuantity, position: tuple[int, int]) -> bool:
        """True for the entries of W that multiply Ng's constant bias unit."""
        if not self.has_bias_unit:
            return False
        return position[0] == 0 if self.is_row else position[1] == 0

    # --- layer expressions -----------------------------------------------------------------
    def pre_activation_terms(self, layer: int) -> dict[tuple[int, int], tuple[Term, ...]]:
        """The products summed into each entry of z(layer), unevaluated so wide layers stay cheap."""
        return _pre_activation_terms(self.spec, layer)

    def pre_activation_entry(self, layer: int, position: tuple[int, int]) -> sp.Expr:
        """z(layer) at `position` as a sum over the previous layer, e.g. X_0_0*W1_0_1 + X_0_1*W1_1_1."""
        return canonical_sum(self.pre_activation_terms(layer)[position])

    def activation_entry(self, layer: int, position: tuple[int, int]) -> sp.Expr:
        """a(layer) at `position` in terms of z(layer) symbols: f(z) or softmax of its example."""
        name = self.spec.activation(layer)
        z = self.pre_activation(layer)
        if name != "softmax":
            return activation_entry(name).opaque(z.entry(*position))
        example, unit = self.example_unit(position)
        exponentials, total = self.softmax_terms(layer, example)
        return exponentials[unit] / total

    def softmax_terms(self, layer: int, example: int) -> tuple[tuple[sp.Expr, ...], sp.Expr]:
        """exp(z) of each unit of one example at a softmax layer, and their sum: built once, as a
        K-way softmax reads them K^2 times per example."""
        return _softmax_terms(self, layer, example)[:2]

    def softmax_unit(self, layer: int, example: int, z_symbol: sp.Symbol) -> int | None:
        """The unit whose z is z_symbol among one example's, or None when it is not one of them."""
        return _softmax_terms(self, layer, example)[2].get(z_symbol)

    # --- cost ----------------------------------------------------------------------------
    def example_loss(self, example: int) -> sp.Expr:
        """The loss of one example in terms of its output symbols (a(L) entries) and targets."""
        units = range(self.units(self.output_layer))
        targets = [self.targets.entry(*self.position(example, k)) for k in units]
        outputs = [self.output.entry(*self.position(example, k)) for k in units]
        return cost_entry(self.spec.cost).example_loss(targets, outputs)

    @property
    def reduction(self) -> sp.Expr:
        return reduction_factor(self.spec.reduction, self.spec.m)

    @property
    def regularization_factor(self) -> sp.Expr:
        """The factor in front of sum theta^2: lambda/2, over m when the cost is a mean."""
        if self.spec.l2 == 0:
            return sp.Integer(0)
        return L2_STRENGTH / 2 * self.reduction

    def regularized_entries(self, weights: MatrixQuantity) -> list[sp.Symbol]:
        return [weights.entry(*p) for p in weights.positions() if not self.is_bias_weight(weights, p)]

    @cached_property
    def data_cost(self) -> sp.Expr:
        """The reduced sum of the examples' losses, in terms of the output symbols and targets."""
        return self.reduction * sp.Add(*[self.example_loss(n) for n in range(self.spec.m)])

    @cached_property
    def regularization_term(self) -> sp.Expr:
        """lambda/2 (over m for a mean) times the sum of squared non-bias weights; 0 without L2."""
        factor = self.regularization_factor
        if factor == 0:
            return sp.Integer(0)
        return factor * sp.Add(*[w ** 2 for layer in range(1, self.output_layer)
                                 for w in self.regularized_entries(self.weights(layer))])

    @cached_property
    def regularized_symbols(self) -> frozenset[sp.Symbol]:
        if self.regularization_factor == 0:
            return frozenset()
        return frozenset(w for layer in range(1, self.output_layer)
                         for w in self.regularized_entries(self.weights(layer)))

    @property
    def cost(self) -> sp.Expr:
        """J in terms of the output symbols, the targets and (for L2) the weights."""
        return self.data_cost + self.regularization_term

    def full_cost(self, concrete: bool = False) -> sp.Expr:
        """J as one expression of inputs, weights, biases and targets (the oracle's input).

        With concrete=False the activations stay opaque (f, f'), so what is proved holds for
        every activation; with concrete=True each is its formula (1/(1 + exp(-x)), ...).
        """
        return _full_cost(self.spec, concrete)


def symbolic_network(spec: NetworkSpec) -> SymbolicNetwork:
    """The symbolic network of `spec`; the same object for the same spec."""
    return _network(spec)


@lru_cache(maxsize=64)
def _network(spec: NetworkSpec) -> SymbolicNetwork:
    return SymbolicNetwork(spec)


@lru_cache(maxsize=4096)
def _softmax_terms(network: SymbolicNetwork, layer: int, example: int):
    z = network.pre_activation(layer)
    symbols = [z.entry(*network.position(example, k)) for k in range(network.units(layer))]
    exponentials = tuple(sp.exp(symbol) for symbol in symbols)
    return exponentials, sp.Add(*exponentials), {symbol: k for k, symbol in enumerate(symbols)}


@lru_cache(maxsize=64)
def _pre_activation_terms(spec: NetworkSpec, layer: int) -> dict[tuple[int, int], tuple[Term, ...]]:
    network = symbolic_network(spec)
    terms: dict[tuple[int, int], tuple[Term, ...]] = {}
    for example in range(spec.m):
        for unit in range(network.units(layer)):
            products = []
            if network.has_bias_unit:
                products.append(_bias_unit_term(network, layer, unit))
            products += [_product_term(network, layer, example, unit, source)
                         for source in range(network.units(layer - 1))]
            if network.biases(layer - 1) is not None:
                products.append(_bias_term(network, layer, unit))
            terms[network.position(example, unit)] = tuple(products)
    return terms


def _product_term(network: SymbolicNetwork, layer: int, example: int, unit: int, source: int) -> Term:
    """a(layer-1)[example, source] * W(layer-1)[source, unit], one product of z(layer)[example, unit]."""
    offset = 1 if network.has_bias_unit else 0
    a = network.activation(layer - 1).entry(*network.position(example, source))
    w = network.weights(layer - 1).entry(*((source + offset, unit) if network.is_row else (unit, source + offset)))
    # built without SymPy's argument processing (3x faster unevaluated, 8x faster raw): at
    # 784-30-10 these 94,080 products were most of the derivation's time
    return Term(sp.Mul._from_args((a, w) if network.is_row else (w, a)), (a, w))


def _bias_unit_term(network: SymbolicNetwork, layer: int, unit: int) -> Term:
    """Ng's bias weight of `unit`, times the constant 1."""
    bias_weight = network.weights(layer - 1).entry(*((0, unit) if network.is_row else (unit, 0)))
    return Term(bias_weight, (bias_weight,))


def _bias_term(network: SymbolicNetwork, layer: int, unit: int) -> Term:
    b = network.biases(layer - 1).entry(*((0, unit) if network.is_row else (unit, 0)))
    return Term(b, (b,))


def terms_containing(network: SymbolicNetwork, layer: int, quantity: MatrixQuantity,
                     position: tuple[int, int]) -> tuple[tuple[tuple[int, int], Term], ...]:
    """The products of z(layer) that contain quantity[position], with the z entry of each.

    Read off the product's index structure instead of scanning the layer: z(layer)[n, k] sums
    a[n, i] W[i, k] (+ b[k]), so a weight or bias of unit k sits in entry (n, k) of every example
    n, and a[n, i] in entry (n, k) of every unit k. At 784-100-10 the scan built 78,400 products
    per example to use a few dozen. Equal to filtering pre_activation_terms (tests compare them).
    """
    examples, units = range(network.spec.m), range(network.units(layer))
    offset = 1 if network.has_bias_unit else 0
    if quantity.kind in ("input", "activation"):
        example, source = network.example_unit(position)
        found = [((example, unit), _product_term(network, layer, example, unit, source)) for unit in units]
    elif quantity.kind == "bias":
        unit = position[1] if network.is_row else position[0]
        found = [((example, unit), _bias_term(network, layer, unit)) for example in examples]
    elif quantity.kind == "weight":
        row, unit = position if network.is_row else (position[1], position[0])
        if offset and row == 0:
            found = [((example, unit), _bias_unit_term(network, layer, unit)) for example in examples]
        else:
            found = [((example, unit), _product_term(network, layer, example, unit, row - offset))
                     for example in examples]
    else:
        raise ValueError(f"z({layer}) is built from activations, weights and biases, not {quantity.kind}")
    return tuple((network.position(*example_unit), term) for example_unit, term in found)


@lru_cache(maxsize=32)
def forward_values(spec: NetworkSpec, start: int = 1) -> dict[sp.Symbol, sp.Expr]:
    """Every z and a symbol after layer `start` as an expression of z(start) (of X for start 1)."""
    network = symbolic_network(spec)
    values: dict[sp.Symbol, sp.Expr] = {}
    if start > 1:
        a = network.activation(start)
        for position in a.positions():
            values[a.entry(*position)] = network.activation_entry(start, position)
    for layer in range(start + 1, network.output_layer + 1):
        z = network.pre_activation(layer)
        z_values = {z.entry(*p): canonical_sum(terms).xreplace(values)
                    for p, terms in network.pre_activation_terms(layer).items()}
        a = network.activation(layer)
        for position in a.positions():
            values[a.entry(*position)] = network.activation_entry(layer, position).xreplace(z_values)
        values.update(z_values)
    return values


def with_concrete_activations(expression: sp.Expr, spec: NetworkSpec) -> sp.Expr:
    """The opaque f and f' of each activation replaced by their formulas (1/(1 + exp(-x)), ...)."""
    from derive.network.activations import concrete_replacements

    replacements = concrete_replacements(set(spec.activations))
    if not replacements:
        return expression
    return expression.replace(lambda e: type(e) in replacements, lambda e: replacements[type(e)](*e.args))


@lru_cache(maxsize=16)
def _full_cost(spec: NetworkSpec, concrete: bool) -> sp.Expr:
    full = symbolic_network(spec).cost.xreplace(forward_values(spec))
    return with_concrete_activations(full, spec) if concrete else full
