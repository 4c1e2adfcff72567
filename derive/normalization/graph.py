"""The staged computational graph of batch norm or layer norm, drawn the way cs231n draws batch norm.

One node per stage of the forward pass; each edge carries its backward message, so the picture is
also the hand-written backward (checks/handwritten/normalization.py walks it in reverse). The three paths
from x to J are the three ways out of the x node: straight to x - mu, into mu, and (through
x - mu, its square and sigma^2) into s.
"""

from __future__ import annotations

import graphviz

# (node, label, shape) in forward order, then (from, to, backward message on the edge)
STAGES = (
    ("x", "x  (N x D)", "ellipse"),
    ("mu", "mu = mean(x)", "box"),
    ("c", "c = x - mu", "box"),
    ("sq", "c^2", "box"),
    ("var", "sigma^2 = mean(c^2)", "box"),
    ("s", "s = sqrt(sigma^2 + eps)", "box"),
    ("inv", "1 / s", "box"),
    ("xhat", "x_hat = c * (1/s)", "box"),
    ("gamma", "gamma  (D)", "ellipse"),
    ("beta", "beta  (D)", "ellipse"),
    ("scale", "gamma * x_hat", "box"),
    ("y", "y = gamma x_hat + beta", "box"),
    ("J", "J", "doublecircle"),
)
EDGES = (
    ("x", "mu", "dmu/M, spread"),
    ("x", "c", "dc  (direct path)"),
    ("mu", "c", "-sum dc"),
    ("c", "sq", "2 c dsq"),
    ("c", "xhat", "dxhat / s"),
    ("sq", "var", "dvar / M'"),
    ("var", "s", "ds / (2 s)"),
    ("s", "inv", "-dinv / s^2"),
    ("inv", "xhat", "sum dxhat c"),
    ("xhat", "scale", "gamma G"),
    ("gamma", "scale", "sum G x_hat"),
    ("scale", "y", "G"),
    ("beta", "y", "sum G"),
    ("y", "J", "G = dJ/dy"),
)


def staged_graph(kind: str) -> graphviz.Digraph:
    """The graph as Graphviz source; the statistics' axis is named in the title."""
    axis = "over the batch, per feature (axis 0)" if kind == "batch" else "over the features, per example (axis 1)"
    name = "batch norm" if kind == "batch" else "layer norm"
    graph = graphviz.Digraph(name.replace(" ", "_"), graph_attr={
        "rankdir": "LR", "label": f"{name}: statistics {axis}; edges carry the backward message",
        "labelloc": "t", "fontsize": "12", "fontname": "Helvetica"},
        node_attr={"fontname": "Helvetica", "fontsize": "11"}, edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    for node, label, shape in STAGES:
        graph.node(node, label, shape=shape)
    for start, end, message in EDGES:
        graph.edge(start, end, label=message)
    return graph


def staged_picture(kind: str):
    """The graph as a derive.writeup.pictures.Picture (SVG inline), or a note when dot is missing."""
    import shutil

    from derive.circuits.render import render_graph
    from derive.writeup.pictures import NO_DOT, Picture, inline_svg

    caption = ("The staged computational graph; the three paths from x to J leave x straight to c = x - mu, "
               "into mu, and through c, c^2 and sigma^2 into s.")
    if shutil.which("dot") is None:
        return Picture(caption, None, NO_DOT)
    return Picture(caption, inline_svg(render_graph(staged_graph(kind), "svg")))
