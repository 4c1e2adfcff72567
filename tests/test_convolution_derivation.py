"""The backward pass of convolution and pooling comes out of the forward pass in the issue's form."""

from functools import lru_cache

import pytest
import sympy as sp

from derive.convolution.derivation import derive_convolution
from derive.convolution.forward import G, PAD, STRIDE, B, S, W, X
from derive.convolution.matrix_form import Product, Weighted, find_matrix_forms

n, c, f, i, j, u, v = sp.symbols("n c f i j u v", integer=True)


@lru_cache(maxsize=None)
def derived(kind):
    return derive_convolution(kind)


def only_term(kind, name):
    (term,) = derived(kind).by_name(name).collapsed
    return term


def test_dX_of_conv2d_is_the_issues_sum_over_f_u_v_of_G_at_the_solved_row_times_W():
    term = only_term("conv2d", "dX")
    expected = G[n, f, (i + PAD - u) / STRIDE, (j + PAD - v) / STRIDE] * W[f, c, u, v]
    assert sp.expand(term.coefficient - expected) == 0
    assert [index.role for index in term.indices] == ["f", "u", "v"]


def test_dX_counts_only_where_the_solved_row_is_whole_and_in_range():
    conditions = only_term("conv2d", "dX").conditions
    assert [(c.numerator, c.stride) for c in conditions] == [(i + PAD - u, STRIDE), (j + PAD - v, STRIDE)]
    assert str(conditions[0].upper) == "H_out - 1"


def test_the_kernel_index_comes_out_with_a_minus_sign_the_flip():
    row = only_term("conv2d", "dX").coefficient.atoms(sp.Indexed)
    g_entry = next(e for e in row if e.base == G)
    assert sp.expand(g_entry.indices[2]).coeff(u) == -1 / STRIDE


def test_dW_is_G_times_the_padded_input_summed_over_examples_and_positions():
    term = only_term("conv2d", "dW")
    assert sp.expand(term.coefficient - G[n, f, i, j] * X[n, c, i * STRIDE + u - PAD, j * STRIDE + v - PAD]) == 0
    assert [index.role for index in term.indices] == ["n", "i", "j"] and not term.conditions


def test_db_is_G_summed_over_examples_and_positions():
    term = only_term("conv2d", "db")
    assert term.coefficient == G[n, f, i, j] and [index.role for index in term.indices] == ["n", "i", "j"]


def test_conv1d_is_the_same_case_with_one_spatial_axis():
    term = only_term("conv1d", "dX")
    assert sp.expand(term.coefficient - G[n, f, (i + PAD - u) / STRIDE] * W[f, c, u]) == 0


def test_max_pooling_routes_G_through_the_selector():
    term = only_term("maxpool", "dX")
    expected = G[n, c, (i - u) / STRIDE, (j - v) / STRIDE] * S[n, c, (i - u) / STRIDE, (j - v) / STRIDE, u, v]
    assert sp.expand(term.coefficient - expected) == 0


def test_average_pooling_spreads_G_over_the_window_count():
    coefficient = only_term("avgpool", "dX").coefficient
    assert sp.expand(coefficient * sp.Symbol("K_h", integer=True, positive=True)
                     * sp.Symbol("K_w", integer=True, positive=True)) == G[n, c, (i - u) / STRIDE, (j - v) / STRIDE]


def test_the_bias_only_reaches_db():
    assert not any(t.coefficient.has(B) for t in derived("conv2d").by_name("dX").collapsed)


def test_the_matrix_form_found_for_dX_is_col2im_of_W_col_transposed_times_G_col():
    dX, dW, db = find_matrix_forms(True)
    assert dX.form == Product("W_col", True, "G_col", False) and dX.scatter
    assert dW.form == Product("G_col", False, "A", True) and not dW.scatter
    assert db.form == Product("G_col", False, None)


def test_the_matrix_form_found_for_pooling_weights_G_spread_over_each_window():
    (dX,) = find_matrix_forms(False)
    assert dX.form == Weighted("P", "G_col") and dX.scatter


@pytest.mark.parametrize("kind", ["conv2d", "conv1d", "maxpool", "avgpool"])
def test_derivation_is_deterministic(kind):
    assert [str(t.coefficient) for g in derive_convolution(kind).gradients for t in g.collapsed] == \
        [str(t.coefficient) for g in derived(kind).gradients for t in g.collapsed]


def test_the_generated_numpy_lines_read_off_the_found_forms():
    assert [m.numpy_text() for m in find_matrix_forms(True) + find_matrix_forms(False)] == [
        "dX = col2im(W_col.T @ G_col)", "dW = G_col @ im2col(X).T", "db = G_col.sum(axis=1)",
        "dX = col2im(P * G_col[:, None, :])"]
