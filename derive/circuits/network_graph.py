"""A network's matrix operations as a graph: quantities with shapes, deltas on backward edges.

Seed 000's names: X = a(1) is the input, W(l) carries layer l into layer l + 1,
z(l+1) = a(l) W(l) in row form (examples in rows) or W(l) a(l) in column form (examples in
columns), a(l+1) = f(z(l+1)), and the output a(L) is y-hat. The backward edges carry
delta(L) = dJ/dy-hat * f'(z(L)) and delta(l) = (delta(l+1) W(l)^T) * f'(z(l)) in row form,
(W(l)^T delta(l+1)) * f'(z(l)) in column form, and the weight gradients a(l)^T delta(l+1) (row)
or delta(l+1) a(l)^T (column). Every label exists twice: Unicode for pictures and Markdown, LaTeX
for documents.
"""

from __future__ import annotations

from dataclasses import dataclass

import graphviz

from derive.circuits.render import (FONT, GRADIENT_COLOR, Cell, latex_table, markdown_table,
                                   render_graph, text_table)
from derive.network.spec import NetworkSpec
from derive.network.costs import cost as cost_entry


@dataclass(frozen=True)
class Text:
    """A label in two notations; `+` joins labels."""

    plain: str
    tex: str

    def __add__(self, other: "Text | str") -> "Text":
        other = other if isinstance(other, Text) else Text(other, other)
        return Text(self.plain + other.plain, self.tex + other.tex)


def _t(text: str) -> Text:
    return Text(text, text)


def _prose(text: str) -> Text:
    return Text(text, rf"\ \text{{{text.strip()}}}")


def _indexed(letter: str, layer: int) -> Text:
    # braced, so that a transpose can follow: {W^{(2)}}^{\top}
    return Text(f"{letter}({layer})", f"{{{letter}^{{({layer})}}}}")


Y_HAT = Text("ŷ", r"\hat{y}")
T = Text("ᵀ", r"^{\top}")
ODOT = Text(" ⊙ ", r" \odot ")


def _delta(layer: int) -> Text:
    return Text(f"δ({layer})", rf"{{\delta^{{({layer})}}}}")


def _partial(of: Text) -> Text:
    return Text("∂J/∂", r"\partial J / \partial ") + of


def _f_prime(layer: int) -> Text:
    return Text("f′(", "f'(") + _indexed("z", layer) + ")"


def _cost_gradient(name: str) -> Text:
    """dJ/dy-hat for one example (derive/network/costs.py's gradient_text; K outputs)."""
    return Text(*cost_entry(name).gradient_text)


def _cost_total(name: str) -> Text:
    return Text(*cost_entry(name).total_text)


@dataclass(frozen=True)
class Quantity:
    """A node: one matrix of the forward pass.

    Args:
        key: a stable identifier ("X", "W1", "b1", "z2", "a2", "yhat", "y", "J", "a1_ones").
        label: its name, e.g. W(1).
        shape: (rows, columns).
        formula: how it is computed, e.g. z(2) = X W(1); empty for data and parameters.
        role: "data", "parameter", "computed" or "cost".
    """

    key: str
    label: Text
    shape: tuple[int, int]
    formula: Text
    role: str


@dataclass(frozen=True)
class Flow:
    """An edge. Forward edges feed an operation; backward edges carry a gradient.

    Args:
        source: the key of the forward edge's source.
        target: the key of the forward edge's target (a backward edge runs target -> source).
        direction: "forward" or "backward".
        label: the operation, or the gradient arriving at `source`.
        shape: the shape of that gradient (backward edges only).
    """

    source: str
    target: str
    direction: str
    label: Text
    shape: tuple[int, int] | None = None


@dataclass(frozen=True)
class NetworkGraph:
    """The whole picture of one network: its quantities and both passes' edges."""

    spec: NetworkSpec
    quantities: tuple[Quantity, ...]
    flows: tuple[Flow, ...]

    def quantity(self, key: str) -> Quantity:
        return next(q for q in self.quantities if q.key == key)


def network_graph(spec: NetworkSpec) -> NetworkGraph:
    """The graph of a network's matrix operations, for any sizes, biases and convention.

    Args:
        spec: the network.

    Returns:
        Quantities with shapes, forward edges, and backward edges with the deltas.

    >>> from derive.network.spec import XOR_SPEC
    >>> [q.label.plain for q in network_graph(XOR_SPEC).quantities if q.role != "data"]
    ['W(1)', 'z(2)', 'a(2)', 'W(2)', 'z(3)', 'ŷ', 'J']
    """
    return _Builder(spec).build()


