"""The write-up of one convolution or pooling layer: forward pass, the chain rule collapsed, the two
explanations of the flipped kernel side by side, the convolution matrix, the proofs and the numbers.

Built as derive.writeup.document's document model, rendered by the project's LaTeX, Markdown and HTML renderers.
"""

from __future__ import annotations

import re

import sympy as sp

from derive.convolution.derivation import IndexGradient, LayerGradients
from derive.convolution.index_calculus import Term
from derive.convolution.layer import ConvolutionLayer
from derive.convolution.matrix_form import MatrixGradient
from derive.convolution.mistakes import CATALOGUE
from derive.writeup.document import Document, Equation, Items, Section, Table, Text

_SIZE_LATEX = {"H_in": "H", "W_in": "W", "L_in": "L", "H_out": "H'", "W_out": "W'", "L_out": "L'"}
_VARIABLE_LATEX = {"X": "X", "W": "W", "b": "b"}


def _display_names(expression: sp.Expr, indices) -> dict:
    """Fresh summation symbols (f_12) shown primed (f'), sizes as H, H'."""
    names = {}
    for index in indices:
        names[index.symbol] = sp.Symbol(index.role + "'") if index.symbol.name != index.role else index.symbol
    for symbol in expression.free_symbols:
        if symbol.name in _SIZE_LATEX:
            names[symbol] = sp.Symbol(_SIZE_LATEX[symbol.name])
    return names


def _indexed_latex(expression: sp.Expr) -> str:
    """G[n, f, i, j] as G_{n,f,i,j}; X[...] with - p inside as X^pad (the zero padding)."""
    text = sp.latex(expression)
    return re.sub(r"\{([A-Za-z]+)\}_\{", r"\1_{", text)


def term_latex(term: Term, with_sums: bool = True) -> str:
    names = _display_names(term.coefficient, term.indices)
    for condition in term.conditions:
        names.update(_display_names(condition.numerator, ()))
    coefficient = term.coefficient.xreplace(names)
    body = _indexed_latex(coefficient)
    brackets = ""
    for condition in term.conditions:
        top = sp.latex(condition.numerator.xreplace(names))
        upper = sp.latex((condition.upper + 1).xreplace(names))
        if condition.stride == 1:
            brackets += rf"\,\big[0 \le {top} < {upper}\big]"
        else:
            stride = sp.latex(condition.stride)
            brackets += rf"\,\big[\tfrac{{{top}}}{{{stride}}} \in \{{0, \dots, {upper} - 1\}}\big]"
    sums = ""
    if with_sums and term.indices:
        letters = ",".join(sp.latex(names.get(i.symbol, i.symbol)) for i in term.indices)
        sums = rf"\sum_{{{letters}}} "
    return sums + body + brackets


def entry_latex(gradient: IndexGradient) -> str:
    letters = ",".join(sp.latex(s) for s in gradient.entry_symbols)
    return rf"\frac{{\partial J}}{{\partial {_VARIABLE_LATEX[gradient.variable]}_{{{letters}}}}}"


def forward_section(gradients: LayerGradients, layer: ConvolutionLayer) -> Section:
    symbolic = gradients.layer
    axes = "H \\times W" if layer.spatial == 2 else "L"
    kernel = "K_h \\times K_w" if layer.spatial == 2 else "K"
    words = f"Input $N \\times C \\times {axes}$ in NCHW layout (cs231n, PyTorch). "
    if symbolic.is_convolution:
        words += f"$F$ filters of $C \\times {kernel}$, stride $s$, zero padding $p$, one bias per filter. "
    else:
        words += "A window of $K_h \\times K_w$ per channel, stride $s$, no padding. "
    words += ("Here: " + describe(layer) + ". $G = \\partial J / \\partial Y$ is what flows in from above, "
              "and $J = \\sum G \\odot Y$.")
    blocks = [Text(words), Equation(symbolic.forward_latex())]
    if symbolic.is_convolution:
        blocks.append(Text("$X^{\\mathrm{pad}}_{n,c,h,w} = X_{n,c,h-p,w-p}$ inside the input and 0 in the border: "
                           "in index form the forward pass reads $X$ at row $i s + u - p$, and an entry outside "
                           "the input is 0."))
    else:
        blocks.append(Text("$S$ is the selector of each window: 1 at its largest entry, 0 elsewhere; at a tie of "
                           "$t$ largest entries, $1/t$ on each (the circuit's `max` rule: the gradient is split "
                           "equally, which is also the central difference at a tie of two). $S$ is constant "
                           "while the largest entry stays the largest, so the derivative treats it as a constant."
                           if symbolic.kind == "maxpool" else "Every entry of a window weighs $1 / (K_h K_w)$."))
    return Section("The forward pass", tuple(blocks))


