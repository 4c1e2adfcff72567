"""verify-formula: safe parsing, symbolic and exact comparison, shape errors, named mistakes."""

import os

import pytest

from checks.diagnose.user_formula import check_formula, parse_matrix_formula
from derive.formulas.expression_parser import FormulaError
from derive.network.spec import XOR_SPEC, parse_spec

SQUARE = parse_spec("3-3-3", m=3)
COLUMN = parse_spec("2-3-1", convention="column")
BCE_MEAN = parse_spec("2-3-1", output_activation="sigmoid", cost="bce", reduction="mean")


# --- right formulas, in the forms people write them --------------------------------------------


@pytest.mark.parametrize("text, target, spec", [
    ("delta3 @ W2.T * sigmoid_prime(z2)", "delta2", XOR_SPEC),          # seed 000, as the issue writes it
    ("(delta3 @ W2.T) * a2 * (1 - a2)", "delta2", XOR_SPEC),            # sigma' = a (1 - a)
    ("delta3 @ W2.T * sigmoid_prime(X @ W1)", "delta2", XOR_SPEC),      # z2 written out
    ("delta3 * W2.T * sigmoid_prime(z2)", "delta2", XOR_SPEC),          # one output: * broadcasts like @
    ("-(y - yhat) * sigmoid_prime(z3)", "delta3", XOR_SPEC),            # seed 000's delta3
    ("X.T @ delta2", "dJ_dW1", XOR_SPEC),
    ("a2.T @ delta3", "W2", XOR_SPEC),
    ("W2.T @ delta3 * sigmoid_prime(z2)", "delta2", COLUMN),            # Nielsen's column form
    ("delta2 @ X.T", "dW1", COLUMN),
    ("(yhat - y) / m", "delta3", BCE_MEAN),                             # sigmoid + cross-entropy, mean
    ("ones(1, 4) @ delta2", "b1", parse_spec("2-3-1", bias="vector")),
    ("delta2 @ X.T + l2/m * W1", "W1", parse_spec("2-3-1", cost="bce", reduction="mean",
                                                  convention="column", l2=0.1)),
    ("delta3 @ W2.T * relu_prime(z2)", "delta2", parse_spec("2-3-1", activation="relu", output_activation="sigmoid")),
    ("delta3 @ W2.T * (1 - tanh(z2) ** 2)", "delta2", parse_spec("2-3-1", activation="tanh")),
    ("delta3 @ W2.T * f_prime(z2)", "delta2", parse_spec("2-3-1", activation="f")),
])
def test_right_formula_is_equal_by_both_routes(text, target, spec):
    verdict = check_formula(text, target, spec)
    assert verdict.passed, verdict.text()
    assert verdict.symbolic.equal and verdict.modular is True
    assert verdict.text().endswith("verdict: CORRECT")


# --- wrong formulas: caught by both routes, located, named --------------------------------------


@pytest.mark.parametrize("text, target, spec, key", [
    ("delta3 @ W2.T * sigmoid_prime(a2)", "delta2", XOR_SPEC, "derivative_of_activation"),
    ("delta3 @ W2.T", "delta2", XOR_SPEC, "derivative_missing"),
    ("(y - yhat) * sigmoid_prime(z3)", "delta3", XOR_SPEC, "sign_flipped"),
    ("delta3 @ W2 * sigmoid_prime(z2)", "delta2", SQUARE, "transpose_missing"),
    ("W2.T @ delta3 * sigmoid_prime(z2)", "delta2", SQUARE, "product_order_swapped"),
    ("(delta3 @ W2.T) @ sigmoid_prime(z2)", "delta2", SQUARE, "matmul_for_hadamard"),
    ("delta3 @ W2.T * z2 * (1 - z2)", "delta2", XOR_SPEC, "derivative_form_on_z"),
])
def test_wrong_formula_differs_by_both_routes_and_is_named(text, target, spec, key):
    verdict = check_formula(text, target, spec)
    assert not verdict.passed
    assert not verdict.symbolic.equal and verdict.modular is False
    assert [m.key for m in verdict.explanations] == [key], verdict.text()
    assert f"verdict: WRONG for {target}" in verdict.text()


