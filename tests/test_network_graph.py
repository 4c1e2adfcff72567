"""The network view: seed 000's XOR net as matrix operations, and any other spec's."""

import subprocess
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.circuits.network_graph import (network_graph, network_latex, network_markdown,
                                  network_picture, network_text)
from derive.network.spec import XOR_SPEC, NetworkSpec, parse_spec

SVG_NS = "{http://www.w3.org/2000/svg}"


def _backward(graph):
    return [flow for flow in graph.flows if flow.direction == "backward"]


def test_xor_net_has_seed_000_quantities_with_their_shapes():
    # seed 000: 4 examples of 2 inputs in rows, 3 hidden units, 1 output, row form
    shapes = {q.label.plain: q.shape for q in network_graph(XOR_SPEC).quantities}
    assert shapes == {"X": (4, 2), "W(1)": (2, 3), "z(2)": (4, 3), "a(2)": (4, 3),
                      "W(2)": (3, 1), "z(3)": (4, 1), "ŷ": (4, 1), "y": (4, 1), "J": (1, 1)}


def test_xor_net_forward_formulas_are_seed_000s():
    formulas = [q.formula.plain for q in network_graph(XOR_SPEC).quantities if q.formula.plain]
    assert formulas == ["z(2) = X W(1)", "a(2) = f(z(2)), f = sigmoid", "z(3) = a(2) W(2)",
                        "ŷ = f(z(3)), f = sigmoid", "J = Σ ½ (y − ŷ)²"]


def test_xor_net_backward_edges_carry_seed_000s_deltas():
    labels = [flow.label.plain for flow in _backward(network_graph(XOR_SPEC))]
    assert labels == [
        "∂J/∂ŷ = −(y − ŷ)",
        "δ(3) = −(y − ŷ) ⊙ f′(z(3))",
        "∂J/∂W(2) = a(2)ᵀ δ(3)",
        "δ(3) W(2)ᵀ",
        "δ(2) = (δ(3) W(2)ᵀ) ⊙ f′(z(2))",
        "∂J/∂W(1) = Xᵀ δ(2)",
    ]


def test_backward_edges_run_from_the_cost_back_to_the_weights():
    edges = [(flow.target, flow.source) for flow in _backward(network_graph(XOR_SPEC))]
    assert edges == [("J", "a3"), ("a3", "z3"), ("z3", "W2"), ("z3", "a2"), ("a2", "z2"),
                     ("z2", "W1")]


def test_column_form_transposes_every_shape_but_the_weights_order():
    row = {q.key: q.shape for q in network_graph(XOR_SPEC).quantities}
    column_spec = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), convention="column")
    column = {q.key: q.shape for q in network_graph(column_spec).quantities}
    assert all(column[key] == row[key][::-1] for key in row)


def test_column_form_writes_w_before_a_and_transposes_w_going_back():
    graph = network_graph(NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), convention="column"))
    assert graph.quantity("z2").formula.plain == "z(2) = W(1) X"
    labels = [flow.label.plain for flow in _backward(graph)]
    assert "δ(2) = (W(2)ᵀ δ(3)) ⊙ f′(z(2))" in labels
    assert "∂J/∂W(1) = δ(2) Xᵀ" in labels


def test_bias_unit_adds_a_column_of_ones_and_drops_it_going_back():
    graph = network_graph(parse_spec("2-3-1", bias="unit"))
    assert graph.quantity("a2_ones").shape == (4, 4)
    assert graph.quantity("W2").shape == (4, 1)
    labels = [flow.label.plain for flow in _backward(graph)]
    assert "(δ(3) W(2)ᵀ)[:, 1:] drops the bias column" in labels


def test_vector_bias_gradient_sums_delta_over_examples():
    graph = network_graph(parse_spec("2-3-1", bias="vector"))
    assert graph.quantity("b1").shape == (1, 3)
    labels = [flow.label.plain for flow in _backward(graph)]
    assert "∂J/∂b(1) = 1ᵀ δ(2) (sum over examples)" in labels


def test_canonical_output_and_cost_pairs_collapse_delta_to_y_hat_minus_y():
    graph = network_graph(parse_spec("2-3-2", output_activation="softmax", cost="cce",
                                     reduction="mean"))
    labels = [flow.label.plain for flow in _backward(graph)]
    assert "δ(3) = (1/m) (ŷ − y)" in labels


