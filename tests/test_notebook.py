"""examples/derive.ipynb runs top to bottom on a fresh kernel, and its displays are what Jupyter shows."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "derive.ipynb"
# A fresh kernel starts in a few seconds; the notebook's work (derive, verify, 2000 training
# iterations) takes about ten on this 2-core machine.
CELL_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module")
def executed():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # the repository root first on the path, as for the tests, whatever the installed copy
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()  # raises CellExecutionError on the first cell that fails
    return notebook


def _outputs(notebook, kind):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
            if output.output_type == kind]


def test_notebook_runs_on_a_fresh_kernel_without_an_error(executed):
    assert _outputs(executed, "error") == []


def test_derivation_displays_as_markdown_with_math(executed):
    first = executed.cells[2].outputs[0]
    assert first.output_type == "execute_result"
    markdown = first.data["text/markdown"]
    assert "$$" in markdown and r"\delta^{(2)}" in markdown and "holds" in markdown


def test_rejected_candidate_is_shown_with_its_reason(executed):
    printed = "".join(output.text for output in _outputs(executed, "stream"))
    assert "X delta2 -> shapes 4x2 and 4x3 do not multiply" in printed


def test_hand_written_bug_is_diagnosed(executed):
    printed = "".join(output.text for output in _outputs(executed, "stream"))
    assert "verdict: WRONG" in printed
    assert "f'(a) where f'(z) belongs" in printed


def test_training_curve_is_plotted(executed):
    images = [output for output in _outputs(executed, "display_data") if "image/png" in output.data]
    assert len(images) == 1
