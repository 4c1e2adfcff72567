"""A function that crashes on a shape in Ng's bias-unit layout is told what the shapes say: the bias
unit's row kept (at the product, or seen lines later in a gradient), or Theta2[1:] for Theta2[:, 1:].
The hint is the one error line of exit 2; shapes that fit no rule get none (nothing is guessed)."""

from pathlib import Path

import pytest

from derive.cli import main

PUBLISHED = Path(__file__).resolve().parent / "fixtures" / "published"
NG = ["--labels", "1", "--layers", "3-5-4", "--cost", "binary_cross_entropy", "--reduction", "mean",
      "--bias", "unit", "--convention", "column", "--l2", "1", "--returns", "cost,gradients"]
ROW = ["--layers", "3-5-4", "--bias", "unit", "--convention", "row"]

# Ng's column form: one example per column, a(1) = [1; x], Theta(l) with the bias weights in column 0
COLUMN_FORWARD = """\
import numpy as np

def g(z):
    return 1 / (1 + np.exp(-z))

def backprop(X, y, Theta1, Theta2):
    m = X.shape[1]
    a1 = np.vstack([np.ones((1, m)), X])
    z2 = Theta1 @ a1
    a2 = np.vstack([np.ones((1, m)), g(z2)])
    a3 = g(Theta2 @ a2)
    d3 = a3 - y
{backward}
    return J, d2 @ a1.T / m, d3 @ a2.T / m
"""