def describe(layer: ConvolutionLayer) -> str:
    times = " \\times "
    size, kernel, out = (times.join(map(str, shape)) for shape in (layer.input_shape, layer.kernel, layer.output_shape))
    if layer.is_convolution:
        return (f"input ${size}$, {layer.filters} filters of ${kernel}$, stride {layer.stride}, padding "
                f"{layer.padding}, output ${out}$")
    return f"input ${size}$, window ${kernel}$, stride {layer.stride}, output ${out}$"


def chain_rule_section(gradients: LayerGradients) -> Section:
    blocks = [Text("For one entry $V_e$ of the input or a parameter, the chain rule over the entries of $Y$ is "
                   "$\\partial J / \\partial V_e = \\sum_o G_o\\, \\partial Y_o / \\partial V_e$. SymPy writes each "
                   "local partial with Kronecker deltas $\\delta$. A delta on a summed index is summed out by "
                   "substitution; the delta on a row, $\\delta_{i,\\, i' s + u' - p}$, is solved for the output row "
                   "$i'$, and the term exists only where the solution is whole and in range (the bracket).")]
    for gradient in gradients.gradients:
        chain = " + ".join(term_latex(t) for t in gradient.chain_rule)
        collapsed = " + ".join(term_latex(t) for t in gradient.collapsed)
        blocks.append(Text(f"**{gradient.name}**:"))
        blocks.append(Equation((rf"{entry_latex(gradient)} &= {chain}", rf"&= {collapsed}")))
    return Section("The chain rule, entry by entry", tuple(blocks))


def rotation_section(gradients: LayerGradients, layer: ConvolutionLayer) -> Section:
    border = layer.kernel[0] - 1 - layer.padding
    blocks = [
        Text("**Why rotated.** In the forward pass input row $a$ meets kernel row $u$ at output row $i$ where "
             "$a = i s + u - p$. The backward pass asks the opposite question: which output rows did input row "
             "$a$ reach? Solving for $i$ gives $i = (a + p - u)/s$, and $u$ now has a minus sign: as $u$ runs "
             "up the kernel, the row of $G$ it meets runs down. Renaming $u = K_h - 1 - u'$ turns the sum into a "
             "correlation with the kernel rotated by 180 degrees:"),
        Equation((r"\frac{\partial J}{\partial X_{n,c,i,j}} &= \sum_{f} \sum_{u',v'} "
                  r"\hat{G}_{n,f,\,i + u' - (K_h - 1 - p),\, j + v' - (K_w - 1 - p)}\, W_{f,c,K_h - 1 - u', K_w - 1 - v'}",)
                 if gradients.layer.spatial == 2 else
                 (r"\frac{\partial J}{\partial X_{n,c,i}} &= \sum_{f} \sum_{u'} \hat{G}_{n,f,\,i + u' - (K - 1 - p)}"
                  r"\, W_{f,c,K - 1 - u'}",)),
        Text("where $\\hat{G}$ is $G$ with $s - 1$ zeros put between neighbours (the stride, undone: "
             "$\\hat{G}_{n,f,h,w} = G_{n,f,h/s,w/s}$ where $s$ divides both, 0 elsewhere) and 0 outside: a "
             f"**full** correlation, whose border $K - 1 - p$ (here {border}) lets every kernel entry reach every "
             "input row. With $p = 0$ that border is $K - 1$: the \"valid\" border of the forward pass is the "
             "wrong one for the backward."),
    ]
    return Section("Explanation 1: index form, the flipped kernel", tuple(blocks))


