"""The circuit's steps as a terminal table, Markdown, LaTeX, and a Graphviz picture.

Every renderer here returns text or bytes; only the CLI writes files. The tables are built once
as rows of cells that know their plain, Markdown and LaTeX forms, and each emitter lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import graphviz
import sympy as sp

from derive.circuits.circuit import GATES, BackwardStep, CircuitRun, Node
from derive.circuits.check import CircuitCheck

# Pictures show 4 significant digits (cs231n shows 2); tables show 6, enough to compare by eye
# with a hand computation and short enough to read. The checks hold the full figures.
PICTURE_DIGITS = 4
TABLE_DIGITS = 6
FORWARD_COLOR = "#1a7f37"   # cs231n draws values in green above the wire ...
GRADIENT_COLOR = "#cf222e"  # ... and gradients in red below it
FONT = "DejaVu Sans"        # has the glyphs the labels use, in SVG and PNG alike


@dataclass(frozen=True)
class Cell:
    """One table cell: plain text, and its LaTeX; `code` cells get backticks in Markdown."""

    text: str
    tex: str
    code: bool = False


def format_number(value: float | None, digits: int = TABLE_DIGITS) -> str:
    """A float in `digits` significant digits; integers print without a decimal point.

    >>> format_number(-4.0), format_number(0.7310585786300049), format_number(-0.0)
    ('-4', '0.731059', '0')
    """
    if value is None:
        return "-"
    text = f"{value:.{digits}g}"
    return "0" if text == "-0" else text


def _number(value: float | None) -> Cell:
    text = format_number(value)
    if value is None:
        return Cell(text, "--")
    return Cell(text, f"${sp.latex(sp.Float(text)) if 'e' in text else text}$")


def node_name(node: Node) -> str:
    """How a node is named in the tables: an input by its name, a gate as n<index>."""
    return node.text if node.gate in ("input", "const") else f"n{node.index}"


def _node_tex(node: Node) -> str:
    if node.gate == "input":
        return sp.latex(sp.Symbol(node.text))
    if node.gate == "const":
        return sp.latex(node.expression)
    return f"n_{{{node.index}}}"


def _pairs(run: CircuitRun, node: Node, figures: Sequence[float | None]) -> Cell:
    """'x: -4, z: 3', one entry per input of `node`; a constant input shows '(constant)'."""
    names = [run.circuit.nodes[i] for i in node.inputs]
    text = ", ".join(f"{node_name(n)}: {format_number(f) if f is not None else '(constant)'}"
                     for n, f in zip(names, figures))
    tex = ", ".join(f"${_node_tex(n)}$: " + (f"${format_number(f)}$" if f is not None else "const.")
                    for n, f in zip(names, figures))
    return Cell(text, tex)


def forward_rows(run: CircuitRun) -> list[tuple[Cell, ...]]:
    """node, gate, computes, inputs, value: one row per node in topological order."""
    rows = []
    for node in run.circuit.nodes:
        inputs = ", ".join(node_name(run.circuit.nodes[i]) for i in node.inputs)
        gate = {"input": "input", "const": "constant"}.get(node.gate, node.label)
        rows.append((Cell(node_name(node), f"${_node_tex(node)}$"),
                     Cell(gate, _tex_text(gate), True),
                     Cell(node.text, f"${sp.latex(node.expression)}$", True),
                     Cell(inputs or "-", _tex_text(inputs or "-")),
                     _number(run.values[node.index])))
    return rows


def backward_rows(run: CircuitRun) -> list[tuple[Cell, ...]]:
    """node, gate, upstream, local gradients, downstream: output first."""
    return [_backward_row(run, step) for step in run.steps]


def _backward_row(run: CircuitRun, step: BackwardStep) -> tuple[Cell, ...]:
    node = run.circuit.nodes[step.node]
    upstream = _upstream(run, step)
    if node.is_gate:
        rule = GATES[node.gate].local_text
        local = _pairs(run, node, step.local)
        local = Cell(f"{local.text}   [{rule}]", f"{local.tex} \\quad [{_tex_text(rule)}]")
        downstream = _pairs(run, node, step.downstream)
    else:
        local = downstream = Cell("-", "--")
    gate = "input" if node.gate == "input" else node.label
    return (Cell(node_name(node), f"${_node_tex(node)}$"), Cell(gate, _tex_text(gate), True),
            upstream, local, downstream)


def _upstream(run: CircuitRun, step: BackwardStep) -> Cell:
    figure = format_number(step.upstream)
    if not step.contributions:
        return Cell(f"{figure} (start: dL/dL)", f"${figure}$ (start: $\\partial L/\\partial L$)")
    if len(step.contributions) == 1:
        return Cell(figure, f"${figure}$")
    parts = [format_number(g) for _, g in step.contributions]
    users = ", ".join(f"n{consumer}" for consumer, _ in step.contributions)
    plain = " + ".join(f"({p})" if p.startswith("-") else p for p in parts)
    note = f"feeds {len(parts)} gate inputs ({users}): the gradients add"
    return Cell(f"{figure} = {plain}; {note}", f"${figure} = {plain}$; {_tex_text(note)}")


def check_rows(check: CircuitCheck) -> list[tuple[Cell, ...]]:
    """input, backprop, SymPy diff, central difference, verdict: one row per input."""
    return [(Cell(g.name, f"${sp.latex(sp.Symbol(g.name))}$"), _number(g.backprop),
             _number(g.sympy_diff), _number(g.finite_difference),
             Cell(f"{g.status}: {g.note}", _tex_text(f"{g.status}: {g.note}")))
            for g in check.gradients]


FORWARD_HEADERS = ("node", "gate", "computes", "inputs", "value")
BACKWARD_HEADERS = ("node", "gate", "upstream dL/dnode", "local gradient per input [rule]",
                    "downstream gradient per input")
CHECK_HEADERS = ("input", "backprop", "SymPy diff", "central difference", "verdict")


def _sections(run: CircuitRun, check: CircuitCheck) -> list[tuple[str, tuple[str, ...], list]]:
    return [
        ("Forward pass, in topological order", FORWARD_HEADERS, forward_rows(run)),
        ("Backward pass from dL/dL = 1, output first; a value used by several gates sums "
         "their gradients", BACKWARD_HEADERS, backward_rows(run)),
        ("Gradients at the inputs, checked two other ways", CHECK_HEADERS, check_rows(check)),
    ]


def _title(run: CircuitRun) -> str:
    point = ", ".join(f"{name} = {format_number(value)}" for name, value in run.point)
    return f"L = {run.circuit.source}  at  {point}"


def _verdict(check: CircuitCheck) -> str:
    forward = ("the forward value agrees with SymPy" if check.output_agrees else
               f"the forward value {format_number(check.output)} DISAGREES with SymPy's "
               f"{format_number(check.output_sympy)}")
    return f"{forward}; gradients: " + ("all checks pass" if check.passed else "CHECK FAILED")


def step_table(run: CircuitRun, check: CircuitCheck) -> str:
    """The forward pass, the backward pass and the checks as aligned plain-text tables."""
    parts = [_title(run), ""]
    for title, headers, rows in _sections(run, check):
        parts += [title, text_table(headers, [[cell.text for cell in row] for row in rows]), ""]
    parts.append(_verdict(check))
    return "\n".join(parts) + "\n"


def markdown_steps(run: CircuitRun, check: CircuitCheck) -> str:
    """The same tables as a Markdown document."""
    parts = [f"# Backprop through `{run.circuit.source}`", "",
             "At " + ", ".join(f"`{name} = {format_number(v)}`" for name, v in run.point) + ".",
             ""]
    for title, headers, rows in _sections(run, check):
        parts += [f"## {title}", "", markdown_table(headers, rows), ""]
    parts.append(_verdict(check) + ".")
    return "\n".join(parts) + "\n"


def latex_steps(run: CircuitRun, check: CircuitCheck) -> str:
    """The same tables as a standalone LaTeX document (pdflatex, booktabs)."""
    point = ", ".join(f"{sp.latex(sp.Symbol(name))} = {format_number(v)}" for name, v in run.point)
    parts = [r"\documentclass{article}", r"\usepackage[margin=1.5cm,landscape]{geometry}",
             r"\usepackage{booktabs}", r"\usepackage{amsmath}", r"\begin{document}",
             f"\\section*{{Backprop through ${sp.latex(run.circuit.output.expression)}$}}",
             f"At ${point}$.", ""]
    for title, headers, rows in _sections(run, check):
        parts += [f"\\subsection*{{{_tex_text(title)}}}", latex_table(headers, rows), ""]
    parts += [_tex_text(_verdict(check)) + ".", r"\end{document}"]
    return "\n".join(parts) + "\n"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a rule under the header."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A GitHub-flavoured Markdown table; pipes in cells are escaped."""
    def cell(c: Cell) -> str:
        text = c.text.replace("|", "\\|")
        return f"`{text}`" if c.code else text
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def latex_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """A booktabs tabular; the last column wraps."""
    spec = "l" * (len(headers) - 1) + "p{7cm}"
    lines = [r"{\small", f"\\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(_tex_text(h) for h in headers) + r" \\", r"\midrule"]
    lines += [" & ".join(c.tex for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}}"]
    return "\n".join(lines)


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def _tex_text(text: str) -> str:
    return "".join(_TEX_SPECIAL.get(char, char) for char in text)


def circuit_graph(run: CircuitRun) -> graphviz.Digraph:
    """The circuit as a Graphviz graph: each wire carries its forward value above (green) and
    the gradient flowing back along it below (red), as in cs231n's figures."""
    circuit = run.circuit
    graph = graphviz.Digraph("circuit", graph_attr={
        "rankdir": "LR", "fontname": FONT, "labelloc": "t",
        "label": f"{_title(run)}\ngreen above a wire: its forward value; red below: dL/d(wire)",
        "nodesep": "0.4", "ranksep": "0.7"},
        node_attr={"fontname": FONT}, edge_attr={"fontname": FONT, "fontsize": "11"})
    for node in circuit.nodes:
        if node.gate == "input":
            # the input's total gradient: the sum over its wires when it feeds several gates
            total = format_number(run.gradients[node.index], PICTURE_DIGITS)
            graph.node(f"n{node.index}", f'<{node.text}<br/><font color="{GRADIENT_COLOR}" '
                       f'point-size="11">{total}</font>>', shape="plaintext", fontsize="16")
        elif node.gate == "const":
            graph.node(f"n{node.index}", node.text, shape="plaintext", fontcolor="gray40")
        else:
            graph.node(f"n{node.index}", node.label, shape="circle", style="filled",
                       fillcolor="#f0f0f0", tooltip=node.text)
    downstream = {(step.node, position): gradient for step in run.steps
                  for position, gradient in enumerate(step.downstream)}
    for node in circuit.nodes:
        for position, source in enumerate(node.inputs):
            gradient = downstream.get((node.index, position))
            graph.edge(f"n{source}", f"n{node.index}",
                       label=_wire_label(run.values[source], gradient))
    graph.node("L", "L", shape="plaintext", fontsize="16")
    graph.edge(f"n{circuit.output.index}", "L", label=_wire_label(run.output_value, 1.0))
    return graph


def _wire_label(value: float, gradient: float | None) -> str:
    # Graphviz HTML-like labels: two lines, value above and gradient below the wire.
    lines = [f'<font color="{FORWARD_COLOR}">{format_number(value, PICTURE_DIGITS)}</font>']
    if gradient is not None:  # a constant's wire carries no gradient
        lines.append(f'<font color="{GRADIENT_COLOR}">'
                     f'{format_number(gradient, PICTURE_DIGITS)}</font>')
    return "<" + "<br/>".join(lines) + ">"


def render_graph(graph: graphviz.Digraph, fmt: str) -> bytes:
    """The graph drawn by the `dot` program, as SVG or PNG bytes.

    Raises:
        OSError: the `dot` program is missing or fails.
    """
    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise OSError("the Graphviz program 'dot' is needed for svg and png pictures; install "
                      "graphviz, or leave svg and png out of --formats") from None
    except graphviz.CalledProcessError as error:
        raise OSError(f"Graphviz 'dot' failed: {error}") from None
