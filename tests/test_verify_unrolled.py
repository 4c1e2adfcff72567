"""`backprop verify --unrolled F|C`: Ng's ex4 nnCostFunction(nn_params, input_layer_size,
hidden_layer_size, num_labels, X, y, lambda) called with every Theta in one vector, its unrolled grad
split back. The expected gradients come from the derivation; the unrolling is checked against
MATLAB's (:) written out by hand (column by column is the transpose read row by row)."""

from pathlib import Path

import numpy as np
import pytest

from checks.diagnose.contract import CallingForm, Unrolled, contract
from checks.diagnose.unrolled import split_unrolled, unrolled_arguments
from checks.diagnose.user_function import verify_function
from derive.cli import main
from derive.network.spec import parse_spec

UNROLLED = Path(__file__).resolve().parent / "fixtures" / "published" / "ng_ex4_unrolled.py"
NG = ["--labels", "1", "--layers", "3-5-4", "--cost", "binary_cross_entropy", "--reduction", "mean",
      "--bias", "unit", "--convention", "column", "--l2", "1"]
NG_SPEC = parse_spec("3-5-4", cost="binary_cross_entropy", reduction="mean", bias="unit", convention="column",
                     l2=1.0)


def verify(capsys, function, *options):
    code = main(["verify", f"{UNROLLED}:{function}", *options])
    out, err = capsys.readouterr()
    return code, out, err


def test_ngs_unrolled_nn_cost_function_passes_with_fortran_order(capsys):
    code, out, err = verify(capsys, "nnCostFunction", "--unrolled", "F", *NG)
    assert (code, err) == (0, ""), out + err
    assert "nn_params (44,) = [Theta1(:); Theta2(:)] in F order" in out
    assert "verdict: PASS" in out


def test_the_same_code_reading_c_order_is_not_passed_and_the_order_is_named(capsys):
    code, out, err = verify(capsys, "nnCostFunction_c_order", "--unrolled", "F", *NG)
    assert (code, err) == (1, ""), out + err
    assert "verdict: WRONG: 3 of 3 outputs disagree" in out
    assert ("every output agrees when nn_params is unrolled in C order (row by row: NumPy's ravel() and "
            "np.reshape's default order) instead of F") in out
    assert "check it with --unrolled C if that is meant, or reshape and unroll with order='F'" in out


def test_c_order_code_passes_when_checked_in_c_order(capsys):
    code, out, err = verify(capsys, "nnCostFunction_c_order", "--unrolled", "c", *NG)
    assert (code, err) == (0, ""), out + err


def test_a_wrong_function_in_the_right_order_is_not_told_about_the_order():
    def last_row_dropped(nn_params, n, h, K, X, y, lambda_):  # Ng's (1:end-1) for (2:end), unrolled in F
        Theta1 = nn_params[:h * (n + 1)].reshape((h, n + 1), order="F")
        Theta2 = nn_params[h * (n + 1):].reshape((K, h + 1), order="F")
        m = X.shape[0]
        a1 = np.hstack([np.ones((m, 1)), X])
        a2 = np.hstack([np.ones((m, 1)), 1 / (1 + np.exp(-a1 @ Theta1.T))])
        h3 = 1 / (1 + np.exp(-a2 @ Theta2.T))
        Y = np.eye(K)[y - 1]
        d3 = h3 - Y
        d2 = (d3 @ Theta2)[:, :-1] * a2[:, 1:] * (1 - a2[:, 1:])
        g1, g2 = d2.T @ a1 / m, d3.T @ a2 / m
        g1[:, 1:] += lambda_ / m * Theta1[:, 1:]
        g2[:, 1:] += lambda_ / m * Theta2[:, 1:]
        return np.concatenate([g1.ravel(order="F"), g2.ravel(order="F")])

    verdict = verify_function(last_row_dropped, NG_SPEC, "gradients",
                              form=CallingForm(labels=1, unrolled=Unrolled("F", 1.0)))
    assert not verdict.passed
    assert "unrolled in C order" not in verdict.text()
    assert "the wrong bias row dropped" in verdict.text(), verdict.text()


