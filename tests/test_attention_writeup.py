"""`backprop derive --layer attention|residual|embedding`: golden, deterministic, compiled, and what it explains."""

import shutil
import subprocess
from pathlib import Path

import pytest

from derive.cli.layer_attention import FAMILY

ROOT = Path(__file__).resolve().parent.parent
TEXT = ("tex", "md", "html")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("attention_golden")
    for folder, layer in FAMILY.goldens:
        assert FAMILY.write_golden(layer, out / folder, TEXT).ok
    return out


@pytest.mark.parametrize("folder", [f for f, _ in FAMILY.goldens])
@pytest.mark.parametrize("suffix", TEXT)
def test_golden_write_up_is_regenerated_byte_for_byte(regenerated, folder, suffix):
    committed = ROOT / "output" / folder / f"derivation.{suffix}"
    assert committed.exists(), f"{committed} is missing: run python tools/refresh_golden.py"
    assert (regenerated / folder / f"derivation.{suffix}").read_bytes() == committed.read_bytes(), \
        "run python tools/refresh_golden.py and commit the diff if the change is deliberate"


@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("folder", [f for f, _ in FAMILY.goldens])
def test_golden_tex_compiles_and_every_equation_fits_the_page(folder, tmp_path):
    shutil.copy(ROOT / "output" / folder / "derivation.tex", tmp_path / "derivation.tex")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "derivation.tex"], cwd=tmp_path,
                   capture_output=True, check=True, timeout=120)
    assert "Overfull" not in (tmp_path / "derivation.log").read_text(encoding="latin-1")


def test_attention_write_up_explains_the_jacobian_and_flash_attentions_identity():
    text = (ROOT / "output" / "attention" / "derivation.md").read_text()
    assert r"\operatorname{diag}(p) - p\,p^\top" in text
    assert "The row-softmax Jacobian, and why it is never built" in text
    assert r"\operatorname{rowsum}(\mathrm{d}P \odot P) &= \operatorname{rowsum}(\mathrm{d}O \odot O)" in text
    assert "never stores $P$" in text


def test_residual_and_embedding_write_ups_say_where_gradients_add():
    assert r"\mathrm{d}X = \mathrm{d}R + (\partial F)^\top \mathrm{d}R" in \
        (ROOT / "output" / "attention-residual" / "derivation.md").read_text()
    assert "np.add.at" in (ROOT / "output" / "embedding" / "derivation.md").read_text()
