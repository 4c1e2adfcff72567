"""The staged computational graph: the paths it draws are the chain rule's paths."""

import pytest

from derive.normalization.graph import EDGES, STAGES, staged_graph


def _paths(start, end):
    following = {}
    for a, b, _ in EDGES:
        following.setdefault(a, []).append(b)
    found, stack = [], [[start]]
    while stack:
        path = stack.pop()
        if path[-1] == end:
            found.append(path)
            continue
        stack += [path + [b] for b in following.get(path[-1], [])]
    return found


def test_graph_has_four_paths_from_x_to_x_hat_as_the_derivation_has():
    # direct, through mu, through sigma^2, and through mu inside sigma^2 (derivation.chain_rule_paths)
    paths = _paths("x", "xhat")
    assert len(paths) == 4
    assert sum("var" in p and "mu" in p for p in paths) == 1
    assert sum("var" not in p and "mu" not in p for p in paths) == 1


def test_every_edge_joins_two_stages():
    names = {node for node, _, _ in STAGES}
    assert all(a in names and b in names for a, b, _ in EDGES)


@pytest.mark.parametrize("kind, axis", [("batch", "axis 0"), ("layer", "axis 1")])
def test_graph_title_names_the_axis_of_the_statistics(kind, axis):
    assert axis in staged_graph(kind).source
