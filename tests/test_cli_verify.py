"""`backprop verify` and `backprop verify-formula`: exit codes, one-line errors, reports."""

import subprocess
import sys
from pathlib import Path

import pytest

from derive.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "user_backprop.py"
SEED004 = ROOT / "checks" / "published" / "seed004.py"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def user_file(tmp_path, body: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text("import numpy as np\n\n" + body)
    return str(path)


def one_line_error(err: str, command: str) -> str:
    assert err.startswith(f"backprop {command}: error: ") and err.count("\n") == 1, err
    return err


# --- verify ----------------------------------------------------------------------------------


def test_a_correct_function_exits_0(capsys):
    code, out, err = run(capsys, "verify", f"{EXAMPLE}:correct_backprop")
    assert code == 0 and err == ""
    assert "verdict: PASS" in out


def test_a_wrong_function_exits_1_with_the_diagnosis(capsys):
    code, out, _ = run(capsys, "verify", f"{EXAMPLE}:buggy_backprop")
    assert code == 1
    assert "dJ/dW1: WRONG at entry" in out
    assert "f'(a) where f'(z) belongs: delta2 = (delta3 @ W2.T) * sigmoid_prime(a2)" in out
    assert out.rstrip().endswith("verdict: WRONG: 1 of 2 outputs disagrees with the derivation")


def test_seed_004_checked_from_the_command_line(capsys):
    code, out, _ = run(capsys, "verify", f"{SEED004}:seed_w11_gradient", "--returns", "W2[0,0]",
                       "--layers", "2-2-1", "--activation", "relu", "--output-activation", "sigmoid",
                       "--cost", "bce", "-m", "1")
    assert code == 1
    assert "these 3 mistakes from the catalogue, made together" in out


@pytest.mark.parametrize("target, message", [
    ("{tmp}/missing.py:f", "no such file: "),
    ("{example}", "expected FILE.py:FUNCTION"),
    ("{example}:no_such", "has no function 'no_such'; functions defined there: buggy_backprop, correct_backprop"),
    ("{example}:correct-backprop", "is not a Python function name"),
    ("{tmp}/data.txt:f", "is not a .py file"),
])
def test_bad_targets_exit_2_with_one_line(capsys, tmp_path, target, message):
    (tmp_path / "data.txt").write_text("")
    code, out, err = run(capsys, "verify", target.format(tmp=tmp_path, example=EXAMPLE))
    assert code == 2 and out == ""
    assert message in one_line_error(err, "verify")


@pytest.mark.parametrize("body, message", [
    ("def f(X, y, W1, W2):\n    return X.T @ X\n",
     "the output (dJ/dW1) has shape (2, 2); expected (2, 3) in row form"),
    ("def f(X, y, W1, W2):\n    return W1.T, W2\n",
     "output 1 of 2 (dJ/dW1) has shape (3, 2); expected (2, 3) in row form (the transpose"),
    ("def f(X, y, W1, W2):\n    return W1, W2, W2\n",
     "returned 3 values; expected 2 in this order: dJ/dW1, dJ/dW2"),
    ("def f(X, y, params):\n    return params\n",
     "mine.py:f takes (X, y, params) but the contract calls it with (X, y, W1, W2)"),
    ("def f(X, y, W1, W2):\n    raise RuntimeError('not yet')\n",
     "f raised RuntimeError: not yet"),
    ("raise ImportError('missing dependency')\n", "raised ImportError: missing dependency"),
    ("def f(X, y, W1, W2)\n    return W1, W2\n", "does not parse: line 3"),
])
def test_functions_that_do_not_fit_the_contract_exit_2_with_one_line(capsys, tmp_path, body, message):
    target = user_file(tmp_path, body) + ":f"
    returns = ["--returns", "W1"] if "X.T @ X" in body else []
    code, out, err = run(capsys, "verify", target, *returns)
    assert code == 2 and out == ""
    assert message in one_line_error(err, "verify")


def test_a_bad_returns_is_refused_before_the_file_is_imported(capsys, tmp_path):
    marker = tmp_path / "imported"
    target = user_file(tmp_path, f"open({str(marker)!r}, 'w').close()\ndef f(X, y, W1, W2):\n    pass\n") + ":f"
    code, _, err = run(capsys, "verify", target, "--returns", "W7")
    assert code == 2 and "unknown output 'W7'" in one_line_error(err, "verify")
    assert not marker.exists()


def test_a_bad_spec_exits_2(capsys):
    code, _, err = run(capsys, "verify", f"{EXAMPLE}:correct_backprop", "--activation", "swish")
    assert code == 2 and "unknown activation 'swish'" in one_line_error(err, "verify")


# --- verify-formula ---------------------------------------------------------------------------


def test_a_right_formula_exits_0(capsys):
    code, out, err = run(capsys, "verify-formula", "delta3 @ W2.T * sigmoid_prime(z2)", "--for", "delta2")
    assert code == 0 and err == ""
    assert "symbolic, entry by entry (all 12 entries, for every f): equal" in out


def test_a_wrong_formula_exits_1_and_is_named(capsys):
    code, out, _ = run(capsys, "verify-formula", "delta3 @ W2.T * sigmoid_prime(a2)", "--for", "delta2")
    assert code == 1
    assert "f'(a) where f'(z) belongs" in out


def test_a_formula_of_the_wrong_shape_exits_1_with_the_shapes(capsys):
    code, out, _ = run(capsys, "verify-formula", "delta2.T @ X", "--for", "dJ_dW1")
    assert code == 1
    assert "shape error: the formula gives a 3 x 2 matrix (the transpose of what it should be); W1 is 2 x 3" in out


@pytest.mark.parametrize("formula, message", [
    ("__import__('os').system('touch pwned')", r"attribute access (.system) not accepted"),
    ("delta3 @ ones(0, 2)", "ones(rows, columns) takes two positive whole numbers"),
    ("delta3 @", "not a valid expression"),
])
def test_malformed_hostile_and_misshapen_formulas_exit_2_with_one_line(capsys, tmp_path, monkeypatch, formula, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "verify-formula", formula, "--for", "delta2")
    assert code == 2 and out == ""
    assert message in one_line_error(err, "verify-formula")
    assert list(tmp_path.iterdir()) == []


def test_verify_formula_needs_for(capsys):
    code, out, err = run(capsys, "verify-formula", "X.T @ delta2")
    assert code == 2 and out == ""
    assert "--for QUANTITY is needed" in one_line_error(err, "verify-formula")


def test_the_installed_entry_point_runs_verify(tmp_path):
    result = subprocess.run([sys.executable, "-m", "derive", "verify", f"{EXAMPLE}:buggy_backprop", "--points", "1"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "sigmoid_prime(a2)" in result.stdout
