"""Derived, hand-written and finite differences agree on convolution and pooling; a wrong route is caught."""

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from checks.convolution.check import check_layer, default_point, finite_differences, hand_written, verdict_text
from derive.convolution.layer import make_layer
from derive.convolution.routes import matrix_route, rotated_dx

LAYERS = {
    "conv2d stride 2": make_layer("conv2d", 2, 3, (7, 7), (3, 3), stride=2, padding=1, filters=4),
    "conv2d valid": make_layer("conv2d", 1, 1, (5, 5), (3, 3), stride=1, padding=0, filters=2),
    "conv2d stride 3 leftover rows": make_layer("conv2d", 1, 2, (8, 7), (3, 2), stride=3, padding=0, filters=2),
    "conv1d": make_layer("conv1d", 2, 2, (9,), (3,), stride=2, padding=2, filters=3),
    "maxpool": make_layer("maxpool", 2, 3, (6, 6), (2, 2), stride=2),
    "maxpool overlapping": make_layer("maxpool", 1, 2, (7, 7), (3, 3), stride=2),
    "avgpool": make_layer("avgpool", 2, 3, (7, 7), (3, 3), stride=2),
}


@pytest.mark.parametrize("name", LAYERS)
def test_the_three_routes_agree(name):
    verdict = check_layer(default_point(LAYERS[name]))
    assert verdict.agree, verdict_text(verdict)


@pytest.mark.parametrize("name", ["conv2d stride 2", "conv1d", "conv2d stride 3 leftover rows"])
def test_dX_by_the_rotated_kernel_equals_col2im_of_W_col_transposed_G(name):
    point = default_point(LAYERS[name])
    assert np.allclose(rotated_dx(point.layer, point.w, point.g), matrix_route(point.layer, point.x, point.g, point.w)["dX"],
                       rtol=0, atol=1e-12)


def test_at_a_max_pool_tie_each_tied_entry_gets_half_by_every_route():
    point = default_point(LAYERS["maxpool"])
    window = point.x[0, 0, :2, :2]
    tied = np.argwhere(window == window.max())
    assert len(tied) == 2
    for route in (matrix_route(point.layer, point.x, point.g)["dX"], hand_written(point)["dX"],
                  finite_differences(point)["dX"]):
        assert np.allclose([route[0, 0, a, b] for a, b in tied], point.g[0, 0, 0, 0] / 2, atol=1e-9)


def test_a_hand_written_route_with_an_unflipped_kernel_is_caught():
    point = default_point(LAYERS["conv2d stride 2"])
    wrong = rotated_dx(point.layer, point.w[:, :, ::-1, ::-1], point.g)
    verdict = check_layer(point, {"hand_written": {**hand_written(point), "dX": wrong}})
    assert not verdict.agree and "DISAGREE" in verdict_text(verdict)


def test_a_derived_route_with_db_not_summed_over_positions_is_caught():
    point = default_point(LAYERS["conv2d valid"])
    routes = matrix_route(point.layer, point.x, point.g, point.w)
    verdict = check_layer(point, {"derived": {**routes, "db": point.g.sum(axis=0)}})
    assert not verdict.agree and verdict.shape_errors


def test_a_max_pool_route_that_sends_G_to_the_whole_window_is_caught():
    point = default_point(LAYERS["maxpool"])
    everywhere = np.repeat(np.repeat(point.g, 2, axis=2), 2, axis=3)
    assert not check_layer(point, {"derived": {"dX": everywhere}}).agree


def test_the_reference_imports_only_numpy():
    tree = ast.parse(Path("checks/convolution/reference.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"numpy", "__future__"}


def test_derive_convolution_does_not_import_checks():
    for path in Path("derive/convolution").glob("*.py"):
        assert "checks" not in {n.module.split(".")[0] for n in ast.walk(ast.parse(path.read_text()))
                                if isinstance(n, ast.ImportFrom) and n.module}, path


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 8), kernel=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 2),
       filters=st.integers(1, 3), channels=st.integers(1, 3), one_d=st.booleans(), seed=st.integers(0, 99))
def test_derived_and_hand_written_agree_at_random_sizes(size, kernel, stride, padding, filters, channels, one_d, seed):
    assume(kernel <= size + 2 * padding)
    spatial = (size,) if one_d else (size, size + 1)
    layer = make_layer("conv1d" if one_d else "conv2d", 2, channels, spatial, (kernel,) * len(spatial), stride,
                       padding, filters)
    point = default_point(layer, seed)
    derived, written = matrix_route(layer, point.x, point.g, point.w), hand_written(point)
    for name in ("dX", "dW", "db"):
        assert np.allclose(derived[name], written[name], rtol=0, atol=1e-10), name
    assert np.allclose(rotated_dx(layer, point.w, point.g), written["dX"], rtol=0, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(size=st.integers(2, 8), kernel=st.integers(1, 3), stride=st.integers(1, 3), kind=st.sampled_from(["maxpool", "avgpool"]),
       seed=st.integers(0, 99))
def test_pooling_derived_and_hand_written_agree_at_random_sizes(size, kernel, stride, kind, seed):
    assume(kernel <= size)
    layer = make_layer(kind, 2, 2, (size, size), (kernel, kernel), stride)
    point = default_point(layer, seed)
    assert np.allclose(matrix_route(layer, point.x, point.g)["dX"], hand_written(point)["dX"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("window", [[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 0.0], [4.0, 1.0, 2.0, 3.0]])
def test_the_max_pool_selector_is_the_circuits_max_rule_at_ties(window):
    from derive.circuits.circuit import GATES
    from derive.convolution.numeric import max_selector

    layer = make_layer("maxpool", 1, 1, (2, 2), (2, 2), stride=2)
    x = np.array(window).reshape(layer.input_shape)
    circuit = GATES["max"].local(tuple(window), max(window))
    assert list(max_selector(layer, x)[0, :, 0]) == list(circuit)
