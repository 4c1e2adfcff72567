"""verify-formula --latex: gradient notation read by our own grammar, the same checker as NumPy text."""

import pytest
import sympy

from checks.diagnose.user_formula import check_formula, matrix_grammar
from checks.diagnose.formula_document import check_latex
from derive.formulas.expression_parser import node_source
from derive.formulas.latex_formula import EntryFormula, GeneralFormula, LatexError, parse_latex
from derive.network.spec import XOR_SPEC, parse_spec

NG = parse_spec("2-3-1", bias="unit", convention="column", cost="bce", reduction="mean", l2=1.0)
NIELSEN = parse_spec("2-3-1", convention="column")
CS231N = parse_spec("2-3-1", bias="vector")
SQUARE = parse_spec("3-3-3", m=3)


def verdicts(latex, spec, target=None):
    return tuple(verdict for _, verdict in check_latex(latex, target, spec))


# --- each notation, read and found equal to the derivation -------------------------------------

@pytest.mark.parametrize("latex, spec, numpy_text", [
    # seed 000 (row form), as our write-ups print it and as the issue writes it
    (r"\delta^{(2)} = \left(\delta^{(3)} W^{(2)\top}\right) \odot \sigma'(z^{(2)})", XOR_SPEC,
     "delta3 @ W2.T * sigmoid_prime(z2)"),
    (r"\delta^{(3)} = -(y - \hat{y}) \odot f'(z^{(3)})", XOR_SPEC, "-(y - yhat) * sigmoid_prime(z3)"),
    (r"\frac{\partial J}{\partial W^{(1)}} = X^{\top} \delta^{(2)}", XOR_SPEC, "X.T @ delta2"),
    (r"\partial J / \partial W^{(1)} = X^T \delta^{(2)}", XOR_SPEC, "X.T @ delta2"),
    (r"\delta^{(2)} = \delta^{(3)} W^{(2)\intercal} * \sigma'(z^{(2)})", XOR_SPEC,
     "delta3 @ W2.T * sigmoid_prime(z2)"),
    # Nielsen (column form, w^l the weights into layer l, \circ)
    (r"\delta^2 = ((w^3)^T \delta^3) \circ \sigma'(z^2)", NIELSEN, "W2.T @ delta3 * sigmoid_prime(z2)"),
    (r"\frac{\partial C}{\partial w^2} = \delta^2 (a^1)^T", NIELSEN, "delta2 @ X.T"),
    # Ng (Theta, column form, bias unit: [1, a^T] and the bias column dropped)
    (r"\delta^{(2)} = \left(\bar{\Theta}^{(2)\top} \delta^{(3)}\right) \odot g'(z^{(2)})", NG,
     "W2[:, 1:].T @ delta3 * sigmoid_prime(z2)"),
    (r"\frac{\partial J}{\partial \Theta^{(2)}} = \delta^{(3)} \left[\mathbf{1},\ a^{(2)\top}\right] + "
     r"\frac{\lambda}{m} \left[\mathbf{0},\ \bar{\Theta}^{(2)}\right]", NG,
     "delta3 @ hstack([ones(4, 1), a2.T]) + l2 / m * hstack([zeros(1, 1), W2[:, 1:]])"),
    (r"\delta^{(3)} = \frac{1}{m} (a^{(3)} - y)", NG, "(a3 - y) / m"),
    # cs231n (row form, dW, sums over the batch)
    (r"dW_1 = X^T \delta_2", CS231N, "X.T @ delta2"),
    (r"db_1 = \sum_{i} \delta^{(2)}_{i}", CS231N, "np.sum(delta2, axis=0)"),
    (r"\nabla_{b^{(1)}} J = \mathbf{1}^\top \delta^{(2)}", CS231N, "ones(1, 4) @ delta2"),
])
def test_each_notation_reads_as_its_numpy_formula_and_is_correct(latex, spec, numpy_text):
    (verdict,) = verdicts(latex, spec)
    assert verdict.passed, verdict.text()
    target = verdict.target
    assert check_formula(numpy_text, target, spec).passed  # the same quantity, written the other way


