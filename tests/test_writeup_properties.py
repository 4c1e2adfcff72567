"""Across random small specs, the whole document is written: every section finds the steps it names."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from checks.report import write_derivation
from derive.network.spec import NetworkSpec
from tests.spec_strategies import specs

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
