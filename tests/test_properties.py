"""Across random small architectures, every derived formula is proved."""

from hypothesis import HealthCheck, given, settings

from derive import derive
from derive.proofs.entrywise import affordable
from tests.spec_strategies import OUTPUT_FOR_COST
from tests.spec_strategies import specs as random_specs

# the generic f is left out under categorical cross-entropy here (softmax and sigmoid only)
PROVED_OUTPUTS = {**OUTPUT_FOR_COST, "categorical_cross_entropy": ("softmax", "sigmoid")}


def specs():
    return random_specs(PROVED_OUTPUTS)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_every_formula_is_proved_by_the_randomized_exact_route(spec):
    derivation = derive(spec, proofs="randomized")
    assert derivation.proved, [c.failure for p in derivation.proofs for c in p.failures]


@settings(max_examples=12, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(specs().filter(affordable))
def test_every_formula_of_a_small_net_equals_sympy_diff_entrywise(spec):
    derivation = derive(spec, proofs="entrywise")
    assert derivation.proved, [c.failure for p in derivation.proofs for c in p.failures]