def test_an_entrywise_bracket_reads_its_entries_as_the_matrices():
    latex = (r"\delta^{(3)} = \left[\frac{1 - y_{ij}}{4 \left(1 - a^{(3)}_{ij}\right)} - "
             r"\frac{y_{ij}}{4 a^{(3)}_{ij}}\right]_{ij} \odot \sigma'(z^{(3)})")
    equation = parse_latex(latex, matrix_grammar(NG).names, NG)
    assert node_source(equation.sides[0]) == "((1 - y) / (4 · (1 - a3)) - y / (4 · a3)) * sigmoid_prime(z3)"
    assert verdicts(latex, NG)[0].passed


def test_a_chain_of_equalities_checks_every_right_side():
    found = verdicts(r"\delta^{(3)} = (a^{(3)} - Y) \odot \sigma'(z^{(3)}) = (a^{(3)} - Y) \odot a^{(3)} \odot "
                     r"(1 - a^{(3)})", XOR_SPEC)
    assert [v.passed for v in found] == [True, True]


def test_a_formula_without_a_left_side_takes_its_target_from_for():
    assert verdicts(r"X^\top \delta^{(2)}", XOR_SPEC, "W1")[0].passed


def test_for_that_disagrees_with_the_left_side_is_refused():
    with pytest.raises(ValueError, match="--for W2 disagrees with the formula's left side, which defines W1"):
        verdicts(r"\frac{\partial J}{\partial W^{(1)}} = X^\top \delta^{(2)}", XOR_SPEC, "W2")


# --- wrong formulas: the same checker as NumPy text ---------------------------------------------

def test_a_missing_transpose_in_latex_is_wrong_and_names_its_fix():
    (verdict,) = verdicts(r"\delta^{(2)} = \left(\delta^{(3)} W^{(2)}\right) \odot \sigma'(z^{(2)})", XOR_SPEC)
    assert not verdict.passed
    assert verdict.fixes[0].startswith("W2 (3x1) needs its transpose here")


