"""The delta-collapsing rules agree with SymPy's own summation once the sizes are numbers.

At symbolic N and D SymPy cannot sum the Kronecker deltas (its doit crashes); at N x D = 3 x 2 it
expands every sum term by term. That is a second route to each stage of every chain-rule path.
"""

from functools import lru_cache

import pytest
import sympy as sp

from derive.normalization import derive_normalization
from derive.normalization.derivation import p, q
from derive.normalization.forward import MU, S, XHAT, X
from derive.normalization.index_calculus import D, N

SIZES = {N: 3, D: 2}
ENTRIES = [(0, 0), (2, 1)]


@lru_cache(maxsize=None)
def derived(kind):
    return derive_normalization(kind)


def _concrete(expression, entry):
    """Numbers for N, D, p, q, every Sum expanded by SymPy, (v + eps)^e written s^(2e)."""
    expression = expression.xreplace({**SIZES, p: entry[0], q: entry[1]}).doit()
    return derived("batch").layer.name_root(expression)


def _mean(layer, t):
    count = SIZES[layer.count]
    return sum(X[layer.along(k, t)] for k in range(count)) / sp.Integer(count)


def _in_x(layer, expression):
    """xhat -> (x - mu) / s, then mu -> the mean of x written out."""
    expression = expression.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == XHAT,
        lambda e: (X[e.indices] - MU[layer.statistic_index(*e.indices)]) / S[layer.statistic_index(*e.indices)])
    return expression.replace(lambda e: isinstance(e, sp.Indexed) and e.base == MU, lambda e: _mean(layer, e.indices[0]))


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("stage", ["before_mean_rule", "collapsed", "in_statistics"])
def test_every_stage_of_every_path_equals_sympys_expanded_sum_at_three_by_two(kind, entry, stage):
    layer = derived(kind).layer
    for path in derived(kind).dX.paths:
        ours = _concrete(getattr(path, stage), entry)
        sympys = _concrete(path.chain_rule, entry)
        if stage != "before_mean_rule":  # the later stages used sum_k x = M mu: say what mu is
            ours, sympys = _in_x(layer, ours), _in_x(layer, sympys)
        assert sp.expand(ours - sympys) == 0, path.name


def test_the_comparison_notices_a_wrong_stage():
    path = derived("batch").dX.paths[1]  # through mu
    assert sp.expand(_concrete(2 * path.collapsed, (0, 0)) - _concrete(path.chain_rule, (0, 0))) != 0
