"""verify-formula reads NumPy as people write it, and the tool's own printed formulas."""

import dataclasses

import pytest

from checks.diagnose.user_formula import check_formula, parse_matrix_formula
from checks.diagnose.formula_program import cached_derivation, formula_text
from derive.formulas.expression_parser import FormulaError
from derive.network.spec import XOR_SPEC, parse_spec

VECTOR_BIAS = parse_spec("2-3-1", bias="vector")
COLUMN_VECTOR_BIAS = parse_spec("2-3-1", bias="vector", convention="column")
NG = parse_spec("2-3-1", bias="unit", convention="column", cost="bce", reduction="mean", l2=0.1)


@pytest.mark.parametrize("numpy_text, operator_text, target, spec", [
    ("np.dot(delta3, W2.T) * sigmoid_prime(z2)", "delta3 @ W2.T * sigmoid_prime(z2)", "delta2", XOR_SPEC),
    ("np.matmul(delta3, W2.T) * sigmoid_prime(z2)", "delta3 @ W2.T * sigmoid_prime(z2)", "delta2", XOR_SPEC),
    ("delta3.dot(W2.transpose()) * sigmoid_prime(z2)", "delta3 @ W2.T * sigmoid_prime(z2)", "delta2", XOR_SPEC),
    ("np.multiply(delta3.dot(np.transpose(W2)), a2 * (1 - a2))", "(delta3 @ W2.T) * (a2 * (1 - a2))", "delta2",
     XOR_SPEC),
    ("np.dot(X.T, delta2)", "X.T @ delta2", "W1", XOR_SPEC),
    ("np.sum(delta2, axis=0, keepdims=True)", "ones(1, 4) @ delta2", "b1", VECTOR_BIAS),
    ("np.sum(delta2, axis=0)", "ones(1, 4) @ delta2", "b1", VECTOR_BIAS),
    ("delta2.sum(axis=0, keepdims=True)", "ones(1, 4) @ delta2", "b1", VECTOR_BIAS),
    ("np.sum(delta2, axis=1, keepdims=True)", "delta2 @ ones(4, 1)", "b1", COLUMN_VECTOR_BIAS),
    ("np.subtract(yhat, y) * sigmoid_prime(z3)", "(yhat - y) * sigmoid_prime(z3)", "delta3", XOR_SPEC),
])
def test_numpy_spelling_reads_as_the_operator_it_names(numpy_text, operator_text, target, spec):
    assert parse_matrix_formula(numpy_text, spec) == parse_matrix_formula(operator_text, spec)
    assert check_formula(numpy_text, target, spec).passed


def test_a_sum_over_axis_1_without_keepdims_is_a_row_as_in_numpy():
    verdict = check_formula("np.sum(delta2, axis=1)", "b1", COLUMN_VECTOR_BIAS)
    assert not verdict.passed
    assert "gives a 1 x 3 matrix (the transpose of what it should be); b1 is 3 x 1" in verdict.shape_error


@pytest.mark.parametrize("spec", [XOR_SPEC, VECTOR_BIAS, NG, parse_spec("2-3-3", output_activation="softmax",
                                                                        cost="cce"),
                                  parse_spec("2-3-1", bias="unit")])
def test_every_formula_the_tool_prints_reads_back_as_correct(spec):
    derivation = cached_derivation(spec)
    for name, formula in derivation.deltas() + derivation.gradients:
        verdict = check_formula(formula_text(formula), name, spec)
        assert verdict.passed, verdict.text()


def test_ng_bias_unit_formulas_read_with_slices_and_hstack():
    assert check_formula("(Theta2[:, 1:].T @ delta3) * sigmoid_prime(z2)", "delta2", NG).passed
    assert check_formula("delta2 @ np.hstack((np.ones((4, 1)), X.T)) + l2 / m * np.hstack([zeros(3, 1), "
                         "Theta1[:, 1:]])", "W1", NG).passed


