"""The gradients of batch norm and layer norm, found from the forward pass by index calculus.

For one entry x[p, q] the chain rule over the computation graph x -> (mu, v) -> y -> J has
three paths, and the one through the variance has two parts:

    dJ/dx[p,q] = sum_{n,j} G[n,j] dy[n,j]/dx[p,q]                                (direct)
               + sum_{n,j,r} G[n,j] dy[n,j]/dmu[r] dmu[r]/dx[p,q]                 (through mu)
               + sum_{n,j,r} G[n,j] dy[n,j]/dv[r] dv[r]/dx[p,q]                   (through sigma^2)
               + sum_{n,j,r,t} G[n,j] dy[n,j]/dv[r] dv[r]/dmu[t] dmu[t]/dx[p,q]   (mu inside sigma^2)

SymPy writes each local partial with Kronecker deltas; index_calculus collapses them; the last
path is sum_k 2 (x[k,q] - mu[q]) (...) = 0 because sum_k x[k,q] = N mu[q]. What is left, written
in xhat and s = sqrt(v + eps), is factored and read back as a matrix expression.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.normalization import matrix_expression as mx
from derive.normalization.forward import BETA, GAMMA, G, MU, S, VAR, X, XHAT, NormalizationLayer
from derive.normalization.index_calculus import (
    CANONICAL, COL, D, N, ROW, SIZE, Placeholders, substitute, to_terms, with_placeholders)

p, q = sp.symbols("p q", integer=True, nonnegative=True)  # the entry being differentiated
n, j, r, t = sp.symbols("n j r t", integer=True, nonnegative=True)


@dataclass(frozen=True)
class PathTerm:
    """One chain-rule path from x to J, at three stages of the collapse."""

    name: str
    chain_rule: sp.Expr  # the indexed sum of products of local partials, with Kronecker deltas
    before_mean_rule: sp.Expr  # deltas summed out, sums named, nothing imposed (factored)
    collapsed: sp.Expr  # deltas summed out, sum_k x = M mu imposed, in x, mu, s; sums as Sum
    in_statistics: sp.Expr  # the same in xhat and s = sqrt(v + epsilon)

    @property
    def vanishes(self) -> bool:
        return self.collapsed == 0


_LHS_LATEX = {"dX": "X", "dgamma": r"\gamma", "dbeta": r"\beta"}


@dataclass(frozen=True)
class Gradient:
    """One gradient: its entry in index form, its matrix form, and the paths that made it."""

    name: str  # "dX", "dgamma", "dbeta"
    entry: sp.Expr  # dJ/d(parameter) at (p, q) (or q), in xhat and s, sums shown as Sum
    matrix: mx.Node
    paths: tuple[PathTerm, ...]

    def latex(self) -> str:
        """The matrix form as one line of LaTeX (no left-hand side)."""
        return mx.latex(self.matrix)

    def equation_latex(self) -> str:
        r"""\frac{\partial J}{\partial X} = ..., one line."""
        return f"\\frac{{\\partial J}}{{\\partial {_LHS_LATEX[self.name]}}} = {self.latex()}"

    def numpy_text(self) -> str:
        return mx.numpy_text(self.matrix)

    def evaluate(self, values: dict, arithmetic: mx.Arithmetic = mx.Arithmetic()):
        """The matrix form's value; values maps G, Xhat, gamma, s, N, D (see matrix_expression.evaluate).

        Pass mx.ModularArithmetic() with object arrays of ints for GF(2^61 - 1)."""
        return mx.evaluate(self.matrix, values, arithmetic)


@dataclass(frozen=True)
class NormalizationGradients:
    """dX, dgamma and dbeta of one normalisation layer, found from its forward pass."""

    layer: NormalizationLayer
    dX: Gradient
    dgamma: Gradient
    dbeta: Gradient
    why_mu_inside_variance_vanishes: str

    @property
    def gradients(self) -> tuple[Gradient, ...]:
        return (self.dX, self.dgamma, self.dbeta)


def chain_rule_paths(layer: NormalizationLayer) -> dict[str, sp.Expr]:
    """The four chain-rule sums for dJ/dx[p, q], each with SymPy's own local partials."""
    stat_size = SIZE[layer.statistic_axis]
    outer = ((n, 0, N - 1), (j, 0, D - 1))
    y = layer.output(n, j)
    mean_r, mean_t = layer.mean(r), layer.mean(t)
    variance_r = layer.variance(r)
    return {
        "direct": sp.Sum(G[n, j] * sp.diff(y, X[p, q]), *outer),
        "through mu": sp.Sum(G[n, j] * sp.diff(y, MU[r]) * sp.diff(mean_r, X[p, q]), *outer, (r, 0, stat_size - 1)),
        "through sigma^2": sp.Sum(G[n, j] * sp.diff(y, VAR[r]) * sp.diff(variance_r, X[p, q]),
                                 *outer, (r, 0, stat_size - 1)),
        "through mu inside sigma^2": sp.Sum(
            G[n, j] * sp.diff(y, VAR[r]) * sp.diff(variance_r, MU[t]) * sp.diff(mean_t, X[p, q]),
            *outer, (r, 0, stat_size - 1), (t, 0, stat_size - 1)),
    }