class _Builder:
    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        self.row = spec.convention == "row"
        self.quantities: list[Quantity] = []
        self.flows: list[Flow] = []

    def shape(self, units: int) -> tuple[int, int]:
        # Row form stacks the m examples as rows; column form as columns.
        return (self.spec.m, units) if self.row else (units, self.spec.m)

    def add(self, key: str, label: Text, shape: tuple[int, int], formula: Text | None,
            role: str) -> None:
        self.quantities.append(Quantity(key, label, shape, formula or _t(""), role))

    def forward(self, source: str, target: str, label: str) -> None:
        self.flows.append(Flow(source, target, "forward", _t(label)))

    def backward(self, source: str, target: str, label: Text, shape: tuple[int, int]) -> None:
        self.flows.append(Flow(source, target, "backward", label, shape))

    def activation_label(self, layer: int) -> Text:
        return Y_HAT if layer == self.spec.layer_count else _indexed("a", layer)

    def build(self) -> NetworkGraph:
        spec, sizes = self.spec, self.spec.sizes
        last = spec.layer_count
        self.add("a1", _t("X"), self.shape(sizes[0]), None, "data")
        for layer in range(1, last):
            self.add_layer(layer)
        self.add_cost()
        self.add_backward()
        return NetworkGraph(spec, tuple(self.quantities), tuple(self.flows))

    def layer_input(self, layer: int) -> tuple[str, Text]:
        """The key and label of what multiplies W(layer): a(layer), or [1, a(layer)]."""
        label = _t("X") if layer == 1 else self.activation_label(layer)
        if self.spec.bias != "unit":
            return f"a{layer}", label
        return f"a{layer}_ones", Text("[1, ", "[1, ") + label + "]"

    def add_layer(self, layer: int) -> None:
        spec, sizes, row = self.spec, self.spec.sizes, self.row
        fan_in, fan_out = sizes[layer - 1], sizes[layer]
        key, a_label = self.layer_input(layer)
        if spec.bias == "unit":
            # Ng's bias unit: a column of ones before a(l) in row form, a row of ones on top of it
            # in column form; W(l) gains the matching first row (row form) or column.
            fan_in += 1
            inner = _t("X") if layer == 1 else self.activation_label(layer)
            ones = Text(f" = a {'column' if row else 'row'} of ones, then ",
                        r" = \begin{bmatrix} \mathbf{1} & " if row else
                        r" = \begin{bmatrix} \mathbf{1}^{\top} \\ ")
            formula = a_label + ones + inner + Text("", r" \end{bmatrix}")
            self.add(key, a_label, self.shape(fan_in), formula, "computed")
            self.forward(f"a{layer}", key, "prepend ones")
        weight = _indexed("W", layer)
        self.add(f"W{layer}", weight, (fan_in, fan_out) if row else (fan_out, fan_in), None,
                 "parameter")
        z = _indexed("z", layer + 1)
        product = a_label + " " + weight if row else weight + " " + a_label
        if spec.bias == "vector":
            bias = _indexed("b", layer)
            self.add(f"b{layer}", bias, (1, fan_out) if row else (fan_out, 1), None, "parameter")
            product = product + " + " + bias
        self.add(f"z{layer + 1}", z, self.shape(fan_out), z + " = " + product, "computed")
        self.forward(key, f"z{layer + 1}", "matmul")
        self.forward(f"W{layer}", f"z{layer + 1}", "matmul")
        if spec.bias == "vector":
            self.forward(f"b{layer}", f"z{layer + 1}", "+ (broadcast)")
        name = spec.activation(layer + 1)
        out = self.activation_label(layer + 1)
        formula = out + " = f(" + z + ")" + (_prose(f", f = {name}") if name != "f" else "")
        self.add(f"a{layer + 1}", out, self.shape(fan_out), formula, "computed")
        self.forward(f"z{layer + 1}", f"a{layer + 1}", name)

    def add_cost(self) -> None:
        spec = self.spec
        last = spec.layer_count
        self.add("y", _t("y"), self.shape(spec.sizes[-1]), None, "data")
        cost = _scaled(spec, _cost_total(spec.cost))
        if spec.l2:
            cost = cost + Text(" + (λ/2" + ("m" if spec.reduction == "mean" else "") + ") Σ W²",
                               r" + \tfrac{\lambda}{2" + ("m" if spec.reduction == "mean" else "")
                               + r"} \sum W^2")
        self.add("J", _t("J"), (1, 1), Text("J = ", "J = ") + cost, "cost")
        self.forward(f"a{last}", "J", spec.cost)
        self.forward("y", "J", spec.cost)

    def add_backward(self) -> None:
        spec = self.spec
        last = spec.layer_count
        output_shape = self.shape(spec.sizes[-1])
        cost_gradient = _scaled(spec, _cost_gradient(spec.cost))
        self.backward(f"a{last}", "J", _partial(Y_HAT) + " = " + cost_gradient, output_shape)
        if cost_entry(spec.cost).canonical_output == spec.output_activation:
            delta = _scaled(spec, Text("(ŷ − y)", r"(\hat{y} - y)"))
        else:
            # seed 000 writes delta(3) = -(y - y-hat) f'(z(3)): the cost's gradient, spelled out
            wrapped = (Text("(", "(") + cost_gradient + ")" if " + " in cost_gradient.plain
                       else cost_gradient)
            delta = wrapped + ODOT + _f_prime(last)
        self.backward(f"z{last}", f"a{last}", _delta(last) + " = " + delta, output_shape)
        for layer in range(last - 1, 0, -1):
            self.add_layer_backward(layer)

    def add_layer_backward(self, layer: int) -> None:
        spec, row = self.spec, self.row
        z_key, weight, d = f"z{layer + 1}", _indexed("W", layer), _delta(layer + 1)
        key, a_label = self.layer_input(layer)
        gradient = a_label + T + " " + d if row else d + " " + a_label + T
        if spec.l2:
            factor = "λ/m" if spec.reduction == "mean" else "λ"
            tex_factor = r"\tfrac{\lambda}{m}" if spec.reduction == "mean" else r"\lambda"
            gradient = gradient + Text(f" + {factor} ", f" + {tex_factor} ") + weight
            if spec.bias == "unit":
                gradient = gradient + _prose(
                    f" (bias {'row' if row else 'column'} not regularized)")
        self.backward(f"W{layer}", z_key, _partial(weight) + " = " + gradient,
                      self.quantity_shape(f"W{layer}"))
        if spec.bias == "vector":
            bias = _indexed("b", layer)
            summed = (Text("1ᵀ ", r"\mathbf{1}^{\top} ") + d if row else
                      d + Text(" 1", r" \mathbf{1}"))
            self.backward(f"b{layer}", z_key,
                          _partial(bias) + " = " + summed + _prose(" (sum over examples)"),
                          self.quantity_shape(f"b{layer}"))
        if layer == 1:
            return  # X is data: nothing needs its gradient
        # the sum over the next layer's units is a product with W(layer) transposed
        back = d + " " + weight + T if row else weight + T + " " + d
        if spec.bias == "unit":
            self.backward(key, z_key, back, self.quantity_shape(key))
            back = Text("(", "(") + back + (")[:, 1:]" if row else ")[1:, :]")
            self.backward(f"a{layer}", key,
                          back + _prose(f" drops the bias {'column' if row else 'row'}"),
                          self.quantity_shape(f"a{layer}"))
        else:
            self.backward(f"a{layer}", z_key, back, self.quantity_shape(f"a{layer}"))
        if spec.bias != "unit":
            back = Text("(", "(") + back + ")"
        self.backward(f"z{layer}", f"a{layer}",
                      _delta(layer) + " = " + back + ODOT + _f_prime(layer),
                      self.quantity_shape(f"z{layer}"))

    def quantity_shape(self, key: str) -> tuple[int, int]:
        return next(q.shape for q in self.quantities if q.key == key)


