"""The helpers users import in their own tests: assert_gradients_match and formula snapshots."""

import importlib.util
from pathlib import Path

import pytest

from checks.pytest_helpers import (UPDATE_VARIABLE, assert_formula_snapshot, assert_gradients_match,
                                   formula_snapshot)
from derive.network.spec import XOR_SPEC, parse_spec

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "user_backprop.py"


def example():
    spec = importlib.util.spec_from_file_location("user_backprop_for_helpers", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_correct_function_passes_silently():
    assert_gradients_match(example().correct_backprop, XOR_SPEC)


def test_the_failure_names_output_entry_both_values_and_diagnosis():
    with pytest.raises(AssertionError) as caught:
        assert_gradients_match(example().buggy_backprop, XOR_SPEC)
    message = str(caught.value)
    first_line = message.splitlines()[0]
    assert first_line.startswith("buggy_backprop: dJ/dW1 disagrees with the derivation at entry [")
    assert "function " in first_line and "derived " in first_line and "relative error" in first_line
    assert "diagnosis: the numbers are reproduced" in message
    assert "f'(a) where f'(z) belongs: delta2 = (delta3 @ W2.T) * sigmoid_prime(a2)" in message


# Seed 000's formulas for its XOR net, as the post writes them (row form, J = sum 1/2 (y - yhat)^2):
# delta3 = -(y - yhat) f'(z3), delta2 = delta3 W2^T * f'(z2), dJ/dW1 = X^T delta2, dJ/dW2 = a2^T delta3.
SEED_000_SNAPSHOT = (
    "# derived formulas of 2-3-1: activations sigmoid, sigmoid; cost half_sse (sum); bias none; row form; m = 4\n"
    "delta3 = (a3 - y) * sigmoid_prime(z3)\n"
    "delta2 = (delta3 @ W2.T) * sigmoid_prime(z2)\n"
    "dJ/dW1 = X.T @ delta2\n"
    "dJ/dW2 = a2.T @ delta3\n"
)


def test_the_snapshot_of_seed_000_reads_as_the_post_writes_its_formulas():
    assert formula_snapshot(XOR_SPEC) == SEED_000_SNAPSHOT


def test_a_missing_snapshot_is_written_and_the_test_fails_once(tmp_path):
    path = tmp_path / "snapshots" / "xor.txt"
    with pytest.raises(AssertionError, match="did not exist and has been written"):
        assert_formula_snapshot(XOR_SPEC, path)
    assert path.read_text() == SEED_000_SNAPSHOT
    assert_formula_snapshot(XOR_SPEC, path)  # now it passes
    assert [p.name for p in path.parent.iterdir()] == ["xor.txt"]  # no temporary file left


def test_a_changed_formula_fails_with_a_readable_diff(tmp_path, monkeypatch):
    monkeypatch.delenv(UPDATE_VARIABLE, raising=False)
    path = tmp_path / "xor.txt"
    path.write_text(SEED_000_SNAPSHOT.replace("delta3 @ W2.T", "delta3 @ W2"))
    with pytest.raises(AssertionError) as caught:
        assert_formula_snapshot(XOR_SPEC, path)
    message = str(caught.value)
    assert "-delta2 = (delta3 @ W2) * sigmoid_prime(z2)\n+delta2 = (delta3 @ W2.T) * sigmoid_prime(z2)" in message
    assert f"{UPDATE_VARIABLE}=1" in message


def test_a_different_spec_shows_up_in_the_diff(tmp_path):
    path = tmp_path / "xor.txt"
    path.write_text(SEED_000_SNAPSHOT)
    with pytest.raises(AssertionError, match=r"\+delta3 = \(\(1 - y\)/\(1 - a3\) - y/a3\) \* sigmoid_prime\(z3\)"):
        assert_formula_snapshot(parse_spec("2-3-1", cost="bce"), path)


def test_snapshots_are_refreshed_on_purpose(tmp_path, monkeypatch):
    path = tmp_path / "xor.txt"
    path.write_text("stale\n")
    monkeypatch.setenv(UPDATE_VARIABLE, "1")
    assert_formula_snapshot(XOR_SPEC, path)
    assert path.read_text() == SEED_000_SNAPSHOT
    path.write_text("stale\n")
    monkeypatch.delenv(UPDATE_VARIABLE)
    assert_formula_snapshot(XOR_SPEC, path, update=True)
    assert path.read_text() == SEED_000_SNAPSHOT
