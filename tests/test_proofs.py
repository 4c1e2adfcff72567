"""The proofs can fail: deliberately wrong rules are caught and located."""

import dataclasses

import pytest
import sympy as sp

from derive import derive, parse_spec
from derive.backward.derivation import Derivation
from derive.proofs.entrywise import prove_entrywise
from derive.proofs.randomized import prove_randomized

SQUARE = parse_spec("2-2-2")


def _with_step_formula(derivation: Derivation, name: str, formula) -> Derivation:
    steps = tuple(dataclasses.replace(s, form=dataclasses.replace(s.form, expression=formula))
                  if s.name == name else s for s in derivation.steps)
    return dataclasses.replace(derivation, steps=steps)


def _with_gradient(derivation: Derivation, parameter: str, formula) -> Derivation:
    gradients = tuple((p, formula if p == parameter else f) for p, f in derivation.gradients)
    return dataclasses.replace(derivation, gradients=gradients)


def _transpose_dropped(derivation):
    right = derivation.step("delta2").formula  # (delta3 W2^T) (.) f'(z2)
    product, derivative = right.args
    return _with_step_formula(derivation, "delta2", sp.HadamardProduct(sp.MatMul(*[
        a.arg if isinstance(a, sp.Transpose) else a for a in product.args]), derivative))


def _f_prime_dropped(derivation):
    product, _ = derivation.step("delta2").formula.args
    return _with_step_formula(derivation, "delta2", product)


def _sign_flipped(derivation):
    return _with_gradient(derivation, "W1", -derivation.gradient("W1"))


WRONG_RULES = {"transpose dropped": (_transpose_dropped, 2), "f' dropped": (_f_prime_dropped, 2),
               "sign flipped": (_sign_flipped, 1)}


@pytest.mark.parametrize("mistake", sorted(WRONG_RULES))
def test_randomized_proof_fails_on_a_wrong_rule_and_names_layer_and_entry(mistake):
    plant, layer = WRONG_RULES[mistake]
    proof = prove_randomized(plant(derive(SQUARE, proofs="none")))
    assert not proof.holds
    failure = proof.failures[0]
    assert failure.layer == layer
    assert f"layer {layer}, entry (" in failure.failure


@pytest.mark.parametrize("mistake", sorted(WRONG_RULES))
def test_entrywise_proof_fails_on_a_wrong_rule_and_names_layer_and_entry(mistake):
    plant, layer = WRONG_RULES[mistake]
    proof = prove_entrywise(plant(derive(SQUARE, proofs="none")), concrete=False)
    assert not proof.holds
    assert proof.failures[0].layer == layer
    assert f"layer {layer}, entry (" in proof.failures[0].failure


def test_a_wrong_entry_is_located_exactly_by_bisection():
    derivation = derive(parse_spec("3-4-2"), proofs="none")
    gradient = derivation.gradient("W1")
    # add a bump to entry (2, 1) only
    bump = sp.zeros(3, 4)
    bump[2, 1] = 1
    wrong = _with_gradient(derivation, "W1", sp.MatAdd(gradient, sp.ImmutableMatrix(bump)))
    proof = prove_randomized(wrong)
    assert [check.failure for check in proof.failures] == [
        "layer 1, entry (2, 1): the formula disagrees with forward-mode differentiation there"]


def test_local_proof_checks_each_activation_rule_against_sympy_diff():
    derivation = derive(parse_spec("2-2-3", activation="tanh", output_activation="softmax", cost="cce"))
    local = next(p for p in derivation.proofs if p.strategy == "local")
    assert local.holds
    assert {c.quantity.split("'")[0] for c in local.checks} >= {"tanh"}
    assert any("softmax" in c.quantity for c in local.checks)


def test_relu_proof_states_its_choice_at_zero():
    derivation = derive(parse_spec("2-2-1", activation="relu", output_activation="identity"))
    local = next(p for p in derivation.proofs if p.strategy == "local")
    assert local.holds and "relu'(0) is taken as 0" in local.caveat


def test_tiny_net_is_also_proved_with_the_activation_written_out():
    derivation = derive(parse_spec("2-1", m=1, cost="binary_cross_entropy"))
    entrywise = [p for p in derivation.proofs if p.strategy == "entrywise"]
    assert len(entrywise) == 2 and all(p.holds for p in entrywise)
    assert "with sigmoid" in entrywise[1].checks[0].compared_with


def test_randomized_proof_catches_a_sign_flip_through_a_relu_layer():
    # relu' is 0 or 1: a proof that drew it from the rule could see a layer of zeros and miss this
    derivation = derive(parse_spec("2-2-1", activation="relu", output_activation="sigmoid", m=1),
                        proofs="none")
    for seed in range(5):
        assert not prove_randomized(_sign_flipped(derivation), seed=seed).holds


def test_randomized_proof_checks_the_shortened_output_delta():
    derivation = derive(parse_spec("2-3-1", cost="binary_cross_entropy"), proofs="randomized")
    randomized = next(p for p in derivation.proofs if p.strategy == "randomized exact")
    assert any(c.quantity.startswith("delta3 = ") and c.holds for c in randomized.checks)


def test_a_wrong_shortened_output_delta_fails_the_randomized_proof():
    derivation = derive(parse_spec("2-3-1", cost="binary_cross_entropy"), proofs="none")
    wrong = dataclasses.replace(derivation, simplified_output_delta=dataclasses.replace(
        derivation.simplified_output_delta, formula=sp.MatrixSymbol("y", 4, 1) - sp.MatrixSymbol("a3", 4, 1)))
    proof = prove_randomized(wrong)
    assert [c.layer for c in proof.failures] == [3]


def test_local_proof_fails_on_a_wrong_activation_rule(monkeypatch):
    from derive.network import activations
    from derive.proofs import local as local_proof

    wrong = dataclasses.replace(activations.ACTIVATION_TABLE["tanh"], derivative=lambda x: 1 + sp.tanh(x) ** 2)
    monkeypatch.setitem(activations.ACTIVATION_TABLE, "tanh", wrong)
    local_proof._elementwise_check.cache_clear()
    try:
        proof = local_proof.prove_activation_rules({"tanh"})
    finally:
        local_proof._elementwise_check.cache_clear()
    assert not proof.holds
    assert "tanh" in proof.failures[0].failure


def test_softmax_rule_is_proved_at_the_output_width():
    derivation = derive(parse_spec("2-2-5", output_activation="softmax", cost="cce"), proofs="randomized")
    local = next(p for p in derivation.proofs if p.strategy == "local")
    assert any("5 units" in c.quantity and c.holds for c in local.checks)
