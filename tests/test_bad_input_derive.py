"""Issue 11, the derive/spec/CLI half: one test per fixed defect, each failing before its fix."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from derive import derive, parse_spec
from derive.cli import derive as cli_derive
from derive.writeup import output_files
from derive.cli import EXIT_BROKEN_PIPE, main
from derive.cli.derive import default_name
from derive.network.size_limits import MAX_DEPTH, NetworkTooLarge, check_size
from derive.writeup.output_files import write_files
from derive.network.spec import NetworkSpec, SpecError

ROOT = Path(__file__).resolve().parent.parent


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


# Item 3: the size of the whole network ---------------------------------------------------------

def test_a_net_over_the_weight_limit_is_refused_at_once_with_the_estimate_and_the_limit(tmp_path, capsys):
    start = time.perf_counter()
    code = main(["derive", "--layers", "5000-5000-5000", "--out", str(tmp_path)])
    err = _one_line_error(capsys)
    assert code == 2 and time.perf_counter() - start < 5
    assert "network too large: 5000-5000-5000 has ~50,000,000 weights (limit 1,000,000)" in err
    assert "--size-limit-factor 50" in err
    assert list(tmp_path.iterdir()) == []


def test_check_refuses_a_net_whose_weights_would_not_fit_in_memory(capsys):
    # it died with "Unable to allocate 74.5 GiB" as a traceback
    assert main(["check", "--layers", "100000-100000-1"]) == 2
    assert "~10,000,100,000 weights (limit 1,000,000)" in _one_line_error(capsys)


def test_check_refuses_a_batch_whose_arrays_are_over_the_memory_limit(capsys):
    assert main(["check", "--layers", "784-100-10", "-m", "100000"]) == 2
    assert "GiB of float64 arrays at m = 100,000 (limit 2.0 GiB)" in _one_line_error(capsys)


def test_a_thousand_layer_net_is_refused_before_any_work(capsys):
    layers = "-".join(["2"] * 1000)
    assert main(["derive", "--layers", layers, "--formats", "md", "--out", "unused"]) == 2
    assert f"has 1,000 layers (limit {MAX_DEPTH})" in _one_line_error(capsys)


def test_derive_refuses_a_symbolic_batch_of_a_hundred_thousand_examples(capsys):
    assert main(["derive", "-m", "100000", "--formats", "md", "--out", "unused"]) == 2
    assert "m = 100,000 examples to write out symbolically (limit 1,000)" in _one_line_error(capsys)


def test_the_api_derive_refuses_a_net_over_the_limits_before_any_work():
    start = time.perf_counter()
    with pytest.raises(NetworkTooLarge, match="size_limit_factor=50 in the API"):
        derive(parse_spec("5000-5000-5000"))
    assert time.perf_counter() - start < 5


def test_the_size_limit_factor_lets_a_large_net_through_on_purpose(capsys):
    layers = "-".join(["2"] * (MAX_DEPTH + 1))
    assert main(["graph", "--network", "--layers", layers]) == 2
    assert "--size-limit-factor 1.1" in _one_line_error(capsys)
    assert main(["graph", "--network", "--layers", layers, "--size-limit-factor", "1.1"]) == 0


def test_the_api_size_limit_factor_raises_every_limit():
    spec = parse_spec("2-3-1", m=2000)
    with pytest.raises(NetworkTooLarge):
        check_size(spec, "derive")
    assert check_size(spec, "derive", factor=2).m == 2000


@pytest.mark.parametrize("layers, options, work", [
    ("784-100-10", {"m": 1}, "derive"),                     # the bench's largest derivation
    ("784-30-10", {"m": 4}, "derive"),
    ("784-100-10", {"m": 256, "bias": "vector"}, "check"),  # the bench's check
    ("784-100-10", {"m": 60000, "bias": "vector"}, "check"),  # MNIST's training set
    ("-".join(["2"] * MAX_DEPTH), {}, "derive"),
])
def test_the_large_nets_run_on_purpose_are_within_the_limits(layers, options, work):
    check_size(parse_spec(layers, **options), work)


# Item 9: an explicit request that cannot be met -------------------------------------------------

def test_formats_pdf_given_by_name_without_pdflatex_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(output_files, "TEX_ENGINE", "no-such-tex-engine")
    assert main(["derive", "--formats", "pdf", "--out", str(tmp_path)]) == 2
    assert "--formats pdf needs no-such-tex-engine, which is not on PATH" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


# Item 10: the files of one document change together --------------------------------------------

def test_a_rename_that_fails_halfway_leaves_every_old_file_unchanged(tmp_path):
    (tmp_path / "derivation.tex").write_bytes(b"old tex")
    (tmp_path / "derivation.md").mkdir()  # a folder where a file should go: its rename fails
    with pytest.raises(OSError):
        write_files(tmp_path, {"derivation.tex": b"new tex", "derivation.md": b"new md"})
    assert (tmp_path / "derivation.tex").read_bytes() == b"old tex"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["derivation.md", "derivation.tex"]


def test_a_rename_that_fails_halfway_removes_the_files_it_had_added(tmp_path):
    (tmp_path / "derivation.md").mkdir()
    with pytest.raises(OSError):
        write_files(tmp_path, {"derivation.tex": b"new tex", "derivation.md": b"new md"})
    assert [p.name for p in tmp_path.iterdir()] == ["derivation.md"]


# Item 13: --seed named ----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "train"])
def test_a_negative_seed_is_refused_naming_the_option(command, capsys):
    assert main([command, "--seed", "-1"]) == 2
    assert "argument --seed: expected a non-negative integer, got -1" in _one_line_error(capsys)


# Item 16: a closed pipe ---------------------------------------------------------------------------

def test_a_closed_stdout_ends_the_command_quietly():
    process = subprocess.Popen([sys.executable, "-m", "derive", "check"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader goes away before a line is written, as `| head -0` would
    err = process.stderr.read()
    process.wait(timeout=120)
    assert err == b"" and process.returncode == EXIT_BROKEN_PIPE


# Item 18: one rule for --name ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["two\nlines", "a\ttab", "with space", ".hidden", "-option"])
@pytest.mark.parametrize("command", [["derive", "--formats", "md"], ["graph", "x", "--at", "x=1"]])
def test_derive_and_graph_refuse_the_same_names(tmp_path, capsys, command, name):
    assert main(command + ["--out", str(tmp_path), f"--name={name}"]) == 2
    assert f"--name {name!r} is not accepted" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


# Item 19: the output path checked before the work -----------------------------------------------

def test_a_deep_nets_default_folder_name_fits_a_name():
    spec = parse_spec("-".join(["2"] * 200))
    name = default_name(spec)
    assert len(name) <= 100 and name.startswith("2-200-layers-2-") and name.endswith("-sigmoid-sse-row-m4")


def test_an_output_folder_under_a_file_is_refused_before_the_derivation(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_derive, "write_derivation", _no_work)
    (tmp_path / "blocker").write_text("a file where a folder should go")
    assert main(["derive", "--formats", "md", "--out", str(tmp_path / "blocker" / "sub")]) == 2
    assert "exists and is not a folder" in _one_line_error(capsys)


def test_an_output_name_too_long_for_the_file_system_is_refused_before_the_derivation(tmp_path, capsys,
                                                                                       monkeypatch):
    monkeypatch.setattr(cli_derive, "write_derivation", _no_work)
    assert main(["derive", "--formats", "md", "--out", str(tmp_path / ("x" * 300))]) == 2
    assert "over the file system's limit of 255" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def _no_work(*args, **kwargs):
    raise AssertionError("the derivation started before the output path was checked")


# Item 22: numeric spec fields that do not fit a float64 ------------------------------------------

@pytest.mark.parametrize("l2", [10 ** 400, float("nan"), float("inf"), 1e300])
def test_parse_spec_refuses_an_l2_that_is_not_a_finite_float64_of_sane_size(l2):
    with pytest.raises(SpecError, match="l2 must be a finite number of at least 0 and at most 1e\\+200"):
        parse_spec("2-3-1", l2=l2)


def test_an_l2_written_out_in_full_is_shortened_in_the_message():
    with pytest.raises(SpecError) as error:
        NetworkSpec((2, 1), ("sigmoid",), l2=10 ** 400)
    assert len(str(error.value)) < 150


def test_graph_files_change_together_when_one_cannot_be_written(tmp_path, capsys):
    (tmp_path / "circuit.tex").write_bytes(b"old tex")
    (tmp_path / "circuit.md").mkdir()  # its rename fails, after circuit.tex's would have succeeded
    assert main(["graph", "x * y", "--at", "x=1,y=2", "--out", str(tmp_path), "--formats", "tex,md"]) == 2
    assert (tmp_path / "circuit.tex").read_bytes() == b"old tex"
    assert _one_line_error(capsys).startswith("backprop graph: error:")