def _scaled(spec: NetworkSpec, term: Text) -> Text:
    """`term` divided by m when the cost is a mean over the examples."""
    if spec.reduction != "mean":
        return term
    if term.plain.startswith("−"):
        term = Text("(", "(") + term + ")"
    return Text("(1/m) ", r"\tfrac{1}{m} ") + term


def _shape_text(shape: tuple[int, int]) -> str:
    return f"{shape[0]}×{shape[1]}"


def network_dot(graph: NetworkGraph) -> graphviz.Digraph:
    """The network as a Graphviz graph: forward edges solid, backward edges dashed and red."""
    spec = graph.spec
    title = (f"{spec.slug} network, {spec.convention} form, m = {spec.m}: forward edges solid, "
             f"gradients dashed")
    dot = graphviz.Digraph("network", graph_attr={
        "rankdir": "LR", "fontname": FONT, "labelloc": "t", "label": title, "ranksep": "0.9"},
        node_attr={"fontname": FONT}, edge_attr={"fontname": FONT, "fontsize": "10"})
    shapes = {"data": "box", "parameter": "box", "computed": "ellipse", "cost": "box"}
    fills = {"data": "#e8f0fe", "parameter": "#fff4d6", "computed": "#f0f0f0", "cost": "#fde2e1"}
    for q in graph.quantities:
        # the formula starts with the quantity's name, so it replaces the bare name
        lines = [q.formula.plain or q.label.plain, _shape_text(q.shape)]
        dot.node(q.key, "\n".join(lines), shape=shapes[q.role],
                 style="filled,rounded" if q.role == "cost" else "filled", fillcolor=fills[q.role])
    for flow in graph.flows:
        if flow.direction == "forward":
            dot.edge(flow.source, flow.target, label=flow.label.plain)
        else:
            # drawn along the forward edge with the arrow reversed, so the layout stays left
            # to right while the gradient visibly runs back
            dot.edge(flow.source, flow.target, dir="back", style="dashed", color=GRADIENT_COLOR,
                     fontcolor=GRADIENT_COLOR, constraint="false",
                     label=f"{flow.label.plain}\n[{_shape_text(flow.shape)}]")
    return dot


