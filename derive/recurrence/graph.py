"""The unrolled computational graph of an RNN or LSTM over T steps, drawn by dot.

One column per step: x_t and h_{t-1} into the step's cell, h_t out to y_t and L_t and on to the next
step. The shared weights are one node with an edge into every step: the picture of why their
gradient is a sum over the steps. Each edge carries its backward message.
"""

from __future__ import annotations

import graphviz


def unrolled_edges(kind: str, steps: int) -> tuple[tuple[str, str, str], ...]:
    """(from, to, backward message) in forward order."""
    edges = []
    recurrent = "W_hh" if kind == "rnn" else "W_h*"
    for t in range(1, steps + 1):
        cell = f"cell{t}"
        edges += [(f"x{t}", cell, "dx_t = W_xh^T delta_t" if kind == "rnn" else "dx_t = sum_u W_xu^T da_u,t"),
                  (f"h{t - 1}", cell, f"{recurrent}^T delta_{t}" if kind == "rnn" else "sum_u W_hu^T da_u,t"),
                  ("W", cell, f"delta_{t} h_{t - 1}^T"),
                  (cell, f"h{t}", "delta_t = dh_t * f'(z_t)" if kind == "rnn" else "gates"),
                  (f"h{t}", f"y{t}", f"W_hy^T dy_{t}"), (f"y{t}", f"L{t}", f"dy_{t}")]
        if kind == "lstm":
            edges.append((f"c{t - 1}", cell, f"dc_{t} * f_{t}"))
            edges.append((cell, f"c{t}", f"dc_{t}"))
    return tuple(edges)


def unrolled_graph(kind: str, steps: int) -> graphviz.Digraph:
    name = "Elman RNN" if kind == "rnn" else "LSTM"
    shared = "W_xh, W_hh, b (shared by every step)" if kind == "rnn" else "W_x*, W_h*, b_* (shared by every step)"
    graph = graphviz.Digraph(kind, graph_attr={
        "rankdir": "LR", "label": f"{name} unrolled over T = {steps} steps; edges carry the backward message",
        "labelloc": "t", "fontsize": "12", "fontname": "Helvetica"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"}, edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    graph.node("W", shared, shape="box", style="rounded")
    graph.node("h0", "h_0", shape="ellipse")
    if kind == "lstm":
        graph.node("c0", "c_0", shape="ellipse")
    for t in range(1, steps + 1):
        graph.node(f"x{t}", f"x_{t}", shape="ellipse")
        graph.node(f"cell{t}", f"step {t}", shape="box")
        graph.node(f"h{t}", f"h_{t}", shape="ellipse")
        if kind == "lstm":
            graph.node(f"c{t}", f"c_{t}", shape="ellipse")
        graph.node(f"y{t}", f"y_{t}", shape="ellipse")
        graph.node(f"L{t}", f"L_{t}", shape="doublecircle")
    for start, end, message in unrolled_edges(kind, steps):
        graph.edge(start, end, label=message)
    return graph


def unrolled_picture(kind: str, steps: int):
    """The graph as a derive.writeup.pictures.Picture (SVG inline), or a note when dot is missing."""
    import shutil

    from derive.circuits.render import render_graph
    from derive.writeup.pictures import NO_DOT, Picture, inline_svg

    caption = (f"The layer unrolled over T = {steps} steps: h_t feeds both y_t and step t + 1, so its gradient "
               "has two parts; the shared weights feed every step, so their gradient is a sum over the steps.")
    if shutil.which("dot") is None:
        return Picture(caption, None, NO_DOT)
    return Picture(caption, inline_svg(render_graph(unrolled_graph(kind, steps), "svg")))
