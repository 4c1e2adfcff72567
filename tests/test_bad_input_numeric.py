"""Bad input on the numeric side (issue 11): verify, check, train, their files and the Python API.

One behaviour per test; each fails on the code before its fix. The table of every case, one line
each, is tests/test_bad_input_corpus_numeric.py.
"""

import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from checks.inputs import param_files
from checks.inputs.param_files import ParameterFileError, load_json_object
from checks.pytest_helpers import assert_gradients_match
from checks.training import train
from checks.routes.three_routes import verify
from checks.diagnose.contract import ContractError, FunctionTimeout
from checks.diagnose.user_function import verify_function
from derive.cli import main
from derive.network.spec import XOR_SPEC, NetworkSpec

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "user_backprop.py"


def load_example():
    spec = importlib.util.spec_from_file_location("user_backprop_bad_input", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def correct(X, y, W1, W2):
    return load_example().correct_backprop(X, y, W1, W2)


def written(tmp_path, body: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text("import sys\nimport numpy as np\n\n" + body)
    return str(path)


# --- 2: a function that exits -------------------------------------------------------------------


def test_a_function_calling_sys_exit_0_is_a_contract_error_with_its_file_and_line(tmp_path, capsys):
    target = written(tmp_path, "def f(X, y, W1, W2):\n    sys.exit(0)\n")
    assert main(["verify", f"{target}:f"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "called sys.exit(0)" in err and f"{target}:5" in err


def test_a_function_calling_sys_exit_with_a_message_exits_2_not_1(tmp_path, capsys):
    target = written(tmp_path, "def f(X, y, W1, W2):\n    sys.exit('bye')\n")
    assert main(["verify", f"{target}:f"]) == 2
    assert "called sys.exit('bye')" in capsys.readouterr().err


def test_a_function_raising_keyboard_interrupt_is_a_contract_error():
    def f(X, y, W1, W2):
        raise KeyboardInterrupt

    with pytest.raises(ContractError, match="raised KeyboardInterrupt"):
        verify_function(f, XOR_SPEC)


def test_a_function_that_raises_is_reported_at_the_line_of_its_own_file(tmp_path):
    spec = importlib.util.spec_from_file_location("mine_raises", written(
        tmp_path, "def f(X, y, W1, W2):\n    return helper()\n\ndef helper():\n    raise ValueError('no')\n"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ContractError, match=r"raised ValueError: no \(at .*mine.py:8\)"):
        verify_function(module.f, XOR_SPEC)


# --- 4: finite inputs that overflow -------------------------------------------------------------


LARGE_WEIGHTS = '{"W1": [[1e60, 1e60, 1e60], [1e60, 1e60, 1e60]], "W2": [[1e60], [1e60], [1e60]]}'


def test_check_with_an_overflowing_l2_exits_2_naming_the_cost(tmp_path, capsys):
    # l2 = 1e200 is the largest a spec takes; with weights of 1e60 the penalty overflows
    params = tmp_path / "params.json"
    params.write_text(LARGE_WEIGHTS)
    assert main(["check", "--l2", "1e200", "--params", str(params)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "the cost J overflows float64" in err and "DISAGREE" not in err


def test_check_with_weights_of_1e308_exits_2_naming_the_first_overflowing_quantity(tmp_path, capsys):
    params = tmp_path / "params.json"
    params.write_text('{"W1": [[1e308, 1e308, 1e308], [1e308, 1e308, 1e308]], "W2": [[1e308], [1e308], [1e308]]}')
    assert main(["check", "--params", str(params)]) == 2
    assert "z2 overflows float64 (inf)" in capsys.readouterr().err


def test_verify_with_an_overflowing_l2_is_bad_input_not_a_bug_in_the_tool(capsys):
    assert main(["verify", f"{EXAMPLE}:correct_backprop", "--l2", "1e308"]) == 2
    err = capsys.readouterr().err
    assert "l2 must be a finite number" in err and "a bug in this tool" not in err


def test_the_library_check_raises_on_overflow_without_numpy_warnings():
    # `backprop derive` runs this check; the CLI maps the ValueError to exit 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="overflows float64"):
            verify(NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), l2=1e200),
                   {"W1": np.full((2, 3), 1e60), "W2": np.full((3, 1), 1e60)})


# --- 5: training that diverges ------------------------------------------------------------------


def test_a_diverging_training_run_names_the_epoch_and_the_learning_rate_without_warnings():
    spec = NetworkSpec((2, 3, 1), ("identity", "identity"))
    X, Y = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([[0.0], [1.0], [1.0], [0.0]])
    params = {"W1": np.full((2, 3), 0.5), "W2": np.full((3, 1), 0.5)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"training diverged at epoch \d+ .*learning rate 100 is the likely cause"):
            train(spec, params, X, Y, learning_rate=100.0, epochs=50)


def test_train_with_a_huge_learning_rate_exits_2_saying_it_diverged(capsys):
    assert main(["train", "--activation", "identity", "--lr", "100"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "training diverged at epoch" in err


# --- 6, 7, 17: files ----------------------------------------------------------------------------


def test_a_file_of_200_kb_of_nested_brackets_is_refused_without_recursion_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000)
    with pytest.raises(ParameterFileError, match="nests more than 3 levels"):
        load_json_object(path, "data file")


def test_brackets_inside_a_name_do_not_count_as_nesting(tmp_path):
    path = tmp_path / "named.json"
    path.write_text('{"[[[[": [[1]]}')
    assert load_json_object(path, "data file") == {"[[[[": [[1]]}


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(param_files, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text('{"X": [[' + ", ".join(["1"] * 100) + "]]}")
    with pytest.raises(ParameterFileError, match="bytes; the limit is 100"):
        load_json_object(path, "data file")


def test_dev_zero_as_a_data_file_is_refused_after_reading_at_most_the_limit():
    with pytest.raises(ParameterFileError, match="longer than the limit of 33,554,432 bytes"):
        load_json_object("/dev/zero", "data file")


def test_a_file_with_more_numbers_than_the_limit_is_refused_while_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(param_files, "MAX_NUMBERS", 10)
    path = tmp_path / "many.json"
    path.write_text('{"X": [[' + ", ".join(["0.5"] * 11) + "]]}")
    with pytest.raises(ParameterFileError, match="more than 10 numbers"):
        load_json_object(path, "data file")


def test_a_name_given_twice_in_a_file_is_refused(tmp_path):
    path = tmp_path / "params.json"
    path.write_text('{"W1": [[1, 2, 3], [4, 5, 6]], "W2": [[1], [2], [3]], "W1": [[0, 0, 0], [0, 0, 0]]}')
    with pytest.raises(ParameterFileError, match="'W1' appears twice"):
        load_json_object(path, "parameter file")


# --- 8, 14, 15: what the function returns -------------------------------------------------------


def test_complex_gradients_are_a_contract_error_not_a_pass():
    def f(X, y, W1, W2):
        dW1, dW2 = correct(X, y, W1, W2)
        return dW1 + 1e-3j, dW2

    with pytest.raises(ContractError, match=r"output 1 of 2 \(dJ/dW1\) is complex"):
        verify_function(f, XOR_SPEC)


def test_a_returned_object_whose_array_conversion_raises_is_a_contract_error():
    class Unreadable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("cannot")

    with pytest.raises(ContractError, match="reading what it returned raised RuntimeError: cannot"):
        verify_function(lambda X, y, W1, W2: (Unreadable(), Unreadable()), XOR_SPEC)


def test_a_cost_function_returning_none_is_a_contract_error_not_wrong():
    with pytest.raises(ContractError, match=r"the output \(J\) is None"):
        verify_function(lambda X, y, W1, W2: None, XOR_SPEC, "cost")


def test_a_list_holding_none_is_a_contract_error():
    with pytest.raises(ContractError, match="holds NoneType"):
        verify_function(lambda X, y, W1, W2: ([[None] * 3] * 2, [[0.0]] * 3), XOR_SPEC)


# --- 11: timeout --------------------------------------------------------------------------------


def test_a_function_that_never_returns_is_stopped_at_the_timeout():
    def forever(X, y, W1, W2):
        while True:
            pass

    start = time.monotonic()
    with pytest.raises(FunctionTimeout, match="did not return within 0.2 s"):
        verify_function(forever, XOR_SPEC, timeout=0.2)
    assert time.monotonic() - start < 5


def test_a_function_that_swallows_the_first_alarm_is_still_stopped():
    def stubborn(X, y, W1, W2):
        try:
            while True:
                pass
        except BaseException:  # a bare except in the user's code catches the first alarm
            pass
        while True:
            pass

    with pytest.raises(FunctionTimeout):
        verify_function(stubborn, XOR_SPEC, timeout=0.1)


def test_verify_timeout_option_ends_a_hanging_function_with_exit_2(tmp_path, capsys):
    target = written(tmp_path, "def f(X, y, W1, W2):\n    while True:\n        pass\n")
    assert main(["verify", f"{target}:f", "--timeout", "0.2"]) == 2
    assert "did not return within 0.2 s" in capsys.readouterr().err


def test_no_alarm_is_left_behind_after_verify():
    import signal

    before = signal.getsignal(signal.SIGALRM)
    verify_function(correct, XOR_SPEC, timeout=0.5)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


# --- 12: tolerance ------------------------------------------------------------------------------


@pytest.mark.parametrize("tolerance", ["inf", "nan", "-1", "0", "0.5"])
def test_verify_refuses_a_tolerance_outside_its_range(tolerance, capsys):
    assert main(["verify", f"{EXAMPLE}:buggy_backprop", "--tolerance", tolerance]) == 2
    assert "the tolerance must be a number from 1e-15 to 0.001" in capsys.readouterr().err


def test_verify_function_refuses_an_infinite_tolerance():
    with pytest.raises(ValueError, match="tolerance must be a number"):
        verify_function(correct, XOR_SPEC, tolerance=float("inf"))


# --- 20: deep nets ------------------------------------------------------------------------------


def test_finite_differences_do_not_vouch_for_gradients_below_what_they_resolve():
    # eight sigmoid layers with weights 0.1: each layer scales delta by 0.1 * sigma' <= 0.025, so
    # dJ/dW1 ~ 1e-12, far below the 1e-7 that central differences resolve, while dJ/dW8 ~ 0.1
    spec = NetworkSpec((1,) * 9, ("sigmoid",) * 8)
    params = {f"W{layer}": np.array([[0.1]]) for layer in range(1, 9)}
    verdict = verify(spec, params, (np.array([[1.0]]), np.array([[0.0]])), entrywise=False)
    assert verdict.agree
    for parameter in verdict.parameters:
        for pair in parameter.pairs:
            assert pair.relative_error < 1e-3, (parameter.name, pair)
    assert verdict.parameter("W1").unresolved
    assert any("finite differences cannot resolve W1" in note for note in verdict.notes)


# --- 22: a spec string --------------------------------------------------------------------------


def test_assert_gradients_match_accepts_a_spec_string():
    assert_gradients_match(correct, "2-3-1")


def test_assert_gradients_match_says_what_a_spec_must_be():
    with pytest.raises(ValueError, match="NetworkSpec or a spec string such as \"2-3-1\""):
        assert_gradients_match(correct, 231)


# --- 4 and 5 in a real process: pytest hides Python warnings, a terminal does not --------------


@pytest.mark.parametrize("argv, fragment", [
    (["check", "--l2", "1e200", "--layers", "2-3-1", "--params", "LARGE"], "the cost J overflows float64"),
    (["train", "--activation", "identity", "--lr", "100"], "training diverged at epoch 5"),
])
def test_overflow_and_divergence_print_one_line_and_no_numpy_warnings(argv, fragment, tmp_path):
    import subprocess

    (tmp_path / "large.json").write_text(LARGE_WEIGHTS)
    argv = [str(tmp_path / "large.json") if arg == "LARGE" else arg for arg in argv]
    run = subprocess.run([sys.executable, "-m", "derive", *argv], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and fragment in run.stderr and "Warning" not in run.stderr, run.stderr


def test_training_diverging_under_a_huge_l2_names_l2_with_the_learning_rate():
    spec = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), l2=1e200)
    X, Y = np.array([[0.0, 1.0]]), np.array([[1.0]])
    with pytest.raises(ValueError, match=r"the learning rate 2 with l2 = 1e\+200 is the likely cause"):
        train(spec, {"W1": np.full((2, 3), 0.5), "W2": np.full((3, 1), 0.5)}, X, Y, learning_rate=2.0, epochs=5)
