"""Across random small architectures, every derived formula is proved."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive import NetworkSpec, derive
from derive.proof_entrywise import affordable

HIDDEN = ("sigmoid", "tanh", "relu", "identity", "f")
OUTPUT_FOR_COST = {
    "half_sse": ("sigmoid", "tanh", "identity", "relu", "f"),
    "mse": ("sigmoid", "identity", "f"),
    "binary_cross_entropy": ("sigmoid", "f"),
    "categorical_cross_entropy": ("softmax", "sigmoid"),
}


@st.composite
def specs(draw):
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=4))
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