@dataclass(frozen=True)
class Stages:
    """One chain-rule sum at each stage of the collapse, as placeholder expressions."""

    before_mean_rule: sp.Expr  # Kronecker deltas summed out, in x, mu and s
    collapsed: sp.Expr  # and sum_k x = M mu imposed
    in_statistics: sp.Expr  # and rewritten in xhat and s


def reduce_entry(expression: sp.Expr, layer: NormalizationLayer, placeholders: Placeholders) -> Stages:
    """Collapse an indexed chain-rule sum with the rules of index_calculus, stage by stage."""
    rules = (layer.mean_rule(),)
    terms = to_terms(layer.name_root(expression))
    before = with_placeholders(terms, placeholders)
    collapsed = with_placeholders(terms, placeholders, rules)
    rewritten = substitute(placeholders.to_terms(collapsed), layer.name_xhat)
    in_statistics = with_placeholders(rewritten, placeholders, rules + (layer.centred_rule(),))
    return Stages(before, collapsed, in_statistics)


def _leaf(indexed: sp.Indexed, layer: NormalizationLayer) -> mx.Leaf:
    """The matrix leaf an entry stands for; only entry (p, q) of a matrix, gamma[q], and the
    statistic of entry (p, q) broadcast; anything else (a transposed entry, say) is refused."""
    names = {G: "G", XHAT: "Xhat", GAMMA: "gamma", S: "s"}
    if indexed.base not in names:
        raise ValueError(f"{indexed} is left in the gradient: it has no matrix form here")
    if indexed.indices == (p, q):
        return mx.Leaf(names[indexed.base], mx.MATRIX)
    axis = COL if indexed.base == GAMMA else layer.statistic_axis
    if indexed.indices != ((q,) if axis == COL else (p,)):
        raise ValueError(f"{indexed} in entry (p, q) is not an entrywise or broadcast term")
    return mx.Leaf(names[indexed.base], mx.ROW_VECTOR if axis == COL else mx.COLUMN_VECTOR)


_FACTOR_ORDER = {mx.Number: 0, mx.Size: 1}
_LEAF_ORDER = ("G", "Xhat", "gamma", "s")


def _factor_key(node: mx.Node):
    if isinstance(node, mx.Leaf):
        return (2 if node.shape != mx.MATRIX else 4, _LEAF_ORDER.index(node.name))
    if isinstance(node, mx.Power):
        return (1, 0) if isinstance(node.base, mx.Size) else (3, 0)
    if isinstance(node, mx.AxisSum):
        return (5, 0)
    if isinstance(node, mx.Add):
        return (6, 0)
    return (_FACTOR_ORDER.get(type(node), 3), 0)


def _count_sums(node: mx.Node) -> int:
    if isinstance(node, mx.AxisSum):
        return 1 + _count_sums(node.argument)
    return sum(_count_sums(child) for child in mx.children(node))


def to_matrix(expression: sp.Expr, layer: NormalizationLayer, placeholders: Placeholders,
              broadcast: bool) -> mx.Node:
    """Read an entry (free indices p, q; sums as placeholders) back as a matrix expression."""
    symbols, nodes = {}, {}
    for indexed in expression.atoms(sp.Indexed):
        symbol = sp.Symbol(f"leaf_{indexed.base}")
        symbols[indexed], nodes[symbol] = symbol, _leaf(indexed, layer)
    for placeholder in expression.free_symbols & set(placeholders.groups):
        group, axis = placeholders.groups[placeholder]
        inside = to_matrix(group.xreplace({CANONICAL[axis]: p if axis == ROW else q}), layer, placeholders, False)
        nodes[placeholder] = mx.AxisSum(inside, 0 if axis == ROW else 1, broadcast)
    factored = sp.factor(expression.xreplace(symbols))
    # inside the bracket, one coefficient per array term: N (N - 1) G, not N^2 G - N G
    arrays = [s for s in nodes if s not in (N, D)]
    factored = sp.Mul(*[sp.collect(sp.expand(f), arrays, sp.factor) if isinstance(f, sp.Add) else f
                        for f in sp.Mul.make_args(factored)])
    return _from_sympy(factored, nodes)


