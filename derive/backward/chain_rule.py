"""The chain rule, entry by entry and layer by layer, with z, a and delta kept as symbols.

Row form, layer l (the column form swaps the two indices of every matrix):
    dJ/da(l)[n, j]  = sum_k delta(l+1)[n, k] * dz(l+1)[n, k]/da(l)[n, j]
    delta(l)[n, j]  = dJ/da(l)[n, j] * da(l)[n, j]/dz(l)[n, j]
    dJ/dW(l)[i, k]  = sum_n delta(l+1)[n, k] * dz(l+1)[n, k]/dW(l)[i, k]
Every local partial is SymPy's diff of the expression it belongs to; the sums run over exactly
the entries of z(l+1) that contain the symbol, with the products that contain it
(derive.network.symbols.terms_containing).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from derive.network.symbols import MatrixQuantity, SymbolicNetwork, terms_containing


def through_next_layer(network: SymbolicNetwork, layer: int, quantity: MatrixQuantity,
                       position: tuple[int, int]) -> sp.Expr:
    """dJ/d(quantity[position]) through z(layer): sum over the z(layer) entries q containing it of
    delta(layer)[q] * dz(layer)[q]/d(quantity[position])."""
    delta = network.delta(layer)
    symbol = quantity.entry(*position)
    return sp.Add(*[sp.Mul(delta.entry(*entry), local_partial(term.expression, symbol))
                    for entry, term in terms_containing(network, layer, quantity, position)])


def local_partial(term: sp.Expr, symbol: sp.Symbol) -> sp.Expr:
    """d term / d symbol for one product of z: the product rule over its factors, each factor's
    derivative by SymPy's own rule for it (Symbol._eval_derivative: 1 for the symbol, else 0).

    Mul._eval_derivative is the same product rule, but it reaches each factor through diff,
    which builds and evaluates a Derivative object per factor: 0.2 ms a term, most of the
    chain rule's time at 784-100-10. The derivative is the same expression either way (tested).
    """
    if not term.is_Mul:
        return term._eval_derivative(symbol)
    factors = term.args
    parts = []
    for index, factor in enumerate(factors):
        derivative = factor._eval_derivative(symbol)
        if derivative != 0:
            parts.append(sp.Mul(*factors[:index], derivative, *factors[index + 1:]))
    return sp.Add(*parts)


@lru_cache(maxsize=4096)  # softmax's delta needs each output's gradient once per unit of its example
def output_gradient(network: SymbolicNetwork, position: tuple[int, int]) -> sp.Expr:
    """dJ/dyhat at one output entry: SymPy's diff of the loss of that entry's example.

    The other examples' losses do not contain this output, so their derivative is 0.
    """
    example, _ = network.example_unit(position)
    output = network.output.entry(*position)
    # only the loss's terms that hold this output: the rest differentiate to 0, and a K-way loss
    # diffed whole for each of its K outputs costs K^2 (minutes at 1,000 classes)
    terms = _loss_terms_by_output(network, example).get(output, ())
    return sp.diff(network.reduction * sp.Add(*terms), output)


@lru_cache(maxsize=4096)
def _loss_terms_by_output(network: SymbolicNetwork, example: int) -> dict[sp.Symbol, tuple[sp.Expr, ...]]:
    """The terms of one example's loss, by the output symbols each holds."""
    outputs = {network.output.entry(*network.position(example, k)) for k in range(network.units(network.output_layer))}
    terms: dict[sp.Symbol, list[sp.Expr]] = {}
    for term in sp.Add.make_args(network.example_loss(example)):
        for symbol in term.free_symbols & outputs:
            terms.setdefault(symbol, []).append(term)
    return {symbol: tuple(held) for symbol, held in terms.items()}


def activation_derivative(network: SymbolicNetwork, layer: int, position: tuple[int, int]) -> sp.Expr:
    """da(layer)/dz(layer) at one entry: SymPy's diff of f(z), i.e. f'(z) as an opaque function.

    Softmax needs sp.diff; an elementwise f(z) goes straight to SymPy's rule for a function
    (Function._eval_derivative: f'(z) dz/dz), which is what diff calls after building a
    Derivative object first.
    """
    z = network.pre_activation(layer).entry(*position)
    value = network.activation_entry(layer, position)
    if isinstance(value, sp.Function):
        return value._eval_derivative(z)
    return sp.diff(value, z)


def output_delta(network: SymbolicNetwork, position: tuple[int, int]) -> sp.Expr:
    """delta(L) = dJ/dz(L) at one entry.

    Elementwise f: dJ/dyhat[n, k] * f'(z[n, k]). Softmax couples one example's outputs:
    sum_j dJ/dyhat[n, j] * dyhat[n, j]/dz[n, k], with the derivative rewritten in yhat.
    """
    layer = network.output_layer
    if network.spec.output_activation != "softmax":
        return output_gradient(network, position) * activation_derivative(network, layer, position)
    example, unit = network.example_unit(position)
    z = network.pre_activation(layer)
    # each product expanded on its own and added once: `total +=` rebuilds the sum K times
    products = (output_gradient(network, network.position(example, j))
                * softmax_partial(network, network.position(example, j), z.entry(*position))
                for j in range(network.units(layer)))
    return sp.Add(*(_expanded(product) for product in products))


