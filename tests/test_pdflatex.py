"""Every golden .tex compiles with a real TeX engine (CI installs texlive; see .ci/run)."""

from pathlib import Path

import pytest

from derive.writeup.output_files import compile_pdf, first_error

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_TEX = sorted((ROOT / "output").glob("*/derivation.tex"))

needs_tex = pytest.mark.needs_pdflatex


def test_there_are_golden_documents():
    assert len(GOLDEN_TEX) >= 5


@needs_tex
@pytest.mark.parametrize("tex", GOLDEN_TEX, ids=[path.parent.name for path in GOLDEN_TEX])
def test_golden_tex_compiles_with_pdflatex(tex, tmp_path):
    result = compile_pdf(tex.read_text(encoding="utf-8"), tmp_path, "derivation")
    assert not result.failed, result.message
    assert result.pdf is not None and result.pdf.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["derivation.pdf"]  # no .aux or .log left


@needs_tex
def test_a_tex_error_is_reported_in_one_line(tmp_path):
    result = compile_pdf("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n",
                         tmp_path, "broken")
    assert result.failed and result.pdf is None
    assert "Undefined control sequence" in result.message and "\n" not in result.message
    assert list(tmp_path.iterdir()) == []


def test_a_missing_engine_still_says_what_to_install(tmp_path):
    result = compile_pdf("x", tmp_path, "derivation", engine="no-such-tex-engine")
    assert result.pdf is None and not result.failed
    assert "wrote the .tex only" in result.message and "texlive-latex-base" in result.message


def test_first_error_of_a_missing_log(tmp_path):
    assert first_error(tmp_path / "absent.log") == "no log written"
