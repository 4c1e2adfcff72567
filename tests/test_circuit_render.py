"""Tables and pictures of a circuit: they exist, are valid, and carry the values."""

import subprocess
import xml.etree.ElementTree as ElementTree

import pytest

from derive.circuits.circuit import build_circuit, run_circuit
from derive.circuits.check import check_gradients
from derive.circuits.render import (Cell, circuit_graph, format_number, latex_steps,
                                   markdown_steps, markdown_table, render_graph, step_table)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _run(text="(x + y) * z", point=None, split=False):
    run = run_circuit(build_circuit(text, split_sigmoid=split),
                      point or {"x": -2, "y": 5, "z": -4})
    return run, check_gradients(run)


def _svg_texts(svg: bytes) -> list[str]:
    root = ElementTree.fromstring(svg)
    return [element.text for element in root.iter(f"{SVG_NS}text") if element.text]


@pytest.mark.parametrize("value, text", [
    (-4.0, "-4"), (3.0, "3"), (0.7310585786300049, "0.731059"), (-0.0, "0"), (1e-7, "1e-07"),
    (None, "-"),
])
def test_numbers_print_in_six_significant_digits(value, text):
    assert format_number(value) == text


def test_step_table_shows_forward_values_in_topological_order():
    table = step_table(*_run())
    forward = table.split("Forward pass")[1].split("Backward pass")[0]
    assert forward.index("n2    +      x + y") < forward.index("n4    *      (x + y) * z")
    assert "-12" in forward


def test_step_table_starts_the_backward_pass_from_dl_dl():
    assert "1 (start: dL/dL)" in step_table(*_run())


def test_step_table_says_where_gradients_add():
    table = step_table(*_run("x * y + x", {"x": 3, "y": -4}))
    assert "-3 = (-4) + 1" in table
    assert "the gradients add" in table


def test_step_table_states_the_max_tie_rule():
    table = step_table(*_run("max(x, y)", {"x": 1, "y": 1}))
    assert "a tie splits it equally" in table


def test_step_table_reports_each_check_route():
    table = step_table(*_run())
    assert "SymPy diff" in table and "central difference" in table
    assert "all checks pass" in table


def test_step_table_flags_a_kink():
    table = step_table(*_run("relu(x)", {"x": 0}))
    assert "kink: not differentiable at the point" in table


def test_markdown_has_one_row_per_node_and_per_input():
    run, check = _run()
    text = markdown_steps(run, check)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    headers = 3
    assert len(rows) == headers + len(run.circuit.nodes) + len(run.steps) + len(run.circuit.names)
    assert "| n4 | `*` | `(x + y) * z` | n2, z | -12 |" in text


def test_markdown_escapes_pipes_in_cells():
    assert "| x\\|y |" in markdown_table(("a",), [(Cell("x|y", ""),)])


def test_latex_document_carries_the_gradients():
    text = latex_steps(*_run())
    assert text.startswith(r"\documentclass{article}")
    assert r"$\partial L/\partial L$" in text
    assert "$-4$" in text and "$-12$" in text


@pytest.mark.needs_pdflatex
@pytest.mark.parametrize("text, point, split", [
    ("(x + y) * z", {"x": -2, "y": 5, "z": -4}, False),
    ("sigmoid(w0 * x0 + w1 * x1 + w2)",
     {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}, True),
    ("max(x_1, y) ** 2 / abs(x_1) + relu(y)", {"x_1": 1e-7, "y": 1e-7}, False),
])
def test_latex_document_compiles_with_pdflatex(tmp_path, text, point, split):
    (tmp_path / "steps.tex").write_text(latex_steps(*_run(text, point, split)))
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                             "steps.tex"], cwd=tmp_path, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout.decode(errors="replace")[-2000:]
    assert (tmp_path / "steps.pdf").stat().st_size > 0


@pytest.mark.needs_dot
def test_svg_is_valid_xml_and_carries_values_and_gradients():
    texts = _svg_texts(render_graph(circuit_graph(_run()[0]), "svg"))
    # forward values of cs231n's figure: x -2, y 5, z -4, q 3, f -12; gradients -4, -4, 3, -4, 1
    for figure in ["-2", "5", "-4", "3", "-12", "1"]:
        assert figure in texts
    assert texts.count("-4") >= 4  # z's value, and the gradients on the x, y and q wires
    for label in ["x", "y", "z", "+", "*", "L"]:
        assert label in texts


@pytest.mark.needs_dot
def test_svg_of_split_sigmoid_shows_cs231n_gates_and_figures():
    run, _ = _run("sigmoid(w0 * x0 + w1 * x1 + w2)",
                  {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}, split=True)
    texts = _svg_texts(render_graph(circuit_graph(run), "svg"))
    for figure in ["*-1", "exp", "1/x", "0.7311", "-0.5344", "0.3679", "-0.1966", "0.3932"]:
        assert figure in texts


@pytest.mark.needs_dot
def test_svg_shows_a_shared_input_total_gradient_beside_its_wires():
    run, _ = _run("x * y + x", {"x": 3, "y": -4})
    texts = _svg_texts(render_graph(circuit_graph(run), "svg"))
    assert "-3" in texts            # dL/dx = y + 1, on the node x
    assert "1" in texts and "-4" in texts  # the two wires leaving x carry 1 and y = -4


@pytest.mark.needs_dot
def test_png_has_the_magic_bytes_and_a_size():
    png = render_graph(circuit_graph(_run()[0]), "png")
    assert png.startswith(PNG_MAGIC)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 100 and height > 50


def test_graph_puts_the_value_above_the_gradient_on_each_wire():
    source = circuit_graph(_run()[0]).source
    value = source.index(">-12</font>")
    assert source.index(">1</font>", value) > value  # the output wire: value -12, gradient 1


def test_missing_dot_program_is_an_os_error(monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(("dot",))

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    with pytest.raises(OSError, match="Graphviz program 'dot' is needed"):
        render_graph(circuit_graph(_run()[0]), "svg")
