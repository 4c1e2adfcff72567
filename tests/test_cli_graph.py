"""`backprop graph`: exit codes, one-line errors, and no file written on error."""

import os
import xml.etree.ElementTree as ElementTree

import graphviz
import pytest

from derive.circuits import circuit as circuit_module
from derive.circuits.circuit import Gate
from derive.cli import main

CS231N = ["graph", "(x + y) * z", "--at", "x=-2,y=5,z=-4"]


def _files(folder):
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_expression_prints_the_step_table_and_exits_zero(capsys):
    assert main(CS231N) == 0
    out = capsys.readouterr().out
    assert "L = (x + y) * z  at  x = -2, y = 5, z = -4" in out
    assert "all checks pass" in out


def test_no_file_is_written_without_out_or_formats(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(CS231N) == 0
    assert _files(tmp_path) == []


@pytest.mark.needs_dot
def test_out_writes_all_four_formats(tmp_path, capsys):
    out = tmp_path / "pictures"
    assert main(CS231N + ["--out", str(out)]) == 0
    assert _files(out) == ["circuit.md", "circuit.png", "circuit.svg", "circuit.tex"]
    assert (out / "circuit.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    ElementTree.fromstring((out / "circuit.svg").read_bytes())
    assert f"wrote {out / 'circuit.svg'}" in capsys.readouterr().out


@pytest.mark.needs_dot
def test_name_and_formats_choose_the_files(tmp_path):
    assert main(CS231N + ["--out", str(tmp_path), "--name", "f_xyz", "--formats", "svg,md"]) == 0
    assert _files(tmp_path) == ["f_xyz.md", "f_xyz.svg"]


def test_formats_alone_write_into_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(CS231N + ["--formats", "md"]) == 0
    assert _files(tmp_path) == ["circuit.md"]


def test_an_existing_file_is_replaced_and_no_temporary_is_left(tmp_path):
    (tmp_path / "circuit.md").write_text("old")
    assert main(CS231N + ["--out", str(tmp_path), "--formats", "md"]) == 0
    assert (tmp_path / "circuit.md").read_text().startswith("# Backprop through")
    assert _files(tmp_path) == ["circuit.md"]


@pytest.mark.needs_dot
def test_split_sigmoid_draws_cs231n_gates(tmp_path):
    args = ["graph", "sigmoid(w0*x0 + w1*x1 + w2)", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3",
            "--split-sigmoid", "--out", str(tmp_path), "--formats", "svg"]
    assert main(args) == 0
    svg = (tmp_path / "circuit.svg").read_text()
    assert "1/x" in svg and "0.7311" in svg


def test_a_failed_gradient_check_exits_one(monkeypatch, capsys):
    wrong = Gate("*", lambda a, b: a * b, lambda v, out: (v[0], v[1]), "a, b (wrong)")
    monkeypatch.setitem(circuit_module.GATES, "mul", wrong)
    assert main(CS231N) == 1
    assert "CHECK FAILED" in capsys.readouterr().out


@pytest.mark.needs_dot
def test_network_view_writes_its_files(tmp_path, capsys):
    assert main(["graph", "--network", "--out", str(tmp_path)]) == 0
    assert _files(tmp_path) == [f"network-2-3-1.{ext}" for ext in ("md", "png", "svg", "tex")]
    out = capsys.readouterr().out
    assert "δ(2) = (δ(3) W(2)ᵀ) ⊙ f′(z(2))" in out


def test_network_view_takes_the_spec_options(capsys):
    assert main(["graph", "--network", "--layers", "3-5-2", "--convention", "column",
                 "-m", "7"]) == 0
    assert "z(2)      5×7    z(2) = W(1) X" in capsys.readouterr().out


BAD = [
    (["graph", "x +", "--at", "x=1"], "not a valid expression"),
    (["graph", "__import__('os').system('touch pwned')", "--at", "x=1"], "attribute access"),
    (["graph", "x ** 10 ** 10", "--at", "x=1"], "exponents are limited"),
    (["graph", "foo(x)", "--at", "x=1"], "unknown function 'foo'"),
    (["graph", "x / (y - z)", "--at", "x=1,y=2,z=2"], "division by zero"),
    (["graph", "log(x)", "--at", "x=0"], "log of a non-positive value"),
    (["graph", "x * y"], "--at is needed"),
    (["graph", "x * y", "--at", "x=1"], "--at has no value for y"),
    (["graph", "x", "--at", "x=1,y=2"], "--at gives y, not in the expression"),
    (["graph", "x", "--at", "x=1,x=2"], "gives x twice"),
    (["graph", "x", "--at", "x=one"], "must be a number"),
    (["graph", "x", "--at", "x=inf"], "must be finite"),
    (["graph", "x", "--at", "x"], "NAME=VALUE pairs"),
    (["graph", "exp(x)", "--at", "x=1000"], "overflows a float"),
    (["graph"], "give an expression"),
    (["graph", "x", "--network"], "does not go with --network"),
    (["graph", "--network", "--layers", "2-x"], "layer sizes must look like 2-3-1"),
    (["graph", "x", "--at", "x=1", "--formats", "pdf"], "unknown format 'pdf'"),
    (["graph", "x", "--at", "x=1", "--name", "../escape"], "--name '../escape' is not accepted"),
]


@pytest.mark.parametrize("args, fragment", BAD, ids=[" ".join(a[1:])[:40] for a, _ in BAD])
def test_bad_input_is_one_line_on_stderr_exit_two_and_no_file(tmp_path, monkeypatch, capsys,
                                                              args, fragment):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(args + ["--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("backprop graph: error: ")
    assert fragment in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.out == ""
    assert _files(tmp_path) == []  # not even the --out folder: it is made only to write


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep")
    assert main(CS231N + ["--out", str(target)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep"


def test_missing_graphviz_writes_no_file(tmp_path, monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(("dot",))

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    out = tmp_path / "out"
    assert main(CS231N + ["--out", str(out)]) == 2
    assert "Graphviz program 'dot' is needed" in capsys.readouterr().err
    assert _files(out) == []  # the tables were not written either: everything renders first


def test_a_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch, capsys):
    def refuse(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    assert main(CS231N + ["--out", str(tmp_path), "--formats", "md"]) == 2
    assert "disk full" in capsys.readouterr().err
    assert _files(tmp_path) == []
