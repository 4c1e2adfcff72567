"""`backprop check`: the table, the JSON, exit codes, and one-line errors."""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import checks.routes.three_routes
from derive.cli import main
from tests.test_verify import planted

ROOT = Path(__file__).resolve().parents[1]
XOR_PARAMS = {"W1": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "W2": [[0.7], [-0.8], [0.9]]}
XOR_DATA = {"X": [[0, 0], [0, 1], [1, 0], [1, 1]], "y": [[0], [1], [1], [0]]}
# the JSON's gradients are the routes' own numbers: between analytic routes they agree to rounding
ROUTE_TOLERANCE = 1e-12


def _write(folder, name, content):
    path = folder / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def _run(*argv, cwd=ROOT):
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "derive", *argv], capture_output=True, text=True,
                          cwd=cwd, env=environment, timeout=300)


def _assert_one_line_error(captured, fragment):
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("backprop check: error: ")
    assert fragment in captured.err
    assert "Traceback" not in captured.err


def test_check_with_no_options_checks_xor_and_exits_zero(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "data: seed 000's XOR (4 examples); parameters: random (epsilon_init), seed 0" in out
    assert out.splitlines()[-1].startswith("verdict: agree")
    for row in ("W1 ", "W2 "):
        assert any(line.startswith(row) and line.endswith("agree") for line in out.splitlines())


def test_the_table_names_every_route_and_the_cost(capsys):
    main(["check", "--layers", "3-4-2", "--bias", "vector", "--cost", "bce", "-m", "5"])
    out = capsys.readouterr().out
    assert "data: random, seed 0 (5 examples)" in out
    assert "cost J: derived" in out and "hand-written" in out and "finite differences" in out
    assert [line.split()[0] for line in out.splitlines() if line[:2] in ("W1", "b1", "W2", "b2")] == \
        ["W1", "b1", "W2", "b2"]


def test_json_holds_every_gradient_from_every_route(capsys, tmp_path):
    params, data_file = _write(tmp_path, "p.json", XOR_PARAMS), _write(tmp_path, "d.json", XOR_DATA)
    assert main(["check", "--params", params, "--data", data_file, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["agree"] is True and report["params"] == XOR_PARAMS
    assert set(report["gradients"]) == {"derived", "hand_written", "finite_differences", "entrywise"}
    for route, gradients in report["gradients"].items():
        assert np.shape(gradients["W1"]) == (2, 3) and np.shape(gradients["W2"]) == (3, 1), route
    derived, hand = report["gradients"]["derived"], report["gradients"]["hand_written"]
    assert np.allclose(derived["W1"], hand["W1"], rtol=0, atol=ROUTE_TOLERANCE)
    assert [r["name"] for r in report["results"]] == ["W1", "W2"]
    assert {"values", "worst_index", "absolute_error", "relative_error", "relative_difference",
            "pairs"} <= set(report["results"][0])


def test_a_disagreeing_route_exits_one_and_names_the_parameter(capsys, monkeypatch):
    monkeypatch.setattr(checks.routes.three_routes, "verify",
                        functools.partial(checks.routes.three_routes.verify, hand_written=planted(sign_flip="W2")))
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "verdict: DISAGREE at W2" in out and "DISAGREE: hand-written differs" in out


@pytest.mark.parametrize("options, fragment", [
    (["--layers", "2-3-1", "-m", "3"], "-m 3 does not match the 4 examples"),
    (["--activation", "f"], "generic activation f"),
    (["--layers", "2-3", "--output-activation", "softmax", "--cost", "cce"], "sum to 1 per example"),
])
def test_bad_options_are_one_line_with_exit_two(capsys, tmp_path, options, fragment):
    data_file = _write(tmp_path, "d.json", {"X": [[0, 0], [0, 1], [1, 0], [1, 1]],
                                            "y": [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]}
                       if "softmax" in options else XOR_DATA)
    assert main(["check", "--data", data_file, *options]) == 2
    _assert_one_line_error(capsys.readouterr(), fragment)


@pytest.mark.parametrize("content, fragment", [
    ('{"W1": [[1, 2], [3, 4]], "W2": [[1], [2], [3]]}', "W1 has shape (2, 2); expected (2, 3)"),
    ('{"W1": [[1, 2, 3], [4, 5, 6]]}', "missing W2"),
    ("[[1]]", "must hold a JSON object"),
    ("{", "is not valid JSON"),
])
def test_a_bad_parameter_file_is_one_line_with_exit_two(capsys, tmp_path, content, fragment):
    assert main(["check", "--params", _write(tmp_path, "p.json", content)]) == 2
    _assert_one_line_error(capsys.readouterr(), fragment)


def test_a_missing_file_through_the_real_command_is_one_line_no_traceback_nothing_written(tmp_path):
    result = _run("check", "--params", str(tmp_path / "absent.json"), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "cannot be read" in result.stderr
    assert "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []


def test_the_real_command_checks_a_column_form_net_and_exits_zero():
    result = _run("check", "--layers", "2-3-2", "--convention", "column", "--bias", "unit",
                  "--cost", "bce", "--reduction", "mean", "--l2", "0.5")
    assert result.returncode == 0, result.stderr
    assert "verdict: agree" in result.stdout


def test_seeded_random_data_is_reproducible(capsys):
    main(["check", "--layers", "2-2-2", "--seed", "4", "--json"])
    first = json.loads(capsys.readouterr().out)
    main(["check", "--layers", "2-2-2", "--seed", "4", "--json"])
    assert json.loads(capsys.readouterr().out)["gradients"] == first["gradients"]
    assert first["data"] == "random, seed 4 (4 examples)" and np.shape(first["X"]) == (4, 2)