def _from_sympy(expression: sp.Expr, nodes: dict) -> mx.Node:
    if expression in nodes:
        return nodes[expression]
    if expression in (N, D):
        return mx.Size(expression.name)
    if expression.is_Rational:
        return mx.Number(int(expression.p), int(expression.q))
    if isinstance(expression, sp.Pow) and expression.exp.is_Integer:
        return mx.Power(_from_sympy(expression.base, nodes), int(expression.exp))
    if not expression.free_symbols & set(nodes) and expression.free_symbols <= {N, D}:
        if isinstance(expression, sp.Add):
            return mx.Add(tuple(_from_sympy(a, nodes) for a in expression.args))
    if isinstance(expression, sp.Mul):
        return mx.Product(tuple(sorted((_from_sympy(a, nodes) for a in expression.args), key=_factor_key)))
    if isinstance(expression, sp.Add):
        terms = [_from_sympy(a, nodes) for a in expression.args]
        return mx.Add(tuple(sorted(terms, key=lambda node: (_count_sums(node), len(getattr(node, "factors", ()))))))
    raise ValueError(f"no matrix form for {expression}")


def _derive_one(name: str, paths: dict[str, sp.Expr], layer: NormalizationLayer, broadcast: bool) -> Gradient:
    placeholders = Placeholders()
    path_terms, total = [], sp.Integer(0)
    for path_name, chain in paths.items():
        stages = reduce_entry(chain, layer, placeholders)
        path_terms.append(PathTerm(path_name, chain, placeholders.as_sums(sp.factor(stages.before_mean_rule)),
                                   placeholders.as_sums(stages.collapsed), placeholders.as_sums(stages.in_statistics)))
        total += stages.in_statistics
    total = sp.expand(total)
    matrix = to_matrix(total, layer, placeholders, broadcast)
    return Gradient(name, placeholders.as_sums(sp.factor(total)), matrix, tuple(path_terms))


def derive_normalization(kind: str = "batch", unbiased: bool = False) -> NormalizationGradients:
    """Find dX, dgamma and dbeta of batch norm or layer norm from the forward pass alone.

    dX[p, q] = sum over the four chain-rule paths (see the module docstring); dgamma[q] and
    dbeta[q] = sum_{n,j} G[n, j] dy[n, j]/dgamma[q] (or beta[q]).

    Args:
        kind: "batch" (statistics per feature over the examples) or "layer" (per example).
        unbiased: divide the variance by M - 1 instead of M.

    Returns:
        NormalizationGradients, each gradient with its matrix expression (printable as LaTeX
        and NumPy text, evaluable in float64 and GF(p)) and its chain-rule paths as data.

    >>> print(derive_normalization("batch").dbeta.latex())
    \\mathbf{1}^\\top G
    """
    layer = NormalizationLayer(kind, unbiased)
    outer = ((n, 0, N - 1), (j, 0, D - 1))
    y = layer.output(n, j)
    dX = _derive_one("dX", chain_rule_paths(layer), layer, broadcast=True)
    dgamma = _derive_one("dgamma", {"direct": sp.Sum(G[n, j] * sp.diff(y, GAMMA[q]), *outer)}, layer, False)
    dbeta = _derive_one("dbeta", {"direct": sp.Sum(G[n, j] * sp.diff(y, BETA[q]), *outer)}, layer, False)
    statistic = "feature q over the examples" if kind == "batch" else "example p over its features"
    why = (f"dv/dmu = -(2/M') sum_k (x_k - mu) for the {statistic}, and sum_k x_k = M mu by the "
           "definition of mu, so sum_k (x_k - mu) = M mu - M mu = 0: the path through mu inside "
           "sigma^2 contributes nothing")
    return NormalizationGradients(layer, dX, dgamma, dbeta, why)
