"""The shortcuts that make a derivation fast, each against the full route it replaces."""

import pytest

from derive import parse_spec
from derive.network.symbols import symbolic_network, terms_containing

# every bias style, both conventions, one and several examples, a size of one
SPECS = [parse_spec("2-3-1"), parse_spec("2-2-2", bias="vector", convention="column", m=1),
         parse_spec("3-2-2", bias="unit", m=3), parse_spec("2-3-2", bias="unit", convention="column", m=2),
         parse_spec("1-1", bias="vector", m=1)]


def _scanned(network, layer, symbol):
    """What the derivation used to do: every product of z(layer) that contains the symbol."""
    return [(position, term) for position, terms in network.pre_activation_terms(layer).items()
            for term in terms if symbol in term.symbols]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: f"{spec.slug}-m{spec.m}")
def test_direct_lookup_finds_the_same_products_as_scanning_the_whole_layer(spec):
    network = symbolic_network(spec)
    for layer in range(2, network.output_layer + 1):
        quantities = [network.activation(layer - 1), network.weights(layer - 1)]
        quantities += [network.biases(layer - 1)] if network.biases(layer - 1) is not None else []
        for quantity in quantities:
            for position in quantity.positions():
                symbol = quantity.entry(*position)
                direct = terms_containing(network, layer, quantity, position)
                assert sorted(direct, key=repr) == sorted(_scanned(network, layer, symbol), key=repr), \
                    f"z{layer}, {symbol}"


def test_direct_lookup_refuses_a_quantity_that_does_not_build_z():
    network = symbolic_network(parse_spec("2-3-1"))
    with pytest.raises(ValueError, match="not target"):
        terms_containing(network, 2, network.targets, (0, 0))


def test_a_lookup_that_misses_a_product_leaves_no_matrix_form_to_find(monkeypatch):
    from derive.backward import chain_rule
    from derive.backward.derivation import derive_rule
    from derive.backward.matrix_form import NoMatrixForm

    def first_only(network, layer, quantity, position):  # forgets every example but the first
        return terms_containing(network, layer, quantity, position)[:1]

    monkeypatch.setattr(chain_rule, "terms_containing", first_only)
    with pytest.raises(NoMatrixForm, match="no candidate matches"):
        derive_rule(parse_spec("2-3-1", m=3))


@pytest.mark.parametrize("spec", SPECS[:3], ids=lambda spec: f"{spec.slug}-m{spec.m}")
def test_local_partial_equals_sympy_diff_of_each_product(spec):
    import sympy as sp

    from derive.backward.chain_rule import local_partial

    network = symbolic_network(spec)
    for layer in range(2, network.output_layer + 1):
        for terms in network.pre_activation_terms(layer).values():
            for term in terms:
                for symbol in term.symbols:
                    assert local_partial(term.expression, symbol) == sp.diff(term.canonical, symbol)
                assert local_partial(term.expression, sp.Symbol("elsewhere")) == 0


# each has a size of 1, so derive_rule consults the widened twin
SIZE_ONE_SPECS = [parse_spec("2-3-1"), parse_spec("1-1", m=1), parse_spec("2-1-2", bias="vector", convention="column", m=1),
                  parse_spec("3-2-1", bias="unit", l2=0.1, m=1),
                  parse_spec("4-3-3", activation="relu", output_activation="softmax", cost="categorical_cross_entropy",
                             reduction="mean", bias="vector", convention="column", m=1)]


def _record(derivation):
    import sympy as sp

    return [(step.name, sp.srepr(step.entries), sp.srepr(step.formula),
             [(c.label, c.accepted, c.reason, c.entry) for c in step.form.candidates], step.form.ambiguous)
            for step in derivation.steps] + [sp.srepr(derivation.gradients)]


