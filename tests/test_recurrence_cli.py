"""`backprop derive|check|verify|graph --layer rnn|lstm`: exit codes, summaries, bad input as one line."""

import json
from pathlib import Path

import pytest

from derive.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "recurrence"


def test_check_prints_cs231n_figures_for_every_gradient_and_agrees(capsys):
    code = main(["check", "--layer", "rnn"])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("dW_xh", "dW_hh", "db", "dW_hy", "dc", "dh_0", "dx"):
        assert f"  {name}: derived vs hand-written" in out
    assert out.rstrip().endswith("give the same gradients")


def test_check_with_truncation_reports_the_distance_from_full(capsys):
    assert main(["check", "--layer", "lstm", "--steps", "6", "--truncate", "2", "--row-convention"]) == 0
    out = capsys.readouterr().out
    assert "truncated backprop through time, k = 2 of T = 6" in out and "differs from full BPTT by" in out


def test_check_reads_equal_length_sequences_from_a_file(tmp_path, capsys):
    path = tmp_path / "seq.json"
    path.write_text(json.dumps({"x": [[[0.1, 0.2], [0.3, -0.1], [0.0, 1.0]], [[1, 2], [3, 4], [5, 6]]]}))
    assert main(["check", "--layer", "rnn", "--data", str(path), "--hidden", "3"]) == 0
    assert "T = 3, D = 2, H = 3" in capsys.readouterr().out


def test_verify_names_the_mistake_and_exits_1(capsys):
    code = main(["verify", f"{FIXTURES / 'lstm_forget_term_missing.py'}:lstm_backward", "--layer", "lstm"])
    assert code == 1 and "forget term missing" in capsys.readouterr().out


def test_verify_passes_a_correct_backward(capsys):
    assert main(["verify", f"{FIXTURES / 'rnn_correct.py'}:rnn_backward", "--layer", "rnn"]) == 0


@pytest.mark.needs_dot
def test_graph_draws_the_unrolled_layer(tmp_path, capsys):
    assert main(["graph", "--layer", "rnn", "--steps", "3", "--out", str(tmp_path), "--formats", "svg"]) == 0
    assert (tmp_path / "rnn-unrolled.svg").read_text().count("step ") >= 3


def test_graph_text_shows_the_shared_weight_feeding_every_step(capsys):
    assert main(["graph", "--layer", "rnn", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "W  ->  cell1" in out and "W  ->  cell2" in out and "h1  ->  cell2" in out


def _sequence_file(tmp_path, data):
    path = tmp_path / "seq.json"
    path.write_text(json.dumps(data))
    return str(path)


BAD = [
    (["derive", "--layer", "rnn", "--steps", "0"], "--steps must be at least 1"),
    (["check", "--layer", "lstm", "--steps", "-2"], "--steps must be at least 1"),
    (["check", "--layer", "rnn", "--steps", "4", "--truncate", "5"], "--truncate 5 is longer than the sequence (T = 4)"),
    (["check", "--layer", "rnn", "--cell-activation", "softplus"], "--cell-activation 'softplus'"),
    (["check", "--layer", "lstm", "--cell-activation", "relu"], "the LSTM's gates are sigma and tanh"),
    (["check", "--layer", "rnn", "--step-cost", "hinge"], "--step-cost 'hinge'"),
    (["derive", "--layer", "rnn", "-N", "3"], "-N does not go with --layer rnn"),
]


@pytest.mark.parametrize("argv, message", BAD)
def test_bad_option_is_one_line_exit_2_and_no_file(tmp_path, capsys, argv, message):
    code = main([*argv, "--out", str(tmp_path)] if argv[0] == "derive" else argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("data, extra, message", [
    ({"x": [[[1, 2], [3, 4]], [[1, 2]]]}, [], "ragged lengths [2, 1]"),
    ({"x": [[[1, 2], [3, 4]]], "h0": [[0.0, 0.0]]}, ["--hidden", "3"], "h0 has width 2, but the layer's hidden width H"),
    ({"x": [[[1, 2], [3, 4]]]}, ["--cell-input", "3"], "x has width 2, but the layer's input width D (--cell-input) is 3"),
    ({"x": []}, [], "x: a list of sequences"),
])
def test_bad_sequence_file_is_one_line_exit_2(tmp_path, capsys, data, extra, message):
    code = main(["check", "--layer", "rnn", "--data", _sequence_file(tmp_path, data), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_unreadable_sequence_file_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "seq.json"
    path.write_text("{not json")
    assert main(["check", "--layer", "rnn", "--data", str(path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
