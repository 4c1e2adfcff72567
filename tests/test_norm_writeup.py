"""`backprop derive --layer`: the normalisation write-ups, golden, compiled, and what they explain."""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

from derive.normalization import derive_normalization
from derive.normalization.proofs import ProofResult
from derive.normalization.writeup import build_document, entry_latex, number_latex
from derive.writeup.latex import document_latex
from derive.writeup.markdown import document_markdown

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("refresh_golden", ROOT / "tools" / "refresh_golden.py")
REFRESH = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(REFRESH)
PROVED = tuple(ProofResult(m, True, ("dX", "dgamma", "dbeta")) for m in ("entrywise", "randomized GF(p)", "index level"))


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden_layers")
    # the pages inline dot's drawing: without dot they are not regenerated (their tests skip)
    REFRESH.refresh_layers(out, tuple(f for f in REFRESH.TEXT_FORMATS if f != "html" or shutil.which("dot")))
    return out


SUFFIXES = [pytest.param(suffix, marks=pytest.mark.needs_dot) if suffix == "html" else suffix
            for suffix in REFRESH.TEXT_FORMATS]


@pytest.mark.parametrize("name", REFRESH.GOLDEN_LAYERS)
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_layer_golden_file_is_regenerated_byte_for_byte(regenerated, name, suffix):
    committed = ROOT / "output" / name / f"derivation.{suffix}"
    assert committed.exists(), f"{committed} is missing: run python tools/refresh_golden.py"
    assert (regenerated / name / f"derivation.{suffix}").read_bytes() == committed.read_bytes(), \
        "run python tools/refresh_golden.py and commit the diff if the change is deliberate"


@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("name", REFRESH.GOLDEN_LAYERS)
def test_every_equation_of_the_layer_write_up_fits_the_page(name, tmp_path):
    # dX must be one readable line: pdflatex reports any display wider than the text as Overfull
    shutil.copy(ROOT / "output" / name / "derivation.tex", tmp_path / "derivation.tex")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "derivation.tex"], cwd=tmp_path,
                   capture_output=True, check=True, timeout=120)
    log = (tmp_path / "derivation.log").read_text(encoding="latin-1")
    assert "Overfull" not in log


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_found_dx_is_one_line_in_the_gradients_section(kind):
    gradients = derive_normalization(kind)
    tex = document_latex(build_document(gradients, PROVED))
    assert "\\[\n" + gradients.dX.equation_latex() + "\n\\]" in tex


def test_the_vanishing_path_shows_the_factor_that_is_zero_by_the_definition_of_the_mean():
    markdown = document_markdown(build_document(derive_normalization("batch"), PROVED))
    assert r"N \mu_{q} - \sum_{k=0}^{N - 1} x_{kq}" in markdown
    assert "&= 0" in markdown
    assert r"\sum_k (x_k - \mu) = N\mu - N\mu = 0" in markdown


def test_layer_norm_write_up_sums_over_the_features_of_an_example():
    markdown = document_markdown(build_document(derive_normalization("layer"), PROVED))
    assert r"D \mu_{p} - \sum_{l=0}^{D - 1} x_{pl}" in markdown
    assert "for each example $n$, over its $D$ features" in markdown


def test_collapse_has_one_term_per_surviving_path():
    gradients = derive_normalization("batch")
    surviving = [path.name for path in gradients.dX.paths if not path.vanishes]
    assert surviving == ["direct", "through mu", "through sigma^2"]


def test_a_failed_proof_is_shown_as_failing_in_the_proofs_table():
    failed = PROVED[:2] + (ProofResult("index level", False, (), "dX[p, q]: leaves 1"),)
    markdown = document_markdown(build_document(derive_normalization("batch"), failed))
    assert "| FAILS: dX[p, q]: leaves 1 |" in markdown


@pytest.mark.parametrize("value, text", [(1e-5, "10^{-5}"), (0.05, r"5 \times 10^{-2}"), (0.5, "0.5")])
def test_numbers_print_as_powers_of_ten(value, text):
    assert number_latex(value) == text


def test_entries_print_with_plain_bases_and_paired_indices():
    gradients = derive_normalization("batch")
    assert entry_latex(gradients.dX.paths[0].in_statistics) == r"\frac{G_{pq} \gamma_{q}}{s_{q}}"