@pytest.mark.parametrize("order", ["F", "C"])
def test_nn_params_is_each_theta_unrolled_in_order_and_grad_is_split_back_the_same_way(order):
    terms = contract(NG_SPEC, "cost,gradients", Unrolled(order, 0.5))
    Theta1, Theta2 = np.arange(20.0).reshape(5, 4), 100 + np.arange(24.0).reshape(4, 6)
    X, Y = np.ones((3, 4)), np.eye(4)
    nn_params, n, h, K, X_rows, y, lambda_ = unrolled_arguments(terms, X, Y, [Theta1, Theta2])
    # MATLAB's Theta(:) stacks the columns: the transpose's rows, one after the other
    by_hand = {"F": [Theta1.T, Theta2.T], "C": [Theta1, Theta2]}[order]
    assert nn_params.tolist() == [v for theta in by_hand for row in theta for v in row]
    assert (n, h, K, X_rows.shape, lambda_) == (3, 5, 4, (4, 3), 0.5)
    cost, W1, W2 = split_unrolled((7.0, nn_params), terms, "fn")
    assert cost == 7.0 and np.array_equal(W1, Theta1) and np.array_equal(W2, Theta2)


def test_a_grad_returned_as_a_matlab_column_is_read_as_the_vector():
    def column_grad(nn_params, n, h, K, X, y, lambda_):
        return nn_params[:, None] * 0

    verdict = verify_function(column_grad, NG_SPEC, "gradients", form=CallingForm(labels=1, unrolled=Unrolled("F", 1.0)))
    assert not verdict.passed  # read and judged: a zero gradient, not a contract error


@pytest.mark.parametrize("function, fragment", [
    ("nnCostFunction_short_grad", "grad has 40 numbers; expected 44, the unrolled gradient: Theta1 5 x 4 (20) "
                                  "then Theta2 4 x 6 (24)"),
])
def test_a_grad_of_the_wrong_length_is_one_line_and_exit_2(capsys, function, fragment):
    code, out, err = verify(capsys, function, "--unrolled", "F", *NG)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert fragment in err and "Traceback" not in err


def test_a_function_that_reshapes_nn_params_wrongly_is_reported_at_its_line(capsys, tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("import numpy as np\n\n"
                    "def nnCostFunction(nn_params, n, h, K, X, y, lambda_):\n"
                    "    Theta1 = np.reshape(nn_params[:h * n], (h, n + 1), order='F')  # the bias column forgotten\n"
                    "    return 0.0, nn_params\n")
    code = main(["verify", f"{path}:nnCostFunction", "--unrolled", "F", *NG])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1, err
    assert "cannot reshape array of size 15 into shape (5,4)" in err and f"(at {path}:4)" in err
    assert "nn_params (44,) = [Theta1(:); Theta2(:)] in F order" in err  # the call it was given


def test_a_function_without_ngs_signature_is_told_the_call(capsys):
    example = Path(__file__).resolve().parent.parent / "examples" / "user_backprop.py"
    code = main(["verify", f"{example}:correct_backprop", "--unrolled", "F", *NG])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1, err
    assert "the contract calls it with (nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda)" in err


@pytest.mark.parametrize("options, fragment", [
    (["--unrolled", "F", "--layers", "3-5-4"], "it needs one hidden layer, --bias unit and --convention column"),
    (["--unrolled", "F", *NG, "--layers", "3-5-5-4"], "it needs one hidden layer"),
    (["--unrolled", "F", *NG, "--returns", "deltas"], "with --unrolled the function returns (J, grad), grad or J"),
    (["--unrolled", "F", *NG, "--per-example"], "--unrolled calls the function with the whole batch"),
])
def test_unrolled_options_that_do_not_fit_are_refused_before_the_file_runs(capsys, options, fragment):
    code = main(["verify", "absent.py:fn", *options])
    _, err = capsys.readouterr()
    assert code == 2 and fragment in err, err


def test_an_order_other_than_f_or_c_is_refused_by_the_option_parser(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["verify", "absent.py:fn", "--unrolled", "R", *NG])
    assert caught.value.code == 2
    assert "argument --unrolled: invalid choice: 'R' (choose from 'F', 'C')" in capsys.readouterr().err
