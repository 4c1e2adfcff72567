"""`backprop verify-formula` with NumPy idioms, --latex and --file: exit codes, lines, positions."""

import shutil
from pathlib import Path

import pytest

from checks.diagnose.formula_document import check_document, displayed_lines, read_document
from derive.cli import main
from tools.refresh_golden import GOLDEN

ROOT = Path(__file__).resolve().parent.parent
XOR_MD = ROOT / "output" / "xor-2-3-1" / "derivation.md"
RIGHT_DELTA = r"\delta^{(3)} W^{(2)\top}\right) \odot"
PLANTED_DELTA = r"\delta^{(3)} W^{(2)}\right) \odot"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert err.startswith("backprop verify-formula: error: ") and err.count("\n") == 1, err
    return err


def test_the_missing_transpose_whose_shapes_do_not_multiply_exits_1_naming_the_fix(capsys):
    code, out, err = run(capsys, "verify-formula", "delta3 @ W2 * sigmoid_prime(z2)", "--for", "delta2")
    assert code == 1 and err == ""
    assert "W2 (3x1) needs its transpose here" in out
    assert out.rstrip().endswith("verdict: WRONG for delta2")


def test_numpy_idioms_exit_0(capsys):
    code, out, _ = run(capsys, "verify-formula", "np.multiply(np.dot(delta3, W2.transpose()), sigmoid_prime(z2))",
                       "--for", "delta2")
    assert code == 0 and "verdict: CORRECT" in out


def test_the_latex_of_the_issue_exits_0(capsys):
    code, out, _ = run(capsys, "verify-formula", "--latex",
                       r"\delta^{(2)} = \left(\delta^{(3)} W^{(2)\top}\right) \odot \sigma'(z^{(2)})")
    assert code == 0
    assert "read as: (delta3 @ W2.T) * sigmoid_prime(z2)" in out


def test_latex_it_cannot_read_exits_2_with_the_position_in_one_line(capsys):
    code, out, err = run(capsys, "verify-formula", "--latex", r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \oslash a^{(2)}")
    assert code == 2 and out == ""
    assert "the symbol \\oslash at character 41" in one_line_error(err)


def test_one_of_formula_latex_and_file_is_needed(capsys):
    code, _, err = run(capsys, "verify-formula", "X.T @ delta2", "--latex", "X^T", "--for", "W1")
    assert code == 2 and "give one of FORMULA, --latex LATEX and --file DOCUMENT" in one_line_error(err)


@pytest.mark.parametrize("name, spec", GOLDEN)
@pytest.mark.parametrize("suffix", [".md", ".tex"])
def test_our_own_write_ups_pass(name, spec, suffix):
    path = ROOT / "output" / name / f"derivation{suffix}"
    report = check_document(read_document(path), suffix, spec, str(path))
    assert report.passed, report.text()
    assert sum(r.status == "correct" for r in report.results) >= 3


def test_the_xor_write_up_passes_on_the_command_line(capsys):
    code, out, _ = run(capsys, "verify-formula", "--file", str(XOR_MD))
    assert code == 0
    assert "line 144: delta2 CORRECT" in out  # read off the file: the line holding \delta^{(2)} &= ...
    assert XOR_MD.read_text().splitlines()[143].startswith(r"\delta^{(2)} &=")


def test_a_planted_error_is_named_at_its_line(tmp_path, capsys):
    planted = tmp_path / "notes.md"
    lines = XOR_MD.read_text().splitlines(keepends=True)
    assert RIGHT_DELTA in lines[143]
    lines[143] = lines[143].replace(RIGHT_DELTA, PLANTED_DELTA)
    planted.write_text("".join(lines))
    code, out, _ = run(capsys, "verify-formula", "--file", str(planted))
    assert code == 1
    wrong = [line for line in out.splitlines() if "WRONG:" in line]
    assert wrong == [line for line in wrong if line.startswith("line 144: delta2 WRONG")] and len(wrong) == 1
    assert "W2 (3x1) needs its transpose here" in wrong[0]


def test_a_planted_error_in_the_tex_write_up_is_named_at_its_line(tmp_path, capsys):
    source = XOR_MD.with_suffix(".tex")
    text = source.read_text()
    number = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(r"\delta^{(2)} &="))
    planted = tmp_path / "notes.tex"
    planted.write_text(text.replace(r"\odot \sigma'(z^{(2)})", r"\odot \sigma'(a^{(2)})", 1))
    code, out, _ = run(capsys, "verify-formula", "--file", str(planted))
    assert code == 1
    assert f"line {number}: delta2 WRONG" in out
    assert "f'(a) where f'(z) belongs" in out


def test_an_unreadable_definition_in_a_document_is_reported_not_skipped(tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("# notes\n\n$$\n\\delta^{(2)} = \\delta^{(3)} W^{(2)\\top} \\oslash \\sigma'(z^{(2)})\n$$\n")
    code, out, _ = run(capsys, "verify-formula", "--file", str(notes))
    assert code == 1
    assert "line 4: UNREAD: the symbol \\oslash at character 41" in out


def test_display_lines_carry_their_file_line_numbers():
    text = "a\n\n```math\n\\begin{aligned}\nx &= 1 \\\\\ny &= 2\n\\end{aligned}\n```\n"
    assert [(d.line, d.text) for d in displayed_lines(text, ".md")] == [(5, "x &= 1"), (6, "y &= 2")]


@pytest.mark.parametrize("content, suffix, message", [
    ("x", ".txt", "reads Markdown (.md) or LaTeX (.tex)"),
    ("# nothing displayed\n", ".md", "no displayed formula defines a delta or a gradient"),
])
def test_bad_documents_exit_2_with_one_line(tmp_path, capsys, content, suffix, message):
    path = tmp_path / f"notes{suffix}"
    path.write_text(content)
    code, out, err = run(capsys, "verify-formula", "--file", str(path))
    assert code == 2 and out == ""
    assert message in one_line_error(err)


def test_a_rule_for_layer_l_in_a_write_up_is_checked_at_every_layer_and_a_planted_error_named(tmp_path):
    name, spec = next((n, s) for n, s in GOLDEN if n.startswith("deep"))
    source = ROOT / "output" / name / "derivation.md"
    text = source.read_text()
    rule = r"\frac{\partial J}{\partial W^{(l)}} &= a^{(l)\top} \delta^{(l+1)}"
    number = text.splitlines().index(rule) + 1
    right = check_document(text, ".md", spec)
    assert f"line {number}: l = 1, 2, 3, 4 CORRECT" in right.text()
    wrong = check_document(text.replace(rule, r"\frac{\partial J}{\partial W^{(l)}} &= a^{(l)} \delta^{(l+1)}"), ".md", spec)
    assert f"line {number}: l = 1: W1 WRONG" in wrong.text()
    assert not wrong.passed
