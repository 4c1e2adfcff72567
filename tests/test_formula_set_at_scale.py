"""The catalogue's formula set comes from the derived route's own derivation at m0 examples, resized
to the batch, so a failing check past 2,000 parameters still names its mistake (issue 14)."""

import numpy as np
import pytest

from checks.diagnose import formula_program
from checks.diagnose.user_function import CATALOGUE_PARAMETER_LIMIT, verify_function
from checks.routes.derived import derivation_examples
from derive.network.spec import parse_spec


@pytest.mark.parametrize("spec", [
    parse_spec("2-3-2", bias="vector", reduction="mean", m=6, l2=0.3),
    parse_spec("2-3-2", activation="relu", output_activation="softmax", cost="categorical_cross_entropy",
               reduction="mean", bias="vector", m=8, l2=0.05),
    parse_spec("3-4-2", bias="unit", convention="column", cost="binary_cross_entropy", reduction="mean", m=12,
               l2=1.0),
    parse_spec("2-3-3-1", cost="half_sse", reduction="sum", m=8),
], ids=lambda spec: f"{spec.slug}-m{spec.m}")
def test_the_formula_set_resized_from_m0_is_the_one_derived_at_the_full_batch(spec):
    assert derivation_examples(spec) < spec.m  # the resizing is what is compared
    resized = formula_program.formula_set_from_small_derivation(spec)
    assert resized is not None and resized.spec == spec
    assert resized.formulas == formula_program._formula_set(spec).formulas  # derive_rule at the full m


def _relu_net_without_its_derivative(X, y, W1, b1, W2, b2):
    """Row form, relu then softmax, mean cross-entropy: delta2 written without relu'(z2)."""
    m = X.shape[0]
    a2 = np.maximum(0, X @ W1 + b1)
    scores = a2 @ W2 + b2
    probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    delta3 = (probabilities - y) / m
    delta2 = delta3 @ W2.T  # relu'(z2) left out
    return X.T @ delta2, delta2.sum(axis=0), a2.T @ delta3, delta3.sum(axis=0)


def test_a_failing_check_past_the_old_parameter_limit_names_its_mistake_from_the_catalogue():
    spec = parse_spec("200-10-3", activation="relu", output_activation="softmax", cost="categorical_cross_entropy",
                      reduction="mean", bias="vector", m=8)
    assert spec.parameter_count > CATALOGUE_PARAMETER_LIMIT and derivation_examples(spec) < spec.m
    verdict = verify_function(_relu_net_without_its_derivative, spec)
    assert not verdict.passed
    assert "f' missing: delta2 = delta3 @ W2.T (relu_prime(z2) left out)" in verdict.text()
    assert "left out past" not in verdict.text() and "search was left out" not in verdict.text()