def matrix_section(forms: tuple[MatrixGradient, ...], convolution: bool) -> Section:
    if convolution:
        dA, dW, db = forms
        blocks = [
            Text("im2col puts every window of $X^{\\mathrm{pad}}$ into a column, "
                 "$A_{(c,u,v),(n,i,j)} = X^{\\mathrm{pad}}_{n,c,is+u,js+v}$, and the convolution becomes the dense "
                 "layer: $Y_{\\mathrm{col}} = W_{\\mathrm{col}} A + b \\mathbf{1}^\\top$, with "
                 "$W_{\\mathrm{col}}$ the $F \\times C K_h K_w$ matrix of the filters. The same index calculus on "
                 "this flat form gives"),
            Equation((rf"\frac{{\partial J}}{{\partial A_{{k,q}}}} &= {term_latex(dA.flat)} = "
                      rf"\big({dA.form.latex()}\big)_{{k,q}}",
                      rf"\frac{{\partial J}}{{\partial W_{{\mathrm{{col}},f,k}}}} &= {term_latex(dW.flat)} = "
                      rf"\big({dW.form.latex()}\big)_{{f,k}}",
                      rf"\frac{{\partial J}}{{\partial b_f}} &= {term_latex(db.flat)} = "
                      rf"\big({db.form.latex()}\big)_f")),
            Text("The summed index $f$ is the first index of $W_{\\mathrm{col}}$: the product is "
                 "$W_{\\mathrm{col}}^\\top G_{\\mathrm{col}}$, the $W^\\top$ of the hidden delta, for the same reason "
                 "(each input feeds every output through its column of $W$). col2im is im2col's transpose: it adds "
                 "each column back into the window it came from. So"),
            Equation((rf"\frac{{\partial J}}{{\partial X}} &= {dA.latex()}",)),
            Text("The generated NumPy route runs these forms as found (derive/convolution/numeric.py, with "
                 "`G_col = G.transpose(1, 0, 2, 3).reshape(F, -1)` and `W_col = W.reshape(F, -1)`):"),
            Items(tuple(f"`{form.numpy_text()}`" for form in forms)),
            Text("Stride shows up as the columns that skip input rows (the zeros of $\\hat{G}$ above), padding as the "
                 "border col2im cuts off (the full border above)."),
        ]
    else:
        (dA,) = forms
        blocks = [
            Text("Per channel, pooling weighs each window: $Y_{c,q} = \\sum_k P_{c,k,q} A_{c,k,q}$ with "
                 "$A = \\operatorname{im2col}(X)$ and $P = S$ (max) or $1/(K_h K_w)$ (average). The same index "
                 "calculus on this flat form gives"),
            Equation((rf"\frac{{\partial J}}{{\partial A_{{c,k,q}}}} &= {term_latex(dA.flat)}",
                      rf"\frac{{\partial J}}{{\partial X}} &= {dA.latex()}")),
            Text("Max pooling routes each entry of $G$ to its window's largest entry (split equally at a tie); "
                 "average pooling spreads $G / (K_h K_w)$ over the window."),
        ]
    return Section("Explanation 2: matrix form, the same transpose as the dense layer", tuple(blocks))


# ------------------------------------------------------------------ the convolution matrix

MATRIX_SIZE, MATRIX_KERNEL, MATRIX_PADDING = 4, 3, 0
HIGHLIGHTED_INPUT = (1, 1)  # an input pixel every output reaches: its row of M^T holds the kernel backwards
HIGHLIGHTED_OUTPUT = 0  # output y00: its column of M^T holds the kernel in its own order


def convolution_matrix(size: int = MATRIX_SIZE, kernel: int = MATRIX_KERNEL, padding: int = MATRIX_PADDING):
    """M with vec(Y) = M vec(X) for one channel, stride 1: M[o, a] = (u, v) where input a meets kernel entry
    (u, v) at output o, else None. Built from the forward's index rule a = o + u - p."""
    out = size + 2 * padding - kernel + 1
    matrix = [[None] * (size * size) for _ in range(out * out)]
    for oi in range(out):
        for oj in range(out):
            for u in range(kernel):
                for v in range(kernel):
                    a, b = oi + u - padding, oj + v - padding
                    if 0 <= a < size and 0 <= b < size:
                        matrix[oi * out + oj][a * size + b] = (u, v)
    return matrix