def quantity_rows(graph: NetworkGraph) -> list[tuple[Cell, ...]]:
    """name, shape, formula: one row per quantity of the forward pass."""
    return [(Cell(q.label.plain, f"${q.label.tex}$"), Cell(_shape_text(q.shape),
             f"${q.shape[0]} \\times {q.shape[1]}$"),
             Cell(q.formula.plain or "-", f"${q.formula.tex}$" if q.formula.tex else "--"))
            for q in graph.quantities]


def gradient_rows(graph: NetworkGraph) -> list[tuple[Cell, ...]]:
    """gradient, shape, from -> to: one row per backward edge, from J back to the weights."""
    labels = {q.key: q.label for q in graph.quantities}
    return [(Cell(f.label.plain, f"${f.label.tex}$"),
             Cell(_shape_text(f.shape), f"${f.shape[0]} \\times {f.shape[1]}$"),
             Cell(f"{labels[f.target].plain} -> {labels[f.source].plain}",
                  f"${labels[f.target].tex} \\to {labels[f.source].tex}$"))
            for f in graph.flows if f.direction == "backward"]


QUANTITY_HEADERS = ("quantity", "shape", "computed as")
GRADIENT_HEADERS = ("gradient on the backward edge", "shape", "edge")


def network_picture(graph: NetworkGraph, fmt: str) -> bytes:
    """The network picture as SVG or PNG bytes."""
    return render_graph(network_dot(graph), fmt)


def _network_title(graph: NetworkGraph) -> str:
    spec = graph.spec
    return (f"{spec.slug} network ({', '.join(spec.activations)}; {spec.cost}, "
            f"{spec.reduction}; bias {spec.bias}; {spec.convention} form; m = {spec.m})")


def network_text(graph: NetworkGraph) -> str:
    """The quantities and the backward edges as plain-text tables."""
    return "\n".join([
        _network_title(graph), "",
        "Forward pass", text_table(QUANTITY_HEADERS, [[c.text for c in row]
                                                      for row in quantity_rows(graph)]), "",
        "Backward pass: the gradient each backward edge carries",
        text_table(GRADIENT_HEADERS, [[c.text for c in row] for row in gradient_rows(graph)]),
    ]) + "\n"


def network_markdown(graph: NetworkGraph) -> str:
    """The same tables as a Markdown document."""
    return "\n".join([
        f"# {_network_title(graph)}", "", "## Forward pass", "",
        markdown_table(QUANTITY_HEADERS, quantity_rows(graph)), "",
        "## Backward pass: the gradient each backward edge carries", "",
        markdown_table(GRADIENT_HEADERS, gradient_rows(graph)),
    ]) + "\n"


def network_latex(graph: NetworkGraph) -> str:
    """The same tables as a standalone LaTeX document (pdflatex, booktabs, amsmath)."""
    title = _network_title(graph).replace("_", r"\_")
    return "\n".join([
        r"\documentclass{article}", r"\usepackage[margin=1.5cm,landscape]{geometry}",
        r"\usepackage{booktabs}", r"\usepackage{amsmath}", r"\usepackage{amssymb}",
        r"\begin{document}", f"\\section*{{{title}}}", r"\subsection*{Forward pass}",
        latex_table(QUANTITY_HEADERS, quantity_rows(graph)), "",
        r"\subsection*{Backward pass: the gradient each backward edge carries}",
        latex_table(GRADIENT_HEADERS, gradient_rows(graph)), r"\end{document}",
    ]) + "\n"
