"""The size-independent argument: where the transpose comes from, for symbolic m, N, K."""

import pytest
import sympy as sp

from derive.proofs.index_level import K, N, index_argument, m


def test_row_form_hidden_gradient_is_delta_times_weights_transposed():
    argument = index_argument("row", "dJ/da")
    assert argument.matrix_form == sp.MatrixSymbol("delta", m, K) * sp.MatrixSymbol("W", N, K).T


def test_column_form_hidden_gradient_is_weights_transposed_times_delta():
    argument = index_argument("column", "dJ/da")
    assert argument.matrix_form == sp.MatrixSymbol("W", K, N).T * sp.MatrixSymbol("delta", K, m)


@pytest.mark.parametrize("convention, expected", [("row", "a.T*delta"), ("column", "delta*a.T")])
def test_weight_gradient_sums_over_examples_as_a_matrix_product(convention, expected):
    assert str(index_argument(convention, "dJ/dW").matrix_form) == expected


def test_untransposed_product_is_rejected_because_sizes_differ_in_general():
    rejected = index_argument("row", "dJ/da").candidates[0]
    assert rejected.label == "delta W" and not rejected.accepted
    assert "do not multiply in general" in rejected.reason


def test_kronecker_delta_collapses_the_sum_over_examples():
    collapsed = index_argument("row", "dJ/da").steps[3].expression
    n, j, r = sp.symbols("n j r", integer=True, nonnegative=True)
    delta, weights = sp.IndexedBase("delta"), sp.IndexedBase("W")
    assert collapsed == sp.Sum(weights[j, r] * delta[n, r], (r, 0, K - 1))