def matrix_table() -> Table:
    """M^T (inputs x outputs), the row of one input pixel in bold: its weights run backwards."""
    matrix = convolution_matrix()
    highlighted = HIGHLIGHTED_INPUT[0] * MATRIX_SIZE + HIGHLIGHTED_INPUT[1]
    outputs = len(matrix)
    side = MATRIX_SIZE + 2 * MATRIX_PADDING - MATRIX_KERNEL + 1
    header = ("",) + tuple(f"$y_{{{o // side}{o % side}}}$" for o in range(outputs))
    rows = []
    for a in range(MATRIX_SIZE * MATRIX_SIZE):
        label = f"$x_{{{a // MATRIX_SIZE}{a % MATRIX_SIZE}}}$"
        cells = []
        for o in range(outputs):
            entry = matrix[o][a]
            if entry is None:
                cells.append("$\\cdot$")
                continue
            weight = f"w_{{{entry[0]}{entry[1]}}}"
            if o == HIGHLIGHTED_OUTPUT:
                weight = f"\\underline{{{weight}}}"
            cells.append(f"$\\mathbf{{{weight}}}$" if a == highlighted else f"${weight}$")
        rows.append((label,) + tuple(cells))
    return Table(header, tuple(rows), "l" + "c" * outputs)


def matrix_svg() -> str:
    """The same M^T as a picture: one square per entry, the highlighted row's entries labelled."""
    matrix = convolution_matrix()
    cell, margin = 22, 40
    inputs, outputs = MATRIX_SIZE * MATRIX_SIZE, len(matrix)
    highlighted = HIGHLIGHTED_INPUT[0] * MATRIX_SIZE + HIGHLIGHTED_INPUT[1]
    side = MATRIX_SIZE + 2 * MATRIX_PADDING - MATRIX_KERNEL + 1
    width, height = margin + outputs * cell + 10, margin + inputs * cell + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="9">']
    for o in range(outputs):
        parts.append(f'<text x="{margin + o * cell + cell // 2}" y="{margin - 6}" text-anchor="middle">'
                     f'y{o // side}{o % side}</text>')
    for a in range(inputs):
        y = margin + a * cell
        parts.append(f'<text x="{margin - 4}" y="{y + cell // 2 + 3}" text-anchor="end">'
                     f'x{a // MATRIX_SIZE}{a % MATRIX_SIZE}</text>')
        for o in range(outputs):
            entry = matrix[o][a]
            x = margin + o * cell
            fill = "#ffffff" if entry is None else ("#f0a030" if a == highlighted else "#9ec5e8")
            outline = ' stroke="#b00000" stroke-width="2"' if o == HIGHLIGHTED_OUTPUT and entry is not None \
                else ' stroke="#888"'
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}"{outline}/>')
            if entry is not None:
                parts.append(f'<text x="{x + cell // 2}" y="{y + cell // 2 + 3}" text-anchor="middle">'
                             f'{entry[0]}{entry[1]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def convolution_matrix_section() -> Section:
    a = HIGHLIGHTED_INPUT
    matrix = convolution_matrix()
    highlighted = a[0] * MATRIX_SIZE + a[1]
    order = [matrix[o][highlighted] for o in range(len(matrix)) if matrix[o][highlighted] is not None]
    sequence = ", ".join(f"$w_{{{u}{v}}}$" for u, v in order)
    column = [entry for entry in matrix[HIGHLIGHTED_OUTPUT] if entry is not None]
    in_order = ", ".join(f"$w_{{{u}{v}}}$" for u, v in column)
    return Section("The convolution matrix", (
        Text(f"A {MATRIX_SIZE} x {MATRIX_SIZE} input, a {MATRIX_KERNEL} x {MATRIX_KERNEL} kernel, stride 1, padding "
             f"{MATRIX_PADDING}: $\\operatorname{{vec}}(Y) = M \\operatorname{{vec}}(X)$ and $\\operatorname{{vec}}"
             "(\\partial J / \\partial X) = M^\\top \\operatorname{vec}(G)$. Below is $M^\\top$ (row: an input "
             "pixel; column: an output; $\\cdot$ is 0), built from the forward pass's index rule. The underlined "
             f"column, output $y_{{00}}$, read down the inputs, is {in_order}: each column of $M^\\top$ is the "
             "kernel laid over one window, in its own order. The row of input "
             f"$x_{{{a[0]}{a[1]}}}$ (bold), read left to right over the outputs, is "
             f"{sequence}: the kernel backwards, which is the rotated kernel of explanation 1. "
             f"$\\partial J / \\partial x_{{{a[0]}{a[1]}}}$ is that row times $G$."),
        matrix_table()))


def proofs_section(proofs) -> Section:
    return Section("Proofs", (
        Text("Three proofs, each able to fail (the tests plant a kernel left unflipped, a stride ignored, a "
             "transpose misread, a missing selector, and each is caught):"),
        Items(tuple(f"**{p.method}**: " + ("holds for " + ", ".join(p.checked) if p.holds else "FAILS: " + p.first_failure)
                    for p in proofs)),
        Items(("entrywise: the derived index form and the matrix form equal SymPy's `diff` of $J$ at a tiny layer, "
               "every entry of every input a symbol (max pooling at a rational point with a tie of two, where "
               "SymPy's Heaviside(0) = 1/2 is the tie rule)",
               "randomized: exactly in GF($2^{61} - 1$), $\\langle$derived gradient, random direction$\\rangle$ "
               "equals the forward pass's derivative along the direction, every entry of $X$, $W$, $b$ moving, "
               "at 1 x 1 x 28 x 28 with eight 3 x 3 filters (pooling: 2 x 3 x 8 x 8)",
               "index level: at symbolic sizes, the matrix form written back in indices (its product's entry, "
               "then col2im's chain rule) collapses to the same sum as the chain rule on the forward pass"))))


def numbers_section(verdict, titles, pairs, bounds) -> Section:
    header = ("gradient",) + tuple(f"{titles[a]} vs {titles[b]}" for a, b in pairs)
    rows = []
    for comparison in verdict.comparisons:
        rows.append((comparison.name,) + tuple(f"$< 10^{{{bound}}}$" if e < 10.0 ** bound else f"{e:.1e}"
                                               for e, bound in zip(comparison.errors, bounds)))
    blocks = [Text(f"cs231n's relative error, worst entry, at {verdict.point.description.replace('_', ' ')}:"),
              Table(header, tuple(rows), "l" + "c" * len(pairs))]
    if verdict.rotated_error is not None:
        blocks.append(Text("$dX$ by the rotated-kernel full correlation of $\\hat{G}$ against $dX$ by col2im: "
                           + (f"$< 10^{{{bounds[0]}}}$" if verdict.rotated_error < 10.0 ** bounds[0]
                              else f"{verdict.rotated_error:.1e}") + "."))
    blocks.append(Text("Verdict: " + ("the three routes agree." if verdict.agree else "the routes DISAGREE.")))
    return Section("Numbers: three routes", tuple(blocks))


def mistakes_section(kind: str) -> Section:
    return Section("What `backprop verify` names", (
        Text(f"`backprop verify FILE.py:fn --layer {kind}`"),
        Text("runs a person's backward at seeded points and names each of these mistakes that reproduces its "
             "numbers (each is an edit of the derived sums above):"),
        Items(tuple(f"**{m.name}**: {m.what}" for m in CATALOGUE if kind in m.kinds))))


def build_document(gradients: LayerGradients, layer: ConvolutionLayer, forms, proofs, verdict, titles, pairs,
                   bounds) -> Document:
    convolution = gradients.layer.is_convolution
    sections = [forward_section(gradients, layer), chain_rule_section(gradients)]
    if convolution:
        sections.append(rotation_section(gradients, layer))
    sections.append(matrix_section(forms, convolution))
    if convolution and gradients.layer.spatial == 2:
        sections.append(convolution_matrix_section())
    sections += [proofs_section(proofs), numbers_section(verdict, titles, pairs, bounds), mistakes_section(layer.kind)]
    what = "dX, dW and db" if convolution else "dX"
    return Document(f"{layer.kind}: the backward pass found from the forward pass",
                    f"{what} of {layer.kind} ({describe(layer)}) found by index calculus from the forward pass, "
                    "proved three ways and checked against a hand-written NumPy layer and finite differences.",
                    tuple(sections))


def page_html(document: Document, with_matrix: bool) -> str:
    from derive.writeup.pictures import Picture
    from derive.writeup.html import page_html as layer_page

    pictures = (Picture(f"M transposed for a {MATRIX_SIZE} x {MATRIX_SIZE} input and a {MATRIX_KERNEL} x "
                        f"{MATRIX_KERNEL} kernel (padding {MATRIX_PADDING}): the outlined column, output y00, holds "
                        f"the kernel entries uv in order; the orange row, input x"
                        f"{HIGHLIGHTED_INPUT[0]}{HIGHLIGHTED_INPUT[1]}, holds them backwards",
                        matrix_svg()),) if with_matrix else ()
    return layer_page(document, pictures)

