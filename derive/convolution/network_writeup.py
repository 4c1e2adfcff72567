"""The write-up of the small conv network: the backward pass as a chain of derived pieces, and its numbers."""

from __future__ import annotations

import sympy as sp

from derive.convolution.matrix_form import find_matrix_forms
from derive.convolution.network import ConvNet, relu_derivative, softmax_cross_entropy_delta
from derive.writeup.document import Document, Equation, Items, Section, Table, Text


def _shape(shape) -> str:
    return " \\times ".join(map(str, shape))


def network_section(net: ConvNet) -> Section:
    return Section("The network", (
        Text(f"{net.conv.batch} images of ${_shape(net.conv.input_shape[1:])}$; a convolution with {net.conv.filters} "
             f"filters of ${_shape(net.conv.kernel)}$ (stride 1, padding {net.conv.padding}), relu, max pooling "
             f"$2 \\times 2$ with stride 2, a dense layer to {net.classes} classes, softmax with cross-entropy, "
             "averaged over the images:"),
        Equation((r"Z_1 &= W_1 * X + b_1, \quad A_1 = \max(Z_1, 0), \quad P = \operatorname{maxpool}(A_1)",
                  r"z &= W_2 \operatorname{vec}(P) + b_2, \quad J = -\frac{1}{N} \sum_{n} \sum_k y_{nk} \log "
                  r"\operatorname{softmax}(z_n)_k")),
        Text(f"The dense layer is the convolution whose kernel covers its whole input: $W_2$ is "
             f"${_shape(net.dense.weight_shape)}$ and its output is ${net.classes} \\times 1 \\times 1$ per image. So "
             "its backward pass is the convolution's, found once."),
    ))


def chain_section(net: ConvNet) -> Section:
    _, softmax = softmax_cross_entropy_delta(net.classes)
    _, relu = relu_derivative()
    dA, dW, db = find_matrix_forms(True)
    (pool,) = find_matrix_forms(False)
    return Section("The backward pass, piece by derived piece", (
        Text("Each step is a derivative found by SymPy from its definition (the softmax and relu lines) or a "
             "matrix form found from the index-form forward pass (the convolution and pooling lines):"),
        Items((f"softmax with cross-entropy: $\\partial J / \\partial z_0 = \\frac{{1}}{{N}} {sp.latex(softmax[0])}$, "
               "which is $(p_0 - y_0)/N$ since the labels sum to 1",
               f"dense head: $\\partial J / \\partial P = {dA.latex()}$, the dense layer's $W_2^\\top \\delta$; "
               f"$\\partial J / \\partial W_2 = {dW.latex()}$, $\\partial J / \\partial b_2 = {db.latex()}$",
               f"max pooling: $\\partial J / \\partial A_1 = {pool.latex()}$, each entry routed to its "
               "window's largest",
               f"relu: $\\partial A_1 / \\partial Z_1 = {sp.latex(relu)}$ (SymPy's diff of $\\max(0, x)$)",
               f"convolution: $\\partial J / \\partial W_1 = {dW.latex()}$ with $G = \\partial J / \\partial Z_1$, "
               f"$\\partial J / \\partial b_1 = {db.latex()}$")),
    ))


def numbers_section(verdict, titles, pairs, bounds) -> Section:
    header = ("parameter",) + tuple(f"{titles[a]} vs {titles[b]}" for a, b in pairs)
    rows = tuple((name,) + tuple(f"$< 10^{{{bound}}}$" if e < 10.0 ** bound else f"{e:.1e}"
                                 for e, bound in zip(errors, bounds)) for name, errors in verdict.errors.items())
    return Section("Numbers: three routes", (
        Text("Worst difference relative to the gradient's largest entry, at a seeded point (parameters 0.5 randn, "
             "images randn, random labels), between three routes: the derived chain; the loops of the hand-written "
             "reference, chained by hand; and five-point finite differences of $J$:"),
        Table(header, rows, "l" + "c" * len(pairs)),
        Text("Verdict: " + ("the three routes agree." if verdict.agree else "the routes DISAGREE.")),
    ))


def build_network_document(net: ConvNet, verdict, titles, pairs, bounds) -> Document:
    return Document("convnet: conv, relu, max pooling, dense, softmax",
                    "The convolution and pooling layers inside a network: the backward pass chained from derived "
                    "pieces and checked against hand-written loops and finite differences.",
                    (network_section(net), chain_section(net), numbers_section(verdict, titles, pairs, bounds)))
