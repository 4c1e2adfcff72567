"""Across random small specs, the whole document is written: every section finds the steps it names."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.cli_derive import write_derivation
from derive.spec import NetworkSpec

HIDDEN = ("sigmoid", "tanh", "relu", "identity", "f")
OUTPUT_FOR_COST = {
    "half_sse": ("sigmoid", "tanh", "identity", "relu", "f"),
    "mse": ("sigmoid", "identity", "f"),
    "binary_cross_entropy": ("sigmoid", "f"),
    "categorical_cross_entropy": ("softmax", "sigmoid", "f"),
}


@st.composite
def specs(draw):
    # depth 2: single-layer nets (no hidden layer) are where the write-up used to assume one
    depth = draw(st.integers(2, 4))
    sizes = [draw(st.integers(1, 3)) for _ in range(depth)]
    cost = draw(st.sampled_from(sorted(OUTPUT_FOR_COST)))
    output = draw(st.sampled_from(OUTPUT_FOR_COST[cost]))
    if output == "softmax" and sizes[-1] < 2:
        sizes[-1] = 2
    hidden = tuple(draw(st.sampled_from(HIDDEN)) for _ in sizes[1:-1])
    return NetworkSpec(tuple(sizes), hidden + (output,), cost=cost,
                       reduction=draw(st.sampled_from(("sum", "mean"))),
                       bias=draw(st.sampled_from(("none", "vector", "unit"))),
                       convention=draw(st.sampled_from(("row", "column"))),
                       m=draw(st.integers(1, 3)), l2=draw(st.sampled_from((0.0, 0.5))))


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_the_document_is_written_for_every_valid_spec(spec):
    with tempfile.TemporaryDirectory() as folder:
        result = write_derivation(spec, Path(folder), ("tex", "md"))
        assert sorted(path.name for path in result.written) == ["derivation.md", "derivation.tex"]
        assert all(path.stat().st_size > 0 for path in result.written)


def test_a_single_layer_net_with_ngs_bias_unit_gets_its_document():
    spec = NetworkSpec((2, 1), ("sigmoid",), bias="unit")
    with tempfile.TemporaryDirectory() as folder:
        result = write_derivation(spec, Path(folder), ("md",))
        text = result.written[0].read_text(encoding="utf-8")
    assert "with no hidden layer there is no backward pass to drop it from" in text