def test_l2_adds_lambda_w_to_weight_gradients():
    graph = network_graph(parse_spec("2-3-1", l2=0.1))
    assert "∂J/∂W(1) = Xᵀ δ(2) + λ W(1)" in [flow.label.plain for flow in _backward(graph)]


SPECS = st.builds(
    lambda sizes, convention, bias, m: NetworkSpec(
        tuple(sizes), ("tanh",) * (len(sizes) - 1), convention=convention, bias=bias, m=m),
    st.lists(st.integers(1, 5), min_size=2, max_size=5), st.sampled_from(["row", "column"]),
    st.sampled_from(["none", "vector", "unit"]), st.integers(1, 6))


@settings(max_examples=60, deadline=None)
@given(spec=SPECS)
def test_shapes_multiply_as_numpy_matrices_for_any_spec(spec):
    # A second route for the shapes: NumPy multiplies arrays of the stated shapes.
    graph = network_graph(spec)
    arrays = {q.key: np.ones(q.shape) for q in graph.quantities}
    for layer in range(1, spec.layer_count):
        a = arrays[f"a{layer}_ones" if spec.bias == "unit" else f"a{layer}"]
        w = arrays[f"W{layer}"]
        z = a @ w if spec.convention == "row" else w @ a
        if spec.bias == "vector":
            z = z + arrays[f"b{layer}"]  # broadcasting must work too
        assert z.shape == arrays[f"z{layer + 1}"].shape
        if spec.bias == "unit":
            extra = (0, 1) if spec.convention == "row" else (1, 0)
            assert a.shape == tuple(s + e for s, e in zip(arrays[f"a{layer}"].shape, extra))


@settings(max_examples=60, deadline=None)
@given(spec=SPECS)
def test_every_gradient_has_the_shape_of_what_it_differentiates(spec):
    graph = network_graph(spec)
    for flow in _backward(graph):
        assert flow.shape == graph.quantity(flow.source).shape, flow.label.plain


@settings(max_examples=30, deadline=None)
@given(spec=SPECS)
def test_every_layer_has_a_weight_gradient_and_every_hidden_layer_a_delta(spec):
    labels = [flow.label.plain for flow in _backward(network_graph(spec))]
    for layer in range(1, spec.layer_count):
        assert any(label.startswith(f"∂J/∂W({layer}) = ") for label in labels)
    for layer in range(2, spec.layer_count + 1):
        assert any(label.startswith(f"δ({layer}) = ") for label in labels)


@pytest.mark.needs_dot
def test_svg_is_valid_and_shows_shapes_and_deltas():
    svg = network_picture(network_graph(XOR_SPEC), "svg")
    texts = " ".join(e.text for e in ElementTree.fromstring(svg).iter(f"{SVG_NS}text") if e.text)
    for fragment in ["X", "4×2", "W(1)", "2×3", "z(2) = X W(1)", "4×3",
                     "δ(2) = (δ(3) W(2)ᵀ)",
                     "∂J/∂W(1) = Xᵀ δ(2)", "J = Σ ½ (y − ŷ)²"]:
        assert fragment in texts


@pytest.mark.needs_dot
def test_png_has_the_magic_bytes():
    assert network_picture(network_graph(XOR_SPEC), "png").startswith(b"\x89PNG\r\n\x1a\n")


def test_text_and_markdown_list_quantities_and_gradients():
    graph = network_graph(XOR_SPEC)
    assert "ŷ         4×1    ŷ = f(z(3)), f = sigmoid" in network_text(graph)
    assert "| δ(3) W(2)ᵀ | 4×3 | z(3) -> a(2) |" in network_markdown(graph)


@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("spec", [
    XOR_SPEC,
    parse_spec("3-4-4-2", activation="relu", output_activation="softmax", cost="cce",
               bias="unit", convention="column", reduction="mean", l2=0.1, m=5),
    parse_spec("2-2-1", activation="relu", output_activation="sigmoid", cost="bce",
               bias="vector", m=1, l2=0.5),
    parse_spec("2-3-2", cost="mse", reduction="mean", bias="unit"),
], ids=["xor", "ng-style", "bce-vector", "mse-unit"])
def test_latex_document_compiles_with_pdflatex(tmp_path, spec):
    (tmp_path / "net.tex").write_text(network_latex(network_graph(spec)))
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "net.tex"],
                            cwd=tmp_path, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout.decode(errors="replace")[-2000:]
