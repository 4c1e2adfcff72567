"""`backprop derive --layer rnn|lstm`: the golden write-ups, compiled, and what they explain."""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from derive.recurrence.derivation import derive_recurrence
from derive.recurrence.proofs import ProofResult
from derive.recurrence.writeup import build_document
from derive.writeup.latex import document_latex

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("rnn", "lstm")
TEXT = ("derivation.tex", "derivation.md", "gradient-norms.svg")
SIZES = {"entrywise": "T = 2", "randomized": "T = 6"}


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    from derive.cli.layer_recurrence import FAMILY

    out = tmp_path_factory.mktemp("golden_recurrence")
    formats = ("tex", "md") + (("html",) if shutil.which("dot") else ())
    for folder, name in FAMILY.goldens:
        FAMILY.write_golden(name, out / folder, formats)
    return out


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("name", TEXT)
def test_golden_file_is_regenerated_byte_for_byte(regenerated, folder, name):
    assert (regenerated / folder / name).read_bytes() == (ROOT / "output" / folder / name).read_bytes(), \
        "run python tools/refresh_golden.py and commit the diff if the change is deliberate"


@pytest.mark.needs_dot
@pytest.mark.parametrize("folder", FOLDERS)
def test_golden_page_is_regenerated_byte_for_byte(regenerated, folder):
    name = "derivation.html"
    assert (regenerated / folder / name).read_bytes() == (ROOT / "output" / folder / name).read_bytes()


@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("folder", FOLDERS)
def test_the_write_up_compiles_and_every_equation_fits_the_page(folder, tmp_path):
    shutil.copy(ROOT / "output" / folder / "derivation.tex", tmp_path / "derivation.tex")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "derivation.tex"], cwd=tmp_path,
                   capture_output=True, check=True, timeout=120)
    assert "Overfull" not in (tmp_path / "derivation.log").read_text(encoding="latin-1")


@pytest.mark.needs_dot
def test_the_page_draws_the_unrolled_graph_and_the_norm_plot():
    page = (ROOT / "output" / "rnn" / "derivation.html").read_text()
    assert "unrolled over T = 3 steps" in page and "against t (log scale)" in page


def _tex(kind, proofs=None):
    proofs = proofs or (ProofResult("entrywise", True, ("W_hh",)),)
    return document_latex(build_document(derive_recurrence(kind), proofs, SIZES))


def test_the_rnn_write_up_shows_the_recursion_through_time():
    assert (r"\delta_t = \mathrm{d}z_{t} = \left(W_{hh}^{\top} \mathrm{d}z_{t+1} + W_{hy}^{\top} \mathrm{d}y_{t}"
            r"\right) \odot \tanh^{\prime}(z_{t})") in _tex("rnn")


def test_the_write_up_explains_the_sum_over_time_the_transpose_and_the_cell_path():
    tex = _tex("rnn")
    assert "The sum over time is the sum over examples" in tex
    assert "a shared weight gets a gradient from every place it is used" in tex
    assert "for the same reason as in a dense network" in tex and r"W^{(2)\top}" in tex
    assert "additive cell path" in tex


def test_the_lstm_write_up_shows_the_cell_gradient():
    assert (r"\mathrm{d}c_{t} = \mathrm{d}c_{t+1} \odot f_{t+1} + \mathrm{d}h_{t} \odot o_{t} \odot "
            r"\tanh^{\prime}(c_{t})") in _tex("lstm")


def test_a_failed_proof_is_shown_as_failing():
    tex = _tex("rnn", (ProofResult("index level", False, (), "dh: planted"),))
    assert "FAILS: dh: planted" in tex
