"""`backprop verify --layer rnn|lstm`: a person's BPTT checked, the catalogued mistake named."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from checks.recurrence.verify import ContractError, verify_sequence_function

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "recurrence"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "rnn_backward", None) or module.lstm_backward


@pytest.mark.parametrize("fixture, kind", [("rnn_correct", "rnn"), ("lstm_correct", "lstm")])
def test_a_correct_backward_passes(fixture, kind):
    verdict = verify_sequence_function(_load(fixture), kind)
    assert verdict.passed and verdict.mistakes == ()


@pytest.mark.parametrize("fixture, kind, mistake", [
    ("rnn_recursion_cut", "rnn", "recursion cut"),
    ("rnn_last_step_only", "rnn", "not summed over time"),
    ("rnn_h_t_for_h_previous", "rnn", "h_t for h_{t-1}"),
    ("rnn_tanh_prime_of_h", "rnn", "f'(a) for f'(z)"),
    ("lstm_forget_term_missing", "lstm", "forget term missing"),
    ("rnn_hidden_not_carried", "rnn", "hidden gradient not carried"),
    ("lstm_hidden_not_carried", "lstm", "hidden gradient not carried"),
    ("lstm_last_step_only", "lstm", "not summed over time"),
])
def test_each_planted_mistake_is_named_and_only_it(fixture, kind, mistake):
    verdict = verify_sequence_function(_load(fixture), kind)
    assert not verdict.passed
    assert [name for name, _ in verdict.mistakes] == [mistake]
    assert mistake in verdict.text()


def test_an_unknown_mistake_is_reported_as_unexplained():
    def doubled(x, h0, Wx, Wh, b, dh):
        return tuple(2 * np.asarray(a) for a in _load("rnn_correct")(x, h0, Wx, Wh, b, dh))
    verdict = verify_sequence_function(doubled, "rnn")
    assert not verdict.passed and "no catalogued mistake" in verdict.text()


@pytest.mark.parametrize("fn, message", [
    (lambda *a: (1, 2), "five arrays"),
    (lambda *a: 1 / 0, "raised ZeroDivisionError"),
    (lambda x, h0, Wx, Wh, b, dh: (x, h0, Wx, Wh, np.zeros(3 * b.size)), "db has shape"),
])
def test_a_function_outside_the_contract_is_bad_input(fn, message):
    with pytest.raises(ContractError, match=message):
        verify_sequence_function(fn, "rnn")
