"""Bad network descriptions raise a ValueError subclass that says what is accepted."""

import pytest

from derive import NetworkSpec, SpecError, derive, parse_spec

BAD_SPECS = [
    (lambda: parse_spec("2-3-1", activation="swish"), "unknown activation 'swish'; accepted: sigmoid"),
    (lambda: parse_spec("2-3-1", cost="hinge"), "unknown cost 'hinge'; accepted: half_sse"),
    (lambda: parse_spec("2-0-1"), "layer sizes must be integers of at least 1"),
    (lambda: parse_spec("2-x-1"), "layer sizes must look like 2-3-1"),
    (lambda: parse_spec("2-3-3", activation="softmax"), "softmax is accepted on the output layer only"),
    (lambda: parse_spec("2-3-1", output_activation="relu", cost="binary_cross_entropy"),
     "cost binary_cross_entropy does not fit a relu output; it accepts outputs: sigmoid, f"),
    (lambda: parse_spec("2-3-1", m=0), "m, the number of examples, must be an integer of at least 1"),
    (lambda: parse_spec("2-3-1", convention="diagonal"), "unknown convention 'diagonal'; accepted: row, column"),
    (lambda: parse_spec("2-3-1", bias="maybe"), "unknown bias mode 'maybe'; accepted: none, vector, unit"),
    (lambda: parse_spec("2-3-1", reduction="max"), "unknown reduction 'max'; accepted: sum, mean"),
    (lambda: parse_spec("2-3-1", l2=-1.0), "l2 must be a finite number of at least 0"),
    (lambda: parse_spec("2-1", output_activation="softmax", cost="cce"), "a softmax output needs at least 2 units"),
    (lambda: NetworkSpec((2, 3, 1), ("sigmoid",)), "2 activations are needed"),
    (lambda: NetworkSpec((2,), ()), "at least an input and an output layer"),
    (lambda: derive(parse_spec("2-1"), proofs="maybe"), "unknown proof choice 'maybe'"),
    (lambda: derive("2-3-1"), "derive needs a NetworkSpec"),
    (lambda: parse_spec(231), "layer sizes must be text like '2-3-1'"),
    (lambda: parse_spec("2-\u00b2-1"), "layer sizes must look like 2-3-1"),
    (lambda: parse_spec("2-3-1", foo=1), "unknown option 'foo'"),
    (lambda: parse_spec("99999999999999999999-1"), "layer sizes above 100000 are refused"),
    (lambda: parse_spec("2-3-1", m=10 ** 7), "m above 100000 is refused"),
    (lambda: NetworkSpec(None, ("sigmoid",)), "sizes must be a sequence"),
    (lambda: NetworkSpec((2, 1), "sigmoid"), "activations must be a sequence"),
    (lambda: NetworkSpec((2, 1), ("sigmoid",), cost=["half_sse"]), "cost must be a name"),
    (lambda: NetworkSpec((2, 1), (None,)), "activations must be names"),
    (lambda: parse_spec("2-3-1", l2=float("nan")), "l2 must be a finite number"),
]


@pytest.mark.parametrize("build, message", BAD_SPECS, ids=[m for _, m in BAD_SPECS])
def test_bad_spec_raises_spec_error_naming_what_is_accepted(build, message):
    with pytest.raises(SpecError) as raised:
        build()
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_cost_aliases_resolve_to_canonical_names():
    assert parse_spec("2-2", cost="bce").cost == "binary_cross_entropy"


def test_parameter_count_includes_biases_and_bias_units():
    assert parse_spec("2-3-1").parameter_count == 9
    assert parse_spec("2-3-1", bias="vector").parameter_count == 13
    assert parse_spec("2-3-1", bias="unit").parameter_count == 13
