"""Shapes of the expressions on a line, from a frame's locals, without running the line."""

import ast

import numpy as np
import pytest

from checks.diagnose.line_shapes import expression_shape, failing_pair, reported_shapes
from checks.diagnose.user_code import load_function

LOCAL = {"Theta2": np.zeros((4, 6)), "d3": np.zeros((4, 3)), "z2": np.zeros((5, 3)), "m": 3, "lambda_": 1.0}


@pytest.mark.parametrize("text, shape", [
    ("Theta2", (4, 6)),
    ("Theta2.T", (6, 4)),
    ("Theta2[1:]", (3, 6)),
    ("Theta2[:, 1:]", (4, 5)),
    ("Theta2[:-1, 0]", (3,)),
    ("Theta2.T @ d3", (6, 3)),
    ("(Theta2.T @ d3)[1:]", (5, 3)),
    ("np.dot(Theta2.T, d3)", (6, 3)),
    ("Theta2.T.dot(d3)", (6, 3)),
    ("lambda_ / m * Theta2", (4, 6)),
    ("-z2 * 2", (5, 3)),
    # what cannot be told without running the code
    ("sigmoid(z2)", None),
    ("Theta2 @ d3", None),  # does not multiply
    ("Theta2[i]", None),  # an index that is not a constant
    ("unknown", None),
])
def test_an_expressions_shape_is_combined_from_its_names_shapes(text, shape):
    assert expression_shape(ast.parse(text, mode="eval").body, LOCAL) == shape


def _raised_by(tmp_path, body: str) -> tuple[ValueError, str]:
    path = tmp_path / "lines.py"
    path.write_text("import numpy as np\n\ndef fn(a, b):\n" + body + "\n")
    fn, _ = load_function(f"{path}:fn")
    with pytest.raises(ValueError) as caught:
        fn(np.zeros((6, 3)), np.zeros((5, 3)))
    return caught.value, str(path)


def test_the_failing_pair_of_a_broadcast_is_the_operator_numpy_reported(tmp_path):
    error, path = _raised_by(tmp_path, "    return (a + 1) * b")
    pair, _ = failing_pair(error, path)
    assert (ast.unparse(pair.left), pair.left_shape, ast.unparse(pair.right), pair.right_shape) == \
        ("a + 1", (6, 3), "b", (5, 3))


def test_the_failing_pair_of_an_in_place_update_is_its_target_and_value(tmp_path):
    error, path = _raised_by(tmp_path, "    a[:, 1:] += 2 * b[:, 1:]")
    pair, _ = failing_pair(error, path)
    assert (ast.unparse(pair.left), ast.unparse(pair.right), pair.operator) == ("a[:, 1:]", "2 * b[:, 1:]", "broadcast")


def test_the_failing_pair_of_a_product_is_the_one_whose_inner_sizes_differ(tmp_path):
    error, path = _raised_by(tmp_path, "    return a.T @ a @ b")
    pair, _ = failing_pair(error, path)
    assert (ast.unparse(pair.left), pair.left_shape, ast.unparse(pair.right), pair.right_shape) == \
        ("a.T @ a", (3, 3), "b", (5, 3))


def test_a_statement_over_several_lines_gets_no_pair(tmp_path):
    error, path = _raised_by(tmp_path, "    return (a *\n            b)")
    assert failing_pair(error, path) is None


@pytest.mark.parametrize("message, shapes", [
    ("operands could not be broadcast together with shapes (6,3) (5,3) (6,3) ", [(6, 3), (5, 3), (6, 3)]),
    ("operands could not be broadcast together with remapped shapes [original->remapped]: (6,3)->(6,3) "
     "(5,)->(1,5)", [(6, 3), (5,)]),
])
def test_the_shapes_numpy_reports_are_read_as_the_operands_own(message, shapes):
    assert reported_shapes(message) == shapes