def test_wrong_entry_is_shown_with_both_values():
    report = check_formula("delta3 @ W2.T * sigmoid_prime(a2)", "delta2", XOR_SPEC).text()
    assert ("differs at entry [0, 0]: the formula gives W2_0_0*delta3_0_0*sigmoid_prime(a2_0_0), "
            "the derivation W2_0_0*delta3_0_0*sigmoid_prime(z2_0_0)") in report


def test_a_constant_factor_is_named():
    report = check_formula("X.T @ delta2 / m", "W1", XOR_SPEC).text()
    assert "exactly 1/4 times the derived one (m = 4: a 1/m missing or extra)" in report


# --- shapes --------------------------------------------------------------------------------------


def test_shapes_that_do_not_fit_inside_the_formula_are_wrong_with_the_shapes():
    verdict = check_formula("delta3 @ W2 * sigmoid_prime(z2)", "delta2", XOR_SPEC)
    assert not verdict.passed
    assert verdict.shape_error == ("shape error in 'delta3 @ W2': 4 x 1 @ 3 x 1: the left's 1 columns do not "
                                   "match the right's 3 rows")
    verdict = check_formula("W1 + W2", "W1", XOR_SPEC)
    assert not verdict.passed
    assert "2 x 3 and 3 x 1 do not broadcast for '+'" in verdict.shape_error


def test_a_missing_transpose_whose_shapes_do_not_multiply_is_named_with_its_fix():
    verdict = check_formula("delta3 @ W2 * sigmoid_prime(z2)", "delta2", XOR_SPEC)
    assert verdict.fixes == ("W2 (3x1) needs its transpose here: delta3 @ W2.T * sigmoid_prime(z2) "
                             "(with it the formula is correct)",)
    assert verdict.text().endswith("verdict: WRONG for delta2")


def test_a_result_of_the_wrong_shape_is_wrong_with_both_shapes():
    verdict = check_formula("delta2.T @ X", "W1", XOR_SPEC)
    assert not verdict.passed
    assert verdict.shape_error == ("shape error: the formula gives a 3 x 2 matrix (the transpose of what it "
                                   "should be); W1 is 2 x 3")


# --- malformed and hostile input ----------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('touch pwned')", r"attribute access \(\.system\) not accepted"),
    ("().__class__.__bases__[0]", "not accepted"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("lambda: 0", "lambda expressions not accepted"),
    ("delta3 @@ W2", "not a valid expression"),
    ("delta3 @ W2.T * sigmoid_prime(z2", "not a valid expression"),
    ("W1.I", r"attribute access \(\.I\) not accepted"),
    ("Q @ W1", "unknown name 'Q'"),
    ("sigmoid(1)", "sigmoid takes a matrix, not a number"),
    ("2 + 3", "is a number, not a matrix"),
    ("x" * 600, "the limit is 500"),
])
def test_malformed_and_hostile_formulas_are_refused_with_one_line(text, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FormulaError, match=message) as caught:
        check_formula(text, "delta2", XOR_SPEC)
    assert "\n" not in str(caught.value)
    assert os.listdir(tmp_path) == []  # nothing ran


def test_an_unknown_target_lists_the_accepted_ones():
    with pytest.raises(ValueError, match="unknown quantity 'W9' for --for; accepted: delta3, delta2, W1, W2"):
        check_formula("X.T @ delta2", "W9", XOR_SPEC)


def test_numpy_broadcasting_of_a_row_and_a_column():
    formula = parse_matrix_formula("delta3 * W2.T", XOR_SPEC)
    assert formula.shape == (4, 3)


# --- a larger net: z is not written out, the exact route decides ----------------------------------

LARGER = parse_spec("20-10-3", m=2)  # 230 parameters x 2 examples, over DEEP_EXPANSION_LIMIT


def test_on_a_larger_net_an_equality_that_needs_z_written_out_is_decided_exactly():
    verdict = check_formula("delta3 @ W2.T * sigmoid_prime(X @ W1)", "delta2", LARGER)
    assert verdict.symbolic.equal is None and verdict.modular is True
    assert verdict.passed
    assert "the exact route decides" in verdict.text()


def test_on_a_larger_net_a_wrong_formula_is_still_caught_and_named():
    verdict = check_formula("delta3 @ W2.T * sigmoid_prime(a2)", "delta2", LARGER)
    assert not verdict.passed and verdict.modular is False
    assert [m.key for m in verdict.explanations] == ["derivative_of_activation"]