def crash(capsys, target, *options):
    code = main(["verify", str(target), *options])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def column_function(tmp_path, backward: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text(COLUMN_FORWARD.format(backward=backward))
    return f"{path}:backprop"


def test_the_bias_row_kept_is_named_from_a_gradients_shape_where_it_crashes_later(capsys):
    err = crash(capsys, f"{PUBLISHED / 'ng_ex4_columns.py'}:backprop_bias_row_kept", *NG)
    assert "ng_ex4_columns.py:40) in `Theta1_grad[:, 1:] += lambda_ / m * Theta1[:, 1:]`" in err
    assert ("; Theta1_grad (6x4) has one row more than Theta1 (5x4): 6 = the 5 units of layer 2 + its bias unit, "
            "which no weight feeds, so a gradient of Theta1 has no row for it: the bias unit's row was kept "
            "earlier, in the delta of layer 2 (Ng drops it after the product: (Theta2.T @ delta3)[1:])") in err


def test_theta_sliced_across_its_units_before_the_product_is_named(capsys):
    err = crash(capsys, f"{PUBLISHED / 'ng_ex4_columns.py'}:backprop_sliced_before_product", *NG)
    assert ("; Theta2[1:] drops one of the 4 output units' rows (4x6 to 3x6); the bias weights are Theta2's "
            "column 0 (Theta2[:, 1:])") in err


def test_the_bias_row_kept_in_the_product_is_named_at_its_own_line(capsys, tmp_path):
    target = column_function(tmp_path, "    d2 = (Theta2.T @ d3) * g(z2) * (1 - g(z2))\n    J = 0")
    err = crash(capsys, target, "--layers", "3-5-4", "--bias", "unit", "--convention", "column")
    assert ("; Theta2.T @ d3 (6x4) has 6 rows = the 5 units of layer 2 + its bias unit, where 5 belong: the bias "
            "unit's row was not dropped ([1:] after the product: (Theta2.T @ d3)[1:])") in err


def test_a_hidden_layers_weights_sliced_across_its_units_are_named(capsys, tmp_path):
    path = tmp_path / "deep.py"
    path.write_text("import numpy as np\n\n"
                    "def backprop(X, y, Theta1, Theta2, Theta3):\n"
                    "    d3 = np.ones((4, X.shape[1]))  # a delta of layer 3's 4 units\n"
                    "    d2 = Theta2[1:].T @ d3\n"
                    "    return Theta1, Theta2, Theta3\n")
    err = crash(capsys, f"{path}:backprop", "--layers", "3-5-4-2", "--bias", "unit", "--convention", "column")
    assert "; Theta2[1:] drops the row of one of the 4 units of layer 3 (4x6 to 3x6); the bias weights are " \
           "Theta2's column 0 (Theta2[:, 1:])" in err


def test_row_form_says_columns_and_slices_the_columns(capsys, tmp_path):
    path = tmp_path / "rows.py"
    path.write_text("import numpy as np\n\n"
                    "def backprop(X, y, W1, W2):\n"
                    "    m = X.shape[0]\n"
                    "    a1 = np.hstack([np.ones((m, 1)), X])\n"
                    "    z2 = a1 @ W1\n"
                    "    a2 = np.hstack([np.ones((m, 1)), np.tanh(z2)])\n"
                    "    d3 = a2 @ W2 - y\n"
                    "    d2 = (d3 @ W2.T) * (1 - np.tanh(z2) ** 2)\n"
                    "    return a1.T @ d2, a2.T @ d3\n")
    err = crash(capsys, f"{path}:backprop", *ROW)
    assert ("; d3 @ W2.T (4x6) has 6 columns = the 5 units of layer 2 + its bias unit, where 5 belong: the bias "
            "unit's column was not dropped ([:, 1:] after the product: (d3 @ W2.T)[:, 1:])") in err


@pytest.mark.parametrize("backward", [
    # a2 carries the bias row legitimately, and with m = 4 and 3 inputs it is 6 x 4, Theta1's shape plus a
    # row: without the weights themselves on the line, the shapes alone say nothing about a gradient
    "    d2 = a2 * g(z2)\n    J = 0",
    # off by one, but not a layer's width + 1 (7 against 6: no layer has 6 units)
    "    d2 = np.ones((7, m)) * np.ones((6, m))\n    J = 0",
    # a plain missing transpose: the transpose hint speaks, the bias unit's rules do not
    "    d2 = (Theta2 @ d3) * g(z2)\n    J = 0",
])
def test_shapes_that_fit_no_bias_unit_rule_get_no_bias_unit_hint(capsys, tmp_path, backward):
    target = column_function(tmp_path, backward)
    err = crash(capsys, target, "--layers", "3-5-4", "--bias", "unit", "--convention", "column")
    assert "bias unit" not in err and "bias weights" not in err, err


def test_the_same_slip_without_a_bias_unit_gets_no_bias_unit_hint(capsys, tmp_path):
    path = tmp_path / "plain.py"
    path.write_text("import numpy as np\n\n"
                    "def backprop(X, y, W1, W2):\n"
                    "    return W1[1:] @ W2, W2\n")
    err = crash(capsys, f"{path}:backprop", "--layers", "3-5-4", "--convention", "column")
    assert "bias" not in err, err


def test_a_returned_gradient_with_the_bias_units_row_is_named_without_a_crash(capsys, tmp_path):
    target = column_function(tmp_path, "    d2 = (Theta2.T @ d3) * np.vstack([np.ones((1, m)), g(z2) * (1 - g(z2))])\n"
                                       "    J = 0")
    err = crash(capsys, target, "--layers", "3-5-4", "--bias", "unit", "--convention", "column",
                "--returns", "cost,gradients")
    assert ("(dJ/dW1) has shape (6, 4); expected (5, 4) in column form (one row more: 6 = the 5 units of layer 2 + "
            "its bias unit, which no weight feeds: the bias unit's row was kept in the delta of layer 2; Ng drops it "
            "after the product: (Theta2.T @ delta3)[1:])") in err


def test_a_returned_gradient_off_by_one_elsewhere_gets_no_bias_unit_hint(capsys, tmp_path):
    target = column_function(tmp_path, "    d2 = Theta1\n    J = 0\n    return J, np.zeros((5, 5)), d3 @ a2.T / m")
    err = crash(capsys, target, "--layers", "3-5-4", "--bias", "unit", "--convention", "column",
                "--returns", "cost,gradients")
    assert "has shape (5, 5); expected (5, 4) in column form\n" in err  # a column more is no bias unit's row