def test_a_wrong_derivative_in_latex_is_named_from_the_catalogue():
    (verdict,) = verdicts(r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \odot \sigma'(a^{(2)})", XOR_SPEC)
    assert [m.key for m in verdict.explanations] == ["derivative_of_activation"]


def test_a_product_both_readings_fit_is_asked_for_not_guessed():
    with pytest.raises(LatexError.__mro__[1], match=r"reads both as a matrix product and entry by entry; write "
                                                    r"\\odot for the entrywise product"):
        verdicts(r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \sigma'(z^{(2)})", SQUARE)
    assert check_formula("delta3 @ W2.T * sigmoid_prime(z2)", "delta2", SQUARE).passed  # NumPy's @ says it


def test_juxtaposition_is_entrywise_when_only_that_fits():
    assert verdicts(r"\delta^{(3)} = (a^{(3)} - y) \sigma'(z^{(3)})", XOR_SPEC)[0].passed


# --- refusals, each with its character position ------------------------------------------------

@pytest.mark.parametrize("latex, refused, message", [
    (r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \oslash \sigma'(z^{(2)})", r"\oslash", r"the symbol \\oslash"),
    (r"\delta^{(2)} = \left(\delta^{(3)} W^{(2)\top} \odot \sigma'(z^{(2)})", None, r"the end of the formula"),
    (r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \odot \sigma'(z^{(2)}) \quad \text{for all}", r"\text",
     r"\\text\{for all\}"),
    (r"\delta^{(2)} = \delta^{(3)} Q^{(2)\top}", "Q", r"the symbol Q"),
    (r"\delta^{(2)} = \delta^{(3)} W^{(7)\top}", "W^{(7)", r"W7, which this network does not have"),
    (r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \odot \sigma' z^{(2)}", r"\sigma'", r"without parentheses"),
    (r"\delta^{(2)} = \delta^{(3)} W_{02}", "W_{02}", r"W without a layer number"),
    (r"\delta^{(2)} = \delta^{(3)} W^{(2)}_{02}", "{02}", r"the entry W2_\{02\}"),
    (r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \odot \sigma'(z^{(2)}) \# x", r"\#", r"the character"),
    (r"\delta^{(2)} = \sum \delta^{(3)}", r"\sum", r"\\sum without its index"),
    (r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \odot \sigma''(z^{(2)})", r"\sigma''", r"a second derivative"),
    (r"z^{(2)} = X W^{(1)}", "z", r"the left side is not a delta or a gradient"),
])
def test_latex_it_cannot_read_is_refused_with_the_character_position(latex, refused, message):
    position = len(latex) if refused is None else latex.index(refused)
    with pytest.raises(LatexError, match=message) as caught:
        verdicts(latex, XOR_SPEC)
    assert f"at character {position + 1} " in str(caught.value)
    assert caught.value.position == position
    assert "\n" not in str(caught.value)


def test_the_position_points_at_the_character_refused():
    latex = r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \oslash \sigma'(z^{(2)})"
    with pytest.raises(LatexError) as caught:
        verdicts(latex, XOR_SPEC)
    assert latex[caught.value.position:].startswith(r"\oslash")


def test_a_rule_for_layer_l_is_checked_at_every_layer_it_applies_to():
    found = check_latex(r"\delta^{(l)} = \left(\delta^{(l+1)} W^{(l)\top}\right) \odot \sigma'(z^{(l)})", None,
                        parse_spec("2-3-3-3-1"))
    assert [(layer, verdict.target, verdict.passed) for layer, verdict in found] == [
        (2, "delta2", True), (3, "delta3", True), (4, "delta4", True)]


def test_a_wrong_rule_for_layer_l_is_wrong_at_every_layer():
    found = check_latex(r"\frac{\partial J}{\partial W^{(l)}} = \delta^{(l+1)} a^{(l)\top}", None, XOR_SPEC)
    assert [layer for layer, _ in found] == [1, 2]
    assert not any(verdict.passed for _, verdict in found)


def test_the_output_layer_l_is_read_as_the_last():
    assert verdicts(r"\delta^{(L)} = (a^{(L)} - y) \odot \sigma'(z^{(L)})", XOR_SPEC)[0].target == "delta3"


def test_a_rule_whose_names_no_layer_has_is_refused():
    with pytest.raises(GeneralFormula):
        verdicts(r"\delta^{(l)} = \delta^{(l+5)}", XOR_SPEC)


def test_a_left_side_naming_one_entry_is_an_entry_formula():
    with pytest.raises(EntryFormula):
        verdicts(r"\frac{\partial J}{\partial W^{(2)}_{01}} = a^{(2)}_{00} \delta^{(3)}_{00}", XOR_SPEC)


def test_sympy_misreadings_named_in_known_md_are_read_right_here():
    # SymPy's ANTLR backend reads \delta^{(2)} as delta squared; latex2sympy2 turns A B^T into a*b
    equation = parse_latex(r"\delta^{(2)} = \delta^{(3)} W^{(2)T}", matrix_grammar(XOR_SPEC).names, XOR_SPEC)
    assert equation.target == "delta2"
    assert node_source(equation.sides[0]) == "delta3 · W2.T"


# --- the NumPy parser's limits hold for LaTeX too ------------------------------------------------

@pytest.mark.parametrize("latex, message", [
    (r"\delta^{(2)} = " + "(" * 300 + "a^{(2)}" + ")" * 300, "brackets nested over 40 deep at character"),
    (r"\delta^{(2)} = a^{(2)} / (1 - 1)", "division by zero"),
    (r"\delta^{(2)} = (a^{(2)})^{999}", "exponents are limited to -100..100"),
    (r"\delta^{(2)} = " + r"\sigma(" * 25 + "z^{(2)}" + ")" * 25, "the formula nests 25 levels deep; the limit is 20"),
    ("x" * 2001, "the limit is 2000"),
])
def test_latex_past_the_parsers_limits_is_refused(latex, message):
    from derive.formulas.expression_parser import FormulaError
    with pytest.raises(FormulaError, match=message):
        verdicts(latex, XOR_SPEC, "delta2")


def test_a_sum_after_a_fraction_is_read_whole_not_truncated_to_the_fraction():
    # SymPy's ANTLR backend reads \frac{1}{m}\sum ... as 1/m alone
    latex = r"\frac{\partial J}{\partial b^{(1)}} = \frac{1}{m} \sum_{n=0} \delta^{(2)}_{n}"
    equation = parse_latex(latex, matrix_grammar(CS231N).names, CS231N)
    assert node_source(equation.sides[0]) == "1 / m · np.sum(delta2, axis=0, keepdims=True)"
    (verdict,) = verdicts(latex, CS231N)
    assert verdict.factor == sympy.Rational(1, 4)  # the net sums over examples: a 1/m too many, named
