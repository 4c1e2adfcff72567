"""Backprop through time found from the forward pass: the recursion, the sum over time, the cell path."""

import numpy as np
import pytest
import sympy as sp

from derive.recurrence import matrix_form as mf
from derive.recurrence.derivation import derive_recurrence, reads, t
from derive.recurrence.forward import STEP, T, recurrent_layer
from derive.recurrence.index_calculus import collapse


def test_h_t_is_read_by_the_next_steps_z_and_its_own_y_found_by_solving_the_read_step():
    layer = recurrent_layer("rnn")
    assert sorted((e.quantity, str(step)) for e, step in reads(layer, "h", t)) == [("y", "t"), ("z", "t + 1")]


def test_the_rnn_recursion_is_the_issues_delta_rule_in_column_form():
    recursion = derive_recurrence("rnn").recursion[1]
    assert mf.latex(recursion) == (r"\left(W_{hh}^{\top} \mathrm{d}z_{t+1} + W_{hy}^{\top} \mathrm{d}y_{t}\right)"
                                   r" \odot \tanh^{\prime}(z_{t})")


def test_row_convention_puts_the_transposed_weight_on_the_right():
    recursion = derive_recurrence("rnn", "row").recursion[1]
    assert mf.latex(recursion) == (r"\left(\mathrm{d}z_{t+1} W_{hh}^{\top} + \mathrm{d}y_{t} W_{hy}^{\top}\right)"
                                   r" \odot \tanh^{\prime}(z_{t})")


@pytest.mark.parametrize("convention, text", [("column", r"\sum_{s=1}^{T} \mathrm{d}z_{s} h_{s-1}^{\top}"),
                                              ("row", r"\sum_{s=1}^{T} h_{s-1}^{\top} \mathrm{d}z_{s}")])
def test_the_shared_recurrent_weight_sums_over_every_step_with_the_previous_state(convention, text):
    assert mf.latex(derive_recurrence("rnn", convention).gradient("W_hh").matrix) == text


def test_the_sum_over_steps_is_left_symbolic_up_to_T():
    entry = derive_recurrence("rnn").gradient("W_hh").entry
    assert isinstance(entry, sp.Sum) and entry.limits[0] == (STEP, 1, T)


def test_the_initial_state_is_read_only_by_the_first_step():
    h0 = next(g for g in derive_recurrence("rnn").initial if g.name == "h")
    assert mf.latex(h0.matrix, "0") == r"W_{hh}^{\top} \mathrm{d}z_{1}"


def test_the_lstm_cell_gradient_keeps_the_forget_gate_path_to_the_next_step():
    dc = derive_recurrence("lstm").gradient("c").matrix
    assert mf.latex(dc) == r"\mathrm{d}c_{t+1} \odot f_{t+1} + \mathrm{d}h_{t} \odot o_{t} \odot \tanh^{\prime}(c_{t})"


def test_every_lstm_gate_has_a_delta_through_its_own_squashing_derivative():
    derivation = derive_recurrence("lstm")
    for gate, squash in (("i", "sigmoid"), ("f", "sigmoid"), ("o", "sigmoid"), ("g", "tanh")):
        assert mf.latex(derivation.gradient(f"a_{gate}").matrix) == \
            mf.latex(mf.Hadamard((mf.Leaf(f"d{gate}", 0), mf.Apply(f"{squash}_prime", mf.Leaf(f"a_{gate}", 0)))))


def test_a_kronecker_delta_on_a_summed_index_is_summed_out():
    k, p = sp.symbols("k p", integer=True)
    W = sp.IndexedBase("W")
    terms = collapse(sp.Sum(W[k] * sp.KroneckerDelta(k, p), (k, 0, sp.Symbol("H") - 1)))
    assert [term.as_expr() for term in terms] == [W[p]]


def test_the_forward_matrix_form_runs_the_same_numbers_as_the_index_form():
    # two routes to one step: the matrix forms read from the equations vs the equations summed by hand
    from derive.recurrence.evaluate import float_functions, run_forward

    derivation = derive_recurrence("rnn")
    rng = np.random.default_rng(1)
    params = {"W_xh": rng.standard_normal((3, 2)), "W_hh": rng.standard_normal((3, 3)), "b": rng.standard_normal((3, 1)),
              "W_hy": rng.standard_normal((2, 3)), "c": rng.standard_normal((2, 1))}
    x, h0 = rng.standard_normal((2, 1)), rng.standard_normal((3, 1))
    forward = run_forward(derivation, params, [x], {"h": h0}, float_functions())
    by_hand = np.array([[np.tanh(sum(params["W_xh"][i, j] * x[j, 0] for j in range(2))
                                 + sum(params["W_hh"][i, k] * h0[k, 0] for k in range(3)) + params["b"][i, 0])]
                        for i in range(3)])
    assert np.allclose(forward.values["h"][1], by_hand, rtol=1e-14, atol=0)
