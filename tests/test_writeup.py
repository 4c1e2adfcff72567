"""The write-up says what issue 4 asks, in that order; expected formulas are seed 000's, in LaTeX."""

import pytest

from derive import derive
from derive.network.naming import LatexNotation
from derive.writeup.build import build_document, derivation_latex, derivation_markdown
from derive.writeup.latex import escape, inline
from derive.writeup.summary import derivation_summary_markdown
from derive.network.spec import XOR_SPEC, NetworkSpec
from derive.writeup.document import NumericTable, format_error

# Seed 000: delta3 = -(y - yhat) f'(z3), dJ/dW2 = a2^T delta3, delta2 = delta3 W2^T * f'(z2), dJ/dW1 = X^T delta2
SEED_000_FORMULAS = (
    r"\delta^{(3)} = \left(a^{(3)} - Y\right) \odot \sigma'(z^{(3)})",
    r"\frac{\partial J}{\partial W^{(2)}} = a^{(2)\top} \delta^{(3)}",
    r"\delta^{(2)} &= \left(\delta^{(3)} W^{(2)\top}\right) \odot \sigma'(z^{(2)})",
    r"\frac{\partial J}{\partial W^{(1)}} = X^{\top} \delta^{(2)}",
)
SECTION_ORDER = ("Notation and shapes", "Forward pass and cost", "Output layer", "Hidden layer", "column form",
                 "Update rule", "Verification")  # biases and regularization come before the update when present


@pytest.fixture(scope="module")
def xor():
    return derive(XOR_SPEC)


@pytest.fixture(scope="module")
def xor_markdown(xor):
    return derivation_markdown(xor)


@pytest.mark.parametrize("formula", SEED_000_FORMULAS)
def test_default_document_contains_the_proved_formulas_of_seed_000(xor_markdown, formula):
    assert formula in xor_markdown


def test_default_document_explains_the_transpose_at_index_level(xor_markdown):
    assert "**Why the transpose.**" in xor_markdown
    # the index-level sum of issue 4: dJ/da_nj = sum_r delta_nr W_jr = (delta W^T)_nj
    assert r"\sum_{r=0}^{K - 1} W_{jr} \delta_{nr} = \left(\delta W^{\top}\right)_{nj}" in xor_markdown
    assert r"\sum_{q=0}^{m - 1} a_{qi} \delta_{qj} = \left(a^{\top} \delta\right)_{ij}" in xor_markdown


def test_rejected_candidates_are_shown_with_their_reason(xor_markdown):
    assert r"- $\delta^{(3)} W^{(2)}$: shapes $4 \times 1$ and $3 \times 1$ do not multiply." in xor_markdown
    assert r"$\delta W$: inner sizes K and N differ" in xor_markdown


def test_a_candidate_unequal_at_an_entry_shows_both_values():
    deep = derivation_markdown(derive(NetworkSpec((2, 3, 3, 3, 1), ("sigmoid",) * 4), proofs="none"))
    assert "unequal at entry (0, 0); the candidate gives $W^{(3)}_{00} \\delta^{(4)}_{00} + W^{(3)}_{10}" in deep
    assert "the chain rule $W^{(3)}_{00} \\delta^{(4)}_{00} + W^{(3)}_{01}" in deep
    assert "**The recursion.**" in deep


def test_sections_come_in_the_order_of_the_issue(xor_markdown):
    headings = [line for line in xor_markdown.splitlines() if line.startswith("## ")]
    assert len(headings) == len(SECTION_ORDER)  # the NumPy reference is added when the CLI gives it
    for heading, title in zip(headings, SECTION_ORDER):
        assert title in heading


def test_update_rule_descends_and_says_the_plus_sign_climbs(xor_markdown):
    assert r"W^{(1)} &\leftarrow W^{(1)} - \eta \frac{\partial J}{\partial W^{(1)}}" in xor_markdown
    assert "the plus sign climbs the cost" in xor_markdown


def test_softmax_output_delta_is_yhat_minus_y_under_the_stated_condition():
    text = derivation_markdown(derive(NetworkSpec((2, 3, 3), ("sigmoid", "softmax"),
                                                  cost="categorical_cross_entropy"), proofs="none"))
    assert r"\delta^{(3)} = a^{(3)} - Y" in text
    assert r"$\sum_k y_{0k} = 1$" in text


def test_single_layer_document_derives_the_classic_delta_rule():
    text = derivation_markdown(derive(NetworkSpec((3, 2), ("sigmoid",), m=1), proofs="none"))
    assert r"\Delta W^{(1)}_{10} = -\eta \frac{\partial J}{\partial W^{(1)}_{10}} = \eta\, " \
           r"\left(y_{00} - a^{(2)}_{00}\right) \sigma'(z^{(2)}_{00}) x_{01}" in text
    assert r"\Delta w_{ji} = \eta\, (t_j - y_j)\, \sigma'(h_j)\, x_i" in text


def test_notation_options_reach_every_formula(xor):
    text = derivation_latex(xor, notation=LatexNotation(layer_index="subscript", hadamard="circ", transpose="T"))
    assert r"\left(\delta_{3} W_{2}^{T}\right) \circ \sigma'(z_{2})" in text
    assert r"\odot" not in text and r"^{\top}" not in text and r"\top}" not in text


def test_two_runs_are_byte_identical(xor):
    numeric = NumericTable("a point", ("a vs b",), (1e-6,), ("W1", "W2"), ((3e-9,), (1e-7,)), True)
    assert derivation_latex(xor, numeric) == derivation_latex(derive(XOR_SPEC), numeric)
    assert derivation_markdown(xor, numeric) == derivation_markdown(derive(XOR_SPEC), numeric)


def test_document_has_no_timestamp(xor):
    text = derivation_latex(xor)
    assert r"\today" not in text and r"\date" not in text


@pytest.mark.parametrize("error, threshold, expected", [
    (3.2e-16, 1e-12, "$< 10^{-12}$"), (4.75e-9, 1e-6, "$< 10^{-6}$"), (0.25, 1e-6, r"$2.5 \times 10^{-1}$"),
    (None, 1e-6, "not run")])
def test_errors_print_below_a_machine_independent_bound(error, threshold, expected):
    assert format_error(error, threshold) == expected


def test_latex_prose_escapes_specials_outside_math():
    assert inline("a_b 50% $x_1$ `np.sum`") == r"a\_b 50\% $x_1$ \texttt{np.sum}"
    assert escape("2^61") == r"2\textasciicircum{}61"


def test_notebook_summary_is_math_and_proofs(xor):
    summary = derivation_summary_markdown(xor)
    assert summary.count("$$") == 2 and "entrywise: holds" in summary
    assert xor._repr_markdown_() == summary


def test_every_section_has_content(xor):
    document = build_document(xor)
    assert all(section.blocks for section in document.sections)