def _expanded(product: sp.Expr) -> sp.Expr:
    """sp.expand, skipped for a product with no sum in it (the K - 1 off-diagonal terms of a softmax
    delta, y_j yhat_k / m: expand leaves them as they are, at 0.3 ms each)."""
    return sp.expand(product) if product.has(sp.Add) else product


# The softmax partial is found once per shape of expression: the z of the output unit, the z it is
# taken by and the rest of the sum are renamed to these before SymPy's diff, and back after it.
_Z_OUT, _Z_BY = sp.symbols("zeta_out zeta_by")
_YHAT_OUT, _YHAT_BY = sp.symbols("yhat_out yhat_by")
_REST = sp.Symbol("R_softmax", positive=True)


def softmax_partial(network: SymbolicNetwork, output_position: tuple[int, int], z_symbol: sp.Symbol) -> sp.Expr:
    """d yhat[output]/d z, by SymPy's diff of exp(z_j)/sum_i exp(z_i), rewritten with yhat.

    The network's own softmax entry is read, and the exponentials of its sum that hold neither z_j
    nor z become one symbol R: they do not depend on z, so the derivative is the same. With z_j and
    z renamed, the K^2 partials of an example are then two expressions, each differentiated once
    (renaming symbols commutes with diff): a 100-way softmax took minutes, now well under a second.
    """
    layer = network.output_layer
    example, _ = network.example_unit(output_position)
    z = network.pre_activation(layer)
    exponentials, total = network.softmax_terms(layer, example)
    z_out = z.entry(*output_position)
    by = network.softmax_unit(layer, example, z_symbol)
    if by is None:  # z is not one of this example's: no path
        return sp.Integer(0)
    involved = tuple(dict.fromkeys((sp.exp(z_out), exponentials[by])))
    reduced = network.activation_entry(layer, output_position).xreplace({total: sp.Add(*involved, _REST)})
    renaming = {z_out: _Z_OUT, z_symbol: _Z_BY} if z_symbol != z_out else {z_out: _Z_OUT}
    pattern = _partial_in_outputs(reduced.xreplace(renaming), _Z_BY if z_symbol != z_out else _Z_OUT)
    output = network.output
    return pattern.xreplace({_YHAT_OUT: output.entry(*output_position),
                             _YHAT_BY: output.entry(*network.position(example, by))})


@lru_cache(maxsize=None)
def _partial_in_outputs(expression: sp.Expr, by: sp.Symbol) -> sp.Expr:
    """SymPy's diff of a renamed softmax entry, rewritten with yhat_out and yhat_by and cancelled."""
    total = sp.Symbol("S_softmax", positive=True)
    derivative = sp.diff(expression, by)
    exponentials = [e for e in (sp.exp(_Z_OUT), sp.exp(_Z_BY)) if e.args[0] in expression.free_symbols]
    derivative = derivative.xreplace({sp.Add(*exponentials, _REST): total})
    # subs, not xreplace: SymPy writes exp(z)**2 as exp(2 z), and subs knows they are the same
    for exponential, yhat in zip((sp.exp(_Z_OUT), sp.exp(_Z_BY)), (_YHAT_OUT, _YHAT_BY)):
        if exponential in exponentials:
            derivative = derivative.subs(exponential, yhat * total)
    return sp.cancel(derivative)


def activation_gradient(network: SymbolicNetwork, layer: int, position: tuple[int, int]) -> sp.Expr:
    """dJ/da(layer) at one entry, through z(layer + 1)."""
    return through_next_layer(network, layer + 1, network.activation(layer), position)


def hidden_delta(network: SymbolicNetwork, layer: int, position: tuple[int, int],
                 upstream: sp.Expr) -> sp.Expr:
    """delta(layer) at one entry: the upstream dJ/da times SymPy's da/dz."""
    return sp.Mul(upstream, activation_derivative(network, layer, position))


def parameter_gradient(network: SymbolicNetwork, layer: int, quantity: MatrixQuantity,
                       position: tuple[int, int]) -> sp.Expr:
    """The data part of dJ/d(parameter) for an entry of W(layer) or b(layer), through z(layer+1)."""
    return through_next_layer(network, layer + 1, quantity, position)


def regularization_gradient(network: SymbolicNetwork, symbol: sp.Symbol) -> sp.Expr:
    """The L2 term's part of dJ/d(symbol): SymPy's diff of J's regularization term."""
    # The squares of the other weights do not contain the symbol, so only its own square counts.
    if symbol not in network.regularized_symbols:
        return sp.Integer(0)
    return sp.diff(network.regularization_factor * symbol ** 2, symbol)
