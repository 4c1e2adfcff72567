"""The convolution and pooling write-ups: golden, compiled, and showing what the issue asks."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from derive.cli.layer_convolution import FAMILY
from derive.convolution.writeup import HIGHLIGHTED_INPUT, MATRIX_KERNEL, MATRIX_PADDING, MATRIX_SIZE, convolution_matrix

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = [folder for folder, _ in FAMILY.goldens]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("convolution_goldens")
    for folder, name in FAMILY.goldens:  # the page draws its own SVG: no dot needed
        assert FAMILY.write_golden(name, out / folder, ("tex", "md", "html")).ok
    return out


@pytest.mark.parametrize("folder", FOLDERS)
@pytest.mark.parametrize("suffix", ["tex", "md", "html"])
def test_golden_file_is_regenerated_byte_for_byte(regenerated, folder, suffix):
    committed = ROOT / "output" / folder / f"derivation.{suffix}"
    assert committed.exists(), f"{committed} is missing: run python tools/refresh_golden.py"
    assert (regenerated / folder / f"derivation.{suffix}").read_bytes() == committed.read_bytes(), \
        "run python tools/refresh_golden.py and commit the diff if the change is deliberate"


@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("folder", FOLDERS)
def test_the_golden_write_up_compiles_without_an_overfull_line(folder, tmp_path):
    shutil.copy(ROOT / "output" / folder / "derivation.tex", tmp_path / "derivation.tex")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "derivation.tex"], cwd=tmp_path,
                   capture_output=True, check=True, timeout=120)
    assert "Overfull" not in (tmp_path / "derivation.log").read_text(encoding="latin-1")


def test_the_highlighted_row_of_the_convolution_matrix_is_the_rotated_kernel():
    # route 1: M built from the forward pass's index rule; route 2: the kernel rotated by 180 degrees,
    # laid over the outputs that input pixel reaches
    matrix = convolution_matrix()
    a = HIGHLIGHTED_INPUT[0] * MATRIX_SIZE + HIGHLIGHTED_INPUT[1]
    row = [matrix[o][a] for o in range(len(matrix)) if matrix[o][a] is not None]
    kernel = np.empty((MATRIX_KERNEL, MATRIX_KERNEL), dtype=object)
    for u, v in np.ndindex(*kernel.shape):
        kernel[u, v] = (u, v)
    rotated = kernel[::-1, ::-1]
    side = MATRIX_SIZE + 2 * MATRIX_PADDING - MATRIX_KERNEL + 1
    # output o meets rotated entry u' = (K - 1 - p - a) + o
    top, left = (MATRIX_KERNEL - 1 - MATRIX_PADDING - a for a in HIGHLIGHTED_INPUT)
    reached = rotated[top:top + side, left:left + side]
    assert row == list(reached.reshape(-1))


def test_each_column_of_the_convolution_matrix_transposed_is_the_kernel_in_its_own_order():
    matrix = convolution_matrix()
    for output in matrix:
        entries = [e for e in output if e is not None]
        assert entries == sorted(entries) and len(entries) == MATRIX_KERNEL ** 2


def test_the_conv2d_write_up_shows_both_explanations_and_the_matrix():
    text = (ROOT / "output" / "conv2d" / "derivation.md").read_text()
    assert r"\operatorname{col2im}\big(W_{\mathrm{col}}^\top\, G_{\mathrm{col}}\big)" in text
    assert "K_h - 1 - u'" in text and "full" in text and "The convolution matrix" in text
    assert r"G_{n,f,\frac{i + p - u}{s},\frac{j + p - v}{s}} W_{f,c,u,v}" in text


def test_the_max_pool_write_up_states_the_tie_rule():
    text = (ROOT / "output" / "maxpool" / "derivation.md").read_text()
    assert "1/t$ on each" in text and "split equally" in text
