"""A network is a program of layers: built once from the spec, and its two forms of each layer agree."""

import sympy as sp
from hypothesis import given, settings

from derive.backward.matrix_ops import Softmax, entry_of
from derive.network.spec import XOR_SPEC, NetworkSpec
from derive.program.layers import Cost, Dense, Elementwise, RowSoftmax
from derive.program.program import program_of
from tests.spec_strategies import specs


def test_the_xor_net_is_dense_sigmoid_dense_sigmoid_cost():
    assert program_of(XOR_SPEC).layers == (Dense(1), Elementwise(2, "sigmoid"), Dense(2), Elementwise(3, "sigmoid"),
                                           Cost("half_sse", "sum", 0.0))


def test_a_softmax_output_is_a_layer_of_its_own_kind():
    spec = NetworkSpec((2, 3, 3), ("tanh", "softmax"), cost="categorical_cross_entropy")
    assert program_of(spec).activation(3) == RowSoftmax(3)
    assert isinstance(program_of(spec).forward()[-1][1], Softmax)


def test_the_program_is_built_once_per_spec():
    assert program_of(NetworkSpec((2, 3, 1), ("relu", "sigmoid"))) is program_of(NetworkSpec((2, 3, 1), ("relu", "sigmoid")))


def test_the_parameters_of_the_program_are_the_networks_in_unrolling_order():
    spec = NetworkSpec((2, 3, 2, 1), ("sigmoid",) * 3, bias="vector")
    program = program_of(spec)
    found = [q.name for layer in program.layers for q in layer.parameters(program.network)]
    assert found == [q.name for q in program.network.parameters()] == ["W1", "b1", "W2", "b2", "W3", "b3"]


@settings(max_examples=40, deadline=None)
@given(specs())
def test_each_dense_layer_matrix_form_has_its_index_form_as_entries(spec):
    # two routes to z(l+1)[n, k]: the matrix form's entry walk, and the index form's sum of products
    program = program_of(spec)
    network = program.network
    for source in range(1, spec.layer_count):
        dense = program.dense(source)
        matrix = dense.forward(network)
        for position in dense.output(network).positions():
            assert sp.expand(entry_of(matrix, *position) - dense.entry(network, position)) == 0


@settings(max_examples=40, deadline=None)
@given(specs())
def test_each_elementwise_layer_matrix_form_has_its_index_form_as_entries(spec):
    program = program_of(spec)
    network = program.network
    for layer in program.layers:
        if isinstance(layer, Elementwise):
            matrix = layer.forward(network)
            for position in layer.output(network).positions():
                assert entry_of(matrix, *position) == layer.entry(network, position)


def test_the_entry_check_fails_on_a_dense_layer_missing_its_bias():
    # the check above can fail: drop the bias from the matrix form and an entry differs
    spec = NetworkSpec((2, 2, 1), ("sigmoid", "sigmoid"), bias="vector")
    program = program_of(spec)
    network = program.network
    dense = program.dense(1)
    without_bias = sp.MatMul(dense.extended_input(network), network.weights(1).symbol)
    assert sp.expand(entry_of(without_bias, 0, 0) - dense.entry(network, (0, 0))) != 0


def test_one_backprop_derive_derives_the_rule_once(tmp_path, monkeypatch):
    # the report, the proofs and the derived route all read one Derivation (2-3-1 at m = 5: the
    # derived route's own m0 is then the spec's m, so nothing needs a second derivation)
    import derive.backward.derivation as derivation_module
    from checks.report import write_derivation

    calls = []
    original = derivation_module.derive_rule
    monkeypatch.setattr(derivation_module, "derive_rule", lambda spec: calls.append(spec) or original(spec))
    derivation_module.derivation_of.cache_clear()
    write_derivation(NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), m=5), tmp_path, ("md",))
    derivation_module.derivation_of.cache_clear()
    assert len(calls) == 1
