"""`backprop verify --layer attention|residual|embedding`: a correct backward passes, each catalogued mistake is named."""

import importlib.util
import sys
from pathlib import Path

import pytest

from checks.attention.verify import ContractError, verify_function
from derive.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "attention"


def _module(name):
    sys.path.insert(0, str(FIXTURES))
    try:
        spec = importlib.util.spec_from_file_location(f"attention_fixture_{name}", FIXTURES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(FIXTURES))


CORRECT, MISTAKES = _module("correct"), _module("mistakes")


@pytest.mark.parametrize("layer, function", [("attention", "attention_backward"), ("residual", "residual_backward"),
                                             ("embedding", "embedding_backward")])
def test_a_correct_backward_passes(layer, function):
    verdict = verify_function(getattr(CORRECT, function), layer)
    assert verdict.passed and verdict.mistakes == ()


@pytest.mark.parametrize("layer, function, named", [
    ("attention", "softmax_as_entrywise", "rowsum term missing"),
    ("attention", "scale_forgotten", "1/sqrt(d) forgotten"),
    ("attention", "dq_transposed", "transpose misplaced in dQ"),
    ("attention", "dk_untransposed", "transpose misplaced in dK"),
    ("attention", "mask_forgotten", "mask not applied in the backward"),
    ("embedding", "embedding_overwritten", "repeated tokens overwritten"),
    ("residual", "residual_identity_dropped", "identity path dropped"),
])
def test_each_planted_mistake_is_named_and_only_it(layer, function, named):
    verdict = verify_function(getattr(MISTAKES, function), layer)
    assert not verdict.passed
    assert [name for name, _ in verdict.mistakes] == [named]


def test_a_function_of_the_wrong_shape_is_a_contract_error():
    with pytest.raises(ContractError, match="must return 5 array"):
        verify_function(lambda *args: args[0], "attention")


def test_verify_through_the_cli_exits_0_for_correct_and_1_naming_the_mistake(capsys):
    assert main(["verify", f"{FIXTURES / 'correct.py'}:attention_backward", "--layer", "attention"]) == 0
    assert main(["verify", f"{FIXTURES / 'mistakes.py'}:mask_forgotten", "--layer", "attention"]) == 1
    assert "mask not applied in the backward" in capsys.readouterr().out
