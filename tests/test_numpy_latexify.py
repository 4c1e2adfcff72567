"""latexify-py renders the hand-written NumPy with @, * and .T kept apart (KNOWN.md: it does not)."""

import latexify
import pytest

import checks.handwritten.network as hand_written
from derive.network.naming import LatexNotation
from derive.writeup.numpy_latexify import reference_functions, render
from derive.network.spec import XOR_SPEC, NetworkSpec


def matrix_then_hadamard(A, B, C):
    return (A @ B) * C


def hadamard_then_matrix(A, B, C):
    return (A * B) @ C


def matrix_of_hadamard(A, B, C):
    return A @ (B * C)


def transpose_of_product(A, B):
    return (A @ B).T


def product_with_transpose(A, B):
    return A @ B.T


def uses_modulo(A, B):
    return A % B


def test_plain_latexify_prints_matmul_and_multiply_alike():
    # the reason for the rewrite: without it the two products are indistinguishable
    def matmul(A, B):
        return A @ B

    def multiply(A, B):
        return A * B

    assert latexify.get_latex(matmul).split("= ")[1] == latexify.get_latex(multiply).split("= ")[1]


@pytest.mark.parametrize("function, expected", [
    (matrix_then_hadamard, r"\mathopen{}\left( A B \mathclose{}\right) \odot C"),
    (hadamard_then_matrix, r"\mathopen{}\left( A \odot B \mathclose{}\right) C"),
    (matrix_of_hadamard, r"A \mathopen{}\left( B \odot C \mathclose{}\right)"),
    (transpose_of_product, r"\mathopen{}\left( A B \mathclose{}\right)^{\top}"),
    (product_with_transpose, r"A B^{\top}"),
], ids=["matrix then hadamard", "hadamard then matrix", "matrix of hadamard", "transpose of product",
        "product with transpose"])
def test_products_and_transpose_are_distinct(function, expected):
    assert render(function, names={}).split(" = ", 1)[1] == expected


def test_hadamard_and_transpose_follow_the_notation():
    text = render(matrix_then_hadamard, names={}, notation=LatexNotation(hadamard="circ", transpose="T"))
    assert r"\circ" in text and r"\odot" not in text
    assert render(product_with_transpose, names={}, notation=LatexNotation(transpose="T")).endswith("A B^{T}")


def test_modulo_in_the_source_is_refused():
    with pytest.raises(ValueError, match="%"):
        render(uses_modulo, names={})


def test_hidden_delta_row_form_is_delta_times_w_transpose_hadamard_f_prime():
    text = render(hand_written.hidden_delta, XOR_SPEC, {"b": True}, derivative=r"\sigma'")
    assert text.endswith(r"= \mathopen{}\left( \delta^{(l+1)} W^{(l)\top} \mathclose{}\right) \odot "
                         r"\sigma' \mathopen{}\left( z^{(l)} \mathclose{}\right)")
    assert "spec" not in text and "layer" not in text  # folded away with the branches


def test_hidden_delta_column_form_with_bias_unit_drops_the_bias_row():
    spec = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), bias="unit", convention="column")
    text = render(hand_written.hidden_delta, spec, {"b": True})
    assert r"\left( W^{(l)\top} \delta^{(l+1)} \mathclose{}\right)_{[1:,\,:]} \odot f'" in text


def test_weight_gradient_row_and_column_forms():
    column = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), convention="column")
    assert render(hand_written.weight_gradient, XOR_SPEC, {}).endswith(r"= a^{(l)\top} \delta^{(l+1)}")
    assert render(hand_written.weight_gradient, column, {}).endswith(r"= \delta^{(l+1)} a^{(l)\top}")


def test_pre_activation_keeps_the_bias_only_when_there_is_one():
    with_bias = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), bias="vector")
    assert render(hand_written.pre_activation, XOR_SPEC, {"b": True}).endswith(r"= a^{(l)} W^{(l)}")
    assert render(hand_written.pre_activation, with_bias, {"b": False}).endswith(r"= a^{(l)} W^{(l)} + b^{(l)}")


def test_reference_functions_cover_the_layers_of_a_spec():
    names = [name for name, _ in reference_functions(hand_written, XOR_SPEC)]
    assert names == ["pre_activation", "hidden_delta", "weight_gradient"]
    single = NetworkSpec((3, 2), ("sigmoid",), m=1)
    assert [name for name, _ in reference_functions(hand_written, single)] == ["pre_activation", "weight_gradient"]
