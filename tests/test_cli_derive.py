"""`backprop derive`: files, summary, exit codes, and one-line errors with nothing half-written."""

import pytest

from derive.cli import main
from derive.cli.derive import default_name, parse_formats
from derive.writeup.output_files import write_files
from derive.network.spec import XOR_SPEC, NetworkSpec


def test_default_run_writes_tex_and_markdown_and_prints_a_summary(tmp_path, capsys):
    code = main(["derive", "--out", str(tmp_path), "--formats", "tex,md"])
    out = capsys.readouterr().out
    assert code == 0
    folder = tmp_path / "xor-2-3-1"
    assert sorted(p.name for p in folder.iterdir()) == ["derivation.md", "derivation.tex"]
    assert "seed 000's XOR net" in out
    assert "entrywise holds" in out and "randomized exact holds" in out and "local holds" in out
    assert "derived, hand-written and finite differences agree" in out
    assert str(folder / "derivation.tex") in out


def test_html_page_is_written_with_the_notation_chosen(tmp_path, capsys):
    code = main(["derive", "--out", str(tmp_path), "--name", "page", "--formats", "html", "--transpose", "T"])
    assert code == 0
    page = (tmp_path / "page" / "derivation.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<math" in page and "&#x022A4;" not in page


def test_notation_options_and_name_reach_the_files(tmp_path, capsys):
    code = main(["derive", "--out", str(tmp_path), "--name", "plain", "--formats", "md", "--hadamard", "circ",
                 "--transpose", "T", "--layer-index", "subscript"])
    assert code == 0
    text = (tmp_path / "plain" / "derivation.md").read_text()
    assert r"\left(\delta_{3} W_{2}^{T}\right) \circ \sigma'(z_{2})" in text


@pytest.mark.parametrize("argv, message", [
    (["--formats", "tex,docx"], "unknown format docx; accepted: tex, md, html, pdf"),
    (["--layers", "2-x-1"], "layer sizes must look like 2-3-1"),
    (["--name", "../escape"], "--name '../escape' is not accepted"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(tmp_path, capsys, argv, message):
    code = main(["derive", "--out", str(tmp_path)] + argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_bad_choice_is_an_argparse_error_with_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["derive", "--hadamard", "star"])
    assert exit_info.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_unwritable_output_folder_is_one_line_and_writes_nothing(tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the output folder should go")
    code = main(["derive", "--out", str(blocker), "--formats", "tex,md"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("backprop derive: error:") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_a_failed_write_leaves_no_file_and_no_temporary(tmp_path):
    with pytest.raises(TypeError):
        write_files(tmp_path, {"derivation.tex": b"complete", "derivation.md": None})
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_an_old_file_whole(tmp_path):
    (tmp_path / "derivation.md").write_bytes(b"old")
    write_files(tmp_path, {"derivation.md": b"new"})
    assert [p.name for p in tmp_path.iterdir()] == ["derivation.md"]
    assert (tmp_path / "derivation.md").read_bytes() == b"new"


def test_formats_are_parsed_in_a_fixed_order():
    assert parse_formats("pdf, tex") == ("tex", "pdf")
    with pytest.raises(ValueError):
        parse_formats("")


def test_default_names():
    assert default_name(XOR_SPEC) == "xor-2-3-1"
    ng = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), cost="binary_cross_entropy", reduction="mean",
                     bias="unit", convention="column", l2=1.0)
    assert default_name(ng) == "2-3-1-sigmoid-bce-column-bias-unit-mean-l2-1-m4"


@pytest.mark.parametrize("argv", [["derive"], ["derive", "--layer", "batchnorm"]], ids=["network", "layer"])
def test_a_page_written_without_dot_says_so_in_the_summary(tmp_path, capsys, monkeypatch, argv):
    import shutil

    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "dot" else real_which(name, *a, **k))
    assert main(argv + ["--out", str(tmp_path), "--formats", "md,html"]) == 0
    assert "pictures: Graphviz's dot is not on PATH" in capsys.readouterr().out


@pytest.mark.needs_dot
def test_a_page_written_with_dot_has_no_pictures_line(tmp_path, capsys):
    assert main(["derive", "--out", str(tmp_path), "--formats", "md,html"]) == 0
    assert "pictures:" not in capsys.readouterr().out
