"""`backprop derive|check|verify --layer conv2d|conv1d|maxpool|avgpool` through the CLI's main, and bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

from derive.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "convolution"
CONV = FIXTURES / "conv_backward_variants.py"
POOL = FIXTURES / "pool_backward_variants.py"


def test_derive_writes_the_four_files_and_says_every_proof_holds(tmp_path, capsys):
    code = main(["derive", "--layer", "conv2d", "--out", str(tmp_path), "--formats", "tex,md,html"])
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "conv2d").iterdir()) == ["derivation.html", "derivation.md", "derivation.tex"]
    assert "entrywise: holds for dX, dW, db; randomized GF(p): holds for dX, dW, db; index level: holds for dX, dW, db" in out


@pytest.mark.parametrize("argv", [
    ["--layer", "conv2d", "--kernel", "3x2", "--stride", "2", "--padding", "1", "--filters", "3", "--channels", "2",
     "--size", "6x5", "-N", "2"],
    ["--layer", "conv1d", "--kernel", "3", "--stride", "2", "--size", "9"],
    ["--layer", "maxpool", "--kernel", "3", "--stride", "2", "--size", "7x7", "--channels", "2"],
    ["--layer", "avgpool"],
])
def test_check_says_the_three_routes_agree(argv, capsys):
    assert main(["check"] + argv) == 0
    assert "verdict: the three routes agree" in capsys.readouterr().out


def test_check_reads_a_point_from_a_json_file(tmp_path, capsys):
    rng = np.random.default_rng(3)
    point = {"x": rng.standard_normal((1, 2, 5, 5)).tolist(), "w": rng.standard_normal((3, 2, 3, 3)).tolist(),
             "b": [0.1, 0.2, 0.3], "dout": rng.standard_normal((1, 3, 5, 5)).tolist()}
    (tmp_path / "point.json").write_text(json.dumps(point))
    assert main(["check", "--layer", "conv2d", "--data", str(tmp_path / "point.json")]) == 0
    assert "the arrays of" in capsys.readouterr().out


@pytest.mark.parametrize("function", ["correct"])
@pytest.mark.parametrize("layer", ["conv2d", "conv1d"])
def test_verify_passes_a_correct_convolution_backward(function, layer, capsys):
    assert main(["verify", f"{CONV}:{function}", "--layer", layer]) == 0
    assert "verdict: agrees with the derived gradients" in capsys.readouterr().out


@pytest.mark.parametrize("function, mistake", [
    ("kernel_not_flipped", "kernel not flipped"),
    ("valid_padding", "valid padding in the backward"),
    ("stride_ignored", "stride ignored in dX"),
    ("bias_not_summed", "bias gradient not summed over positions"),
    ("channels_transposed", "channels transposed in dW"),
])
@pytest.mark.parametrize("layer", ["conv2d", "conv1d"])
def test_verify_names_each_convolution_mistake(function, mistake, layer, capsys):
    assert main(["verify", f"{CONV}:{function}", "--layer", layer]) == 1
    verdict = capsys.readouterr().out.splitlines()[-1]
    assert verdict.startswith(f"verdict: DIFFERS; the numbers are reproduced by: {mistake} (")
    assert verdict.count("; ") == 1  # that mistake alone


def test_verify_names_no_mistake_for_an_uncatalogued_bug(capsys):
    assert main(["verify", f"{CONV}:sign_wrong", "--layer", "conv2d"]) == 1
    assert "no catalogued mistake reproduces the numbers" in capsys.readouterr().out


@pytest.mark.parametrize("function, layer", [("max_correct", "maxpool"), ("average_correct", "avgpool")])
def test_verify_passes_a_correct_pooling_backward(function, layer, capsys):
    assert main(["verify", f"{POOL}:{function}", "--layer", layer]) == 0


def test_verify_names_the_max_pool_gradient_sent_to_the_whole_window(capsys):
    assert main(["verify", f"{POOL}:max_whole_window", "--layer", "maxpool"]) == 1
    assert "reproduced by: max-pool gradient sent to the whole window" in capsys.readouterr().out


# ------------------------------------------------------------------------------ bad input: one line, exit 2


def one_line_error(capsys, argv) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    return captured.err


@pytest.mark.parametrize("command", ["derive", "check"])
def test_a_kernel_larger_than_the_padded_input_is_one_line(command, capsys, tmp_path):
    error = one_line_error(capsys, [command, "--layer", "conv2d", "--kernel", "5", "--size", "3", "--padding", "0",
                                    "--out" if command == "derive" else "--seed", str(tmp_path) if command == "derive" else "0"])
    assert "larger than the padded input" in error
    assert not any(tmp_path.iterdir())


def test_a_stride_that_does_not_fit_exactly_is_one_line_when_the_fit_is_required(capsys):
    error = one_line_error(capsys, ["check", "--layer", "conv2d", "--size", "6", "--stride", "2", "--padding", "0",
                                    "--exact-fit"])
    assert "does not fit exactly" in error
    assert main(["check", "--layer", "conv2d", "--size", "6", "--stride", "2", "--padding", "0"]) == 0


def test_channels_that_do_not_match_are_one_line(capsys, tmp_path):
    point = {"x": np.zeros((1, 2, 5, 5)).tolist(), "w": np.zeros((3, 4, 3, 3)).tolist(), "b": [0, 0, 0],
             "dout": np.zeros((1, 3, 5, 5)).tolist()}
    (tmp_path / "point.json").write_text(json.dumps(point))
    error = one_line_error(capsys, ["check", "--layer", "conv2d", "--data", str(tmp_path / "point.json")])
    assert "the input has 2 channels but the filters have 4" in error


@pytest.mark.parametrize("point, words", [
    ({"x": [[[[1, 2], [3, float("nan")]]]], "w": [[[[1]]]], "b": [0], "dout": [[[[1, 1], [1, 1]]]]}, "not a finite"),
    ({"x": [[[1, 2, 3]]], "w": [[[[1]]]], "b": [0], "dout": [[[1, 1, 1]]]}, "x has 3 axes, 4 expected"),
    ({"x": [[[[1, 2], [3, 4]]]], "w": [[[[1]]]], "b": [0, 1], "dout": [[[[1, 1], [1, 1]]]]}, "b has shape (2,)"),
    ({"x": "a", "w": 1, "b": 0, "dout": 2}, "must be arrays of numbers"),
])
def test_a_point_file_that_does_not_fit_is_one_line(point, words, capsys, tmp_path):
    (tmp_path / "point.json").write_text(json.dumps(point))
    assert words in one_line_error(capsys, ["check", "--layer", "conv2d", "--padding", "0", "--data",
                                            str(tmp_path / "point.json")])


@pytest.mark.parametrize("layer", ["maxpool", "avgpool"])
def test_a_pooling_window_of_zero_is_one_line(layer, capsys):
    assert "pooling window must be at least 1" in one_line_error(capsys, ["check", "--layer", layer, "--kernel", "0"])


@pytest.mark.parametrize("argv, words", [
    (["check", "--layer", "conv2d", "--stride", "0"], "--stride must be at least 1"),
    (["check", "--layer", "conv2d", "--padding", "-1"], "--padding must be 0 or more"),
    (["check", "--layer", "maxpool", "--filters", "2"], "pooling keeps the channels"),
    (["check", "--layer", "conv1d", "--kernel", "3x3"], "1 axis expected"),
    (["check", "--layer", "conv2d", "--unbiased"], "does not go with --layer conv2d"),
    (["verify", "nowhere.py:fn", "--layer", "conv2d"], "no such file"),
])
def test_other_bad_options_are_one_line(argv, words, capsys):
    assert words in one_line_error(capsys, argv)


def test_a_function_that_raises_is_one_line(capsys, tmp_path):
    (tmp_path / "broken.py").write_text("def fn(x, w, b, dout, stride, pad):\n    raise RuntimeError('no')\n")
    assert "the function raised RuntimeError: no" in one_line_error(capsys, ["verify", f"{tmp_path}/broken.py:fn",
                                                                             "--layer", "conv2d"])