@pytest.mark.parametrize("spec", SIZE_ONE_SPECS, ids=lambda spec: f"{spec.slug}-m{spec.m}")
def test_twin_derived_only_for_ambiguous_steps_decides_like_the_whole_twin(spec):
    from derive.backward.derivation import _derive, _general_forms, derive_rule, widened

    whole_twin = _derive(spec, _general_forms(widened(spec), {}, None), {})
    assert _record(derive_rule(spec)) == _record(whole_twin)


@pytest.mark.parametrize("spec", SPECS[:4] + SIZE_ONE_SPECS[-1:], ids=lambda spec: f"{spec.slug}-m{spec.m}")
def test_random_point_witness_agrees_with_expanding_on_every_candidate_difference(spec):
    """Each candidate entry minus the chain rule's: the witness says non-zero only where is_zero says
    not zero, and it does say so for most rejected candidates (else it would save nothing)."""
    from derive.backward.derivation import derive_rule
    from derive.backward.matrix_ops import entry_of, is_zero
    from derive.proofs.modular import nonzero_at_random_point

    witnessed = differing = 0
    for step in derive_rule(spec).steps:
        for candidate in step.form.candidates:
            if candidate.expression is None:
                continue
            for position, value in step.entries:
                difference = entry_of(candidate.expression, *position) - value
                if nonzero_at_random_point(difference):
                    witnessed += 1
                    assert not is_zero(difference), (step.name, candidate.label, position)
                differing += not is_zero(difference)
    assert witnessed >= 0.9 * differing


def test_random_point_witness_leaves_exp_identities_to_is_zero():
    import sympy as sp

    from derive.proofs.modular import nonzero_at_random_point

    z = sp.Symbol("z")
    assert not nonzero_at_random_point(sp.exp(z) ** 2 - sp.exp(2 * z))  # zero, and exp is not opaque
    assert not nonzero_at_random_point(sp.exp(z) - sp.exp(2 * z))  # non-zero, but not its question


@pytest.mark.parametrize("convention", ["row", "column"])
def test_softmax_partial_equals_sympys_diff_of_the_whole_softmax_entry(convention):
    # the partial is found on the entry with the rest of the sum as one symbol, once per shape of
    # expression, and renamed back: compare with diff of the full exp(z_j) / sum_i exp(z_i)
    import random

    import sympy as sp

    from derive.backward.chain_rule import softmax_partial
    from derive.network.spec import NetworkSpec

    spec = NetworkSpec((2, 2, 4), ("relu", "softmax"), cost="categorical_cross_entropy", m=2, convention=convention)
    network = symbolic_network(spec)
    layer, generator = network.output_layer, random.Random(0)
    z, output = network.pre_activation(layer), network.output
    for example in range(2):
        positions = [network.position(example, k) for k in range(4)]
        point = {z.entry(*p): sp.Rational(generator.randint(-9, 9), 4) for p in positions}
        exponentials = [sp.exp(z.entry(*p)) for p in positions]
        yhat = {output.entry(*p): (e / sp.Add(*exponentials)).xreplace(point) for p, e in zip(positions, exponentials)}
        for out in positions:
            whole = network.activation_entry(layer, out)
            for by in positions:
                expected = sp.diff(whole, z.entry(*by)).xreplace(point)
                found = softmax_partial(network, out, z.entry(*by)).xreplace(yhat)
                assert abs(sp.N(expected - found, 30)) < sp.Float("1e-25")
        other = network.position(1 - example, 0)
        assert softmax_partial(network, positions[0], z.entry(*other)) == 0  # another example's z: no path


def test_the_comparison_sample_is_limited_by_the_terms_each_entry_sums():
    from derive.backward.derivation import FULL_WORK_LIMIT, SAMPLE_SIZE, compared_positions

    assert len(compared_positions((3, 30), terms_per_entry=30)) == 90  # 2,700 terms: every entry
    assert 3 * 100 * 100 > FULL_WORK_LIMIT
    assert len(compared_positions((3, 100), terms_per_entry=100)) == SAMPLE_SIZE  # a 100-way softmax
    assert len(compared_positions((3, 100))) == 300  # one term each: every entry, as before
