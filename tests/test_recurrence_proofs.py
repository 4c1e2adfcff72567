"""The three proofs hold for the derived BPTT, and each catches every catalogued mistake."""

import pytest

from derive.recurrence.derivation import derive_recurrence
from derive.recurrence.mistakes import CATALOGUE, NotApplicable
from derive.recurrence.proofs import prove_entrywise, prove_index_level, prove_randomized

PROOFS = (prove_entrywise, prove_randomized, prove_index_level)
LAYERS = [("rnn", "column"), ("rnn", "row"), ("lstm", "column"), ("lstm", "row")]


@pytest.mark.parametrize("kind, convention", LAYERS)
@pytest.mark.parametrize("proof", PROOFS, ids=lambda p: p.__name__)
def test_the_derived_backprop_through_time_is_proved(kind, convention, proof):
    result = proof(derive_recurrence(kind, convention))
    assert result.holds, result.first_failure


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "identity"])
def test_any_activation_of_the_table_may_replace_tanh(activation):
    derivation = derive_recurrence("rnn", "column", activation)
    assert all(proof(derivation).holds for proof in PROOFS)


def test_entrywise_at_three_steps_covers_a_state_read_two_steps_later():
    assert prove_entrywise(derive_recurrence("rnn"), steps=3, hidden=2, inputs=2, outputs=2).holds


def test_randomized_at_a_realistic_size_covers_every_parameter():
    derivation = derive_recurrence("rnn")
    result = prove_randomized(derivation, steps=12, hidden=32, inputs=16, outputs=8)
    assert result.holds and set(result.checked) >= {p.name for p in derivation.layer.parameters}


PLANTED = [(kind, name, edit) for kind in ("rnn", "lstm") for name, _, edit in CATALOGUE
           if not (kind == "rnn" and name == "forget term missing")]


@pytest.mark.parametrize("kind, name, edit", PLANTED, ids=[f"{k}-{n}" for k, n, _ in PLANTED])
@pytest.mark.parametrize("proof", PROOFS, ids=lambda p: p.__name__)
def test_each_proof_catches_each_planted_mistake(kind, name, edit, proof):
    assert not proof(edit(derive_recurrence(kind))).holds


def test_an_rnn_has_no_forget_gate_to_forget():
    with pytest.raises(NotApplicable):
        CATALOGUE[4][2](derive_recurrence("rnn"))


@pytest.mark.parametrize("convention", ["column", "row"])
@pytest.mark.parametrize("proof", PROOFS, ids=lambda p: p.__name__)
def test_the_rnn_inside_a_small_network_is_proved_by_the_same_engine(convention, proof):
    assert proof(derive_recurrence("stacked", convention)).holds


def test_the_lower_layers_state_collects_from_the_next_step_and_from_the_layer_above():
    from derive.recurrence import matrix_form as mf

    dh1 = derive_recurrence("stacked").gradient("h1").matrix
    assert mf.latex(dh1) == r"W_{hh1}^{\top} \mathrm{d}z1_{t+1} + W_{xh2}^{\top} \mathrm{d}z2_{t}"


def test_the_entrywise_proof_names_the_entry_a_mistake_changes():
    h_t_for_h_previous = next(edit for name, _, edit in CATALOGUE if name == "h_t for h_{t-1}")
    failure = prove_entrywise(h_t_for_h_previous(derive_recurrence("rnn"))).first_failure
    assert failure.startswith("dW_hh: dJ/dW_hh_")


def test_one_directional_diff_gives_sympys_diff_by_each_entry():
    import numpy as np
    import sympy as sp

    from derive.recurrence import proofs

    derivation = derive_recurrence("rnn")
    sizes = proofs._sizes(1, 1, 1)
    point = proofs.symbolic_point(derivation, 2, sizes)
    variables = [v for array in point[0].values() for v in np.asarray(array).ravel()]
    direction = {v: sp.Symbol(f"u_{k}") for k, v in enumerate(variables)}
    along = proofs.directional_derivative(derivation, 2, sizes, *point, direction)
    cost = proofs.unrolled_cost(derivation, 2, sizes, *point)
    for variable, u in direction.items():
        assert sp.expand(along.diff(u) - cost.diff(variable)) == 0