def test_ng_bias_unit_delta_with_the_bias_column_kept_is_a_shape_error():
    verdict = check_formula("(Theta2.T @ delta3) * sigmoid_prime(z2)", "delta2", NG)
    assert not verdict.passed
    assert "4 x 4 and 3 x 4 do not broadcast for '*'" in verdict.shape_error


@pytest.mark.parametrize("text, message", [
    ("np.linalg.inv(W1)", r"attribute access \(\.inv\) not accepted"),
    ("np.sum(delta2, axis=2)", "a sum with axis=2"),
    ("np.sum(delta2, axis=a2)", "the keyword axis= in a sum"),
    ("W2[0]", "an index that is not a slice"),
    ("W2[::2, :]", "a slice with a step"),
    ("W2[a2:, :]", "a slice bound that is not a whole number"),
    ("delta3.dot(W2, W1)", r"\.dot\(\) takes 1 argument, got 2"),
    ("np.dot(delta3)", "np.dot takes 2 arguments, got 1"),
    ("delta3.__class__()", r"attribute access \(\.__class__\) not accepted"),
    ("np.hstack(W1)", r"hstack without one list of matrices"),
])
def test_numpy_spellings_outside_the_whitelist_are_refused_with_one_line(text, message):
    with pytest.raises(FormulaError, match=message) as caught:
        check_formula(text, "delta2", XOR_SPEC)
    assert "\n" not in str(caught.value)


def test_a_slice_that_leaves_nothing_is_a_shape_error():
    verdict = check_formula("delta3 @ W2[5:, :].T", "delta2", XOR_SPEC)
    assert "the slice leaves no rows" in verdict.shape_error


# --- the output delta of sigmoid with cross-entropy, printed simplified -------------------------


@pytest.mark.parametrize("reduction, printed", [("sum", "a3 - y"), ("mean", "(a3 - y)/4")])
def test_sigmoid_with_cross_entropy_output_delta_prints_as_a3_minus_y(reduction, printed):
    spec = parse_spec("2-3-1", cost="bce", reduction=reduction)
    verdict = check_formula("yhat - y" if reduction == "sum" else "(yhat - y) / m", "delta3", spec)
    assert verdict.simplified == printed
    assert f"derived: delta3 = {printed}  (4 x 1)" in verdict.text()
    # the printed form is itself checked equal to the derivation, as any formula is
    assert check_formula(printed, "delta3", spec).passed


def test_an_output_delta_that_does_not_simplify_prints_as_derived():
    verdict = check_formula("(yhat - y) * sigmoid_prime(z3)", "delta3", XOR_SPEC)
    assert verdict.simplified == ""
    assert "derived: delta3 = (a3 - y) * sigmoid_prime(z3)" in verdict.text()


# --- the notations of the courses, in NumPy ----------------------------------------------------


@pytest.mark.parametrize("text, target, spec", [
    # Ng's ex4 in NumPy: the bias row dropped after the product, Theta for the weights
    ("(Theta2.T @ delta3)[1:, :] * sigmoid_prime(z2)", "delta2", NG),
    ("np.dot(Theta2[:, 1:].T, delta3) * a2 * (1 - a2)", "delta2", NG),
    # cs231n (row form): dW1 = X.T.dot(dhidden), db1 = np.sum(dhidden, axis=0)
    ("X.T.dot(delta2)", "dW1", VECTOR_BIAS),
    ("np.sum(delta3, axis=0, keepdims=True)", "db2", VECTOR_BIAS),
    ("delta3.dot(W2.T) * (a2 * (1 - a2))", "delta2", VECTOR_BIAS),
    # Nielsen (column form): np.dot(w.transpose(), delta) * sigmoid_prime(z)
    ("np.dot(W2.transpose(), delta3) * sigmoid_prime(z2)", "delta2", parse_spec("2-3-1", convention="column")),
    ("np.dot(delta2, X.transpose())", "W1", parse_spec("2-3-1", convention="column")),
])
def test_course_notations_in_numpy_are_correct(text, target, spec):
    verdict = check_formula(text, target, spec)
    assert verdict.passed, verdict.text()
