"""The write-up of the attention block's derivation, in derive.writeup.document's document model.

Pure functions: the Program, the proof results and the numeric table in, a derive.writeup.document.Document
out, printed by derive.writeup.latex and derive.writeup.markdown, and by the normalisation layers'
page_html (a single layer's page: sections, no network badges).
"""

from __future__ import annotations

import re

import sympy as sp

from derive.attention import matrix_form as mf
from derive.attention.derivation import Gradient, Program
from derive.attention.forward import STAGES
from derive.attention.index_calculus import Term, as_sum
from derive.attention.proofs import ProofResult
from derive.writeup.document import Document, Equation, Items, NumericTable, Section, Table, Text, format_error

_BRACED = re.compile(r"\{(\\mathrm\{d\}\w+|[A-Za-z]\w*|\([^{}()]*\))\}_\{([^{}]*)\}")
_KNOWN = {"dO", "dP", "dV", "dA", "dS", "dQ", "dK", "dY", "dR", "dE", "dC", "dX"}


def entry_latex(expression: sp.Expr) -> str:
    """An index-form term as LaTeX: {dP}_{p,k_3} -> \\mathrm{d}P_{p k_{3}}."""
    text = sp.latex(expression)
    for name in sorted(_KNOWN, key=len, reverse=True):
        text = text.replace("{" + name + "}", "{" + mf.leaf_latex(name) + "}")
    text = text.replace("{W_{q}}", "{(W_q)}").replace("{W_{k}}", "{(W_k)}").replace("{W_{v}}", "{(W_v)}") \
        .replace("{W_{o}}", "{(W_o)}")
    return _BRACED.sub(lambda m: f"{m.group(1)}_{{{m.group(2).replace(',', ' ')}}}", text)


def forward_section(program: Program, causal: bool, heads: int) -> Section:
    stages = [STAGES[name] for name in program.stages]
    blocks = [Text("Row form: token $i$ is row $i$. Each stage below is written in index form, and every "
                   "gradient after it is found from these lines alone:"),
              Equation(tuple(stage.latex.replace("=", "&=", 1) for stage in stages))]
    if "mask" in program.stages:
        blocks.append(Text("The mask $B$ is 0 where token $i$ may attend to token $j$ and $-\\infty$ where it may "
                           "not; causal attention masks every $j > i$, so $P_{ij} = 0$ above the diagonal"
                           + (" (this write-up's numbers use the causal mask)." if causal else ".")))
        blocks.append(Text(f"Several heads: head $h$ has its own $W_q^h, W_k^h, W_v^h$ ($m \\times d$ with "
                           f"$d = m / H$) and its rows $W_o^h$ of $W_o$; concatenating the heads' $O_h$ and "
                           f"multiplying by $W_o$ is $Y = \\sum_h O_h W_o^h$. Every head is the program below; "
                           f"$X$ is read by all of them, so its gradient is the sum over the heads "
                           f"(this write-up's numbers use {heads} head{'s' if heads > 1 else ''})."))
    return Section("The forward pass", tuple(blocks))


def _terms_latex(terms) -> str:
    """Collapsed terms, the ones without a sum first, a minus sign outside its sum."""
    text = ""
    for term in sorted(terms, key=lambda t: len(t.indices)):
        negative = term.coefficient.could_extract_minus_sign()
        shown = entry_latex(as_sum(Term(-term.coefficient, term.indices) if negative else term))
        text += (" - " if negative else (" + " if text else "")) + shown
    return text.strip()


def _path_lines(gradient: Gradient) -> list:
    blocks = []
    for path in gradient.paths:
        stage = STAGES[path.stage]
        out = mf.leaf_latex(stage.output)
        of = mf.leaf_latex(gradient.of)
        of = f"({of})" if "_" in of else of  # (W_q)_{pq}, not a double subscript
        chain = (rf"\sum_{{i,c}} {mf.leaf_latex('d' + stage.output)}_{{ic}}\,\frac{{\partial {out}_{{ic}}}}"
                 rf"{{\partial {of}_{{pq}}}}")
        collapsed = _terms_latex(path.collapsed)
        lines = [rf"& {chain}", rf"&= {collapsed}"]
        if len(gradient.paths) > 1:
            lines.append(rf"&= [{mf.latex(path.matrix)}]_{{pq}}")
        blocks.append(Text(f"Through the stage {path.stage} (${out}$ reads ${mf.leaf_latex(gradient.of)}$):"))
        blocks.append(Equation(tuple(lines)))
    return blocks


def gradients_section(program: Program) -> Section:
    blocks = [Text("For each matrix $M$, $\\partial J / \\partial M_{pq}$ is the chain rule over every stage that "
                   "reads $M$. SymPy takes each local partial (a Kronecker delta wherever an index must match); "
                   "the deltas are summed out; through the softmax, $e^{A_{ij}} / \\sum_l e^{A_{il}}$ is renamed "
                   "$P_{ij}$ (the normaliser cancels); each surviving term is read back as a matrix by its indices "
                   "(an index shared by $A_{pk}$ and $B_{kq}$ is the product $AB$, one shared only by entries "
                   "$[p, k]$ is a row sum), and the terms are collected. Walking the graph backwards:")]
    for gradient in program.gradients:
        blocks.append(Text(f"**{gradient.name}**"))
        blocks += _path_lines(gradient)
        blocks.append(Equation((gradient.equation_latex(),)))
    if "residual" in program.stages:
        blocks.append(Text("The residual is the first graph where two paths from $X$ meet: $R = X + F(X)$, so "
                           "$\\mathrm{d}X = \\mathrm{d}R + (\\partial F)^\\top \\mathrm{d}R$, the identity path "
                           "plus the sublayer's own backward; above, the sublayer's part is the three projections' "
                           "terms."))
    if "embedding" in program.stages:
        blocks.append(Text("Row $p$ of $\\mathrm{onehot}^\\top \\mathrm{d}E$ sums $\\mathrm{d}E_i$ over every "
                           "position $i$ holding token $p$: a token that occurs twice gets both rows added "
                           "(NumPy's `np.add.at(dC, tokens, dE)`; `dC[tokens] = dE` would keep only the last)."))
    return Section("The gradients, found", tuple(blocks))


def gradients_summary(program: Program) -> Section:
    return Section("The backward pass", (
        Text("In the order they are computed ($\\odot$ entrywise; "
             "$\\operatorname{rowsum}(A)\\,\\mathbf{1}^\\top$ sums each row and spreads it back along the row):"),
        Equation(tuple(g.equation_latex().replace(" = ", " &= ", 1) for g in program.gradients))))


def softmax_section() -> Section:
    return Section("The row-softmax Jacobian, and why it is never built", (
        Text("Row $i$ of $P$ is the softmax of row $i$ of $A$, and it depends on no other row: its Jacobian "
             "is $\\partial p / \\partial a = \\operatorname{diag}(p) - p\\,p^\\top$, the same matrix as the "
             "softmax output layer's (where, with cross-entropy, it collapses to $\\hat y - y$). Applied to "
             "the row $g$ of $\\mathrm{d}P$ it gives"),
        Equation((r"(\operatorname{diag}(p) - p\,p^\top)\,g = p \odot g - p\,(p^\top g) = p \odot (g - (p \cdot g)\,"
                  r"\mathbf{1})",)),
        Text("which is the derived $\\mathrm{d}A = P \\odot (\\mathrm{d}P - \\operatorname{rowsum}(P \\odot "
             "\\mathrm{d}P)\\,\\mathbf{1}^\\top)$ one row at a time. The compact form costs $O(T)$ per row "
             "and holds nothing beyond $P$ and $\\mathrm{d}P$; building the Jacobian costs $T^2$ entries per row, "
             "$T^3$ for the sequence. Treating the softmax as entrywise keeps $p \\odot g$ and drops "
             "$p\\,(p^\\top g)$: the first mistake `backprop verify` names. The mask needs nothing of its own "
             "in the backward: $P$ is 0 where $B = -\\infty$, so $\\mathrm{d}A$ is 0 there; a backward that "
             "recomputes $P$ without $B$ is wrong.")))


def flash_section(flash: ProofResult) -> Section:
    return Section("The identity FlashAttention relies on", (
        Text("The row sums in $\\mathrm{d}A$ need $\\mathrm{d}P = \\mathrm{d}O\\,V^\\top$, a $T \\times T$ "
             "matrix. They do not: for each row $i$,"),
        Equation((r"\sum_j \mathrm{d}P_{ij} P_{ij} &= \sum_j \sum_c \mathrm{d}O_{ic} V_{jc} P_{ij}"
                  r" = \sum_c \mathrm{d}O_{ic} \sum_j P_{ij} V_{jc} = \sum_c \mathrm{d}O_{ic} O_{ic}",
                  r"\operatorname{rowsum}(\mathrm{d}P \odot P) &= \operatorname{rowsum}(\mathrm{d}O \odot O)")),
        Text("proved at symbolic $T$ and $d$ by writing $\\mathrm{d}P$ as its derived matrix form and $O$ as its "
             "forward definition, collapsing both sides with the same rules as the gradients, and comparing: "
             + ("it holds." if flash.holds else f"it FAILS: {flash.first_failure}.")
             + " The right side is $T \\times d$ work on matrices the backward already holds, so FlashAttention "
             "computes $D_i = \\operatorname{rowsum}(\\mathrm{d}O \\odot O)_i$ once, never stores $P$ or "
             "$\\mathrm{d}P$ ($T^2$ memory each), and recomputes each tile of $P$ from $Q$, $K$ and the row "
             "statistics as it goes: $\\mathrm{d}S$ tile $= P \\odot (\\mathrm{d}P - D)$.")))


def proofs_section(proofs: tuple[ProofResult, ...]) -> Section:
    what = {"entrywise": "each stage's derived formula against SymPy's diff of sum(dOut * Out), entry by entry, "
                         "at T = 3, d = 2",
            "randomized GF(p)": "the whole block (2 heads, causal mask, T = 12, d = 16; embedding: 64 tokens, "
                                "repeats): inner product with a random direction against forward-mode dual "
                                "numbers, exactly in GF(2^61 - 1), exp' = exp",
            "index level": "each stage's chain-rule sum minus its matrix form, collapsed at symbolic T, d, m",
            "FlashAttention's identity": "rowsum(dP * P) - rowsum(dO * O) collapsed at symbolic T and d"}
    rows = tuple((p.method, what.get(p.method, ""), ", ".join(p.checked) if p.holds else "none",
                  "holds" if p.holds else f"FAILS: {p.first_failure}") for p in proofs)
    return Section("Proofs", (
        Text("Each gradient is proved three ways; the tests plant each catalogued mistake in the formulas and "
             "show that the proofs and the numeric check catch it."),
        Table(("proof", "what is compared", "gradients", "verdict"), rows, "lp{6.5cm}p{3.5cm}l")))


def numeric_section(numeric: NumericTable) -> Section:
    rows = tuple((f"${mf.leaf_latex(name.split(' ')[0])}${' ' + ' '.join(name.split(' ')[1:]) if ' ' in name else ''}",)
                 + tuple(format_error(e, t) for e, t in zip(errors, numeric.thresholds))
                 for name, errors in zip(numeric.rows, numeric.errors))
    return Section("Numbers", (
        Text(f"At {numeric.point}, three routes: the derived program evaluated in float64, a hand-written NumPy "
             "backward from the checks package (the softmax through its Jacobian, NumPy only), and "
             "five-point central finite differences. Each cell is cs231n's relative error; the routes "
             + ("agree." if numeric.agree else "DISAGREE.")),
        Table(("gradient",) + numeric.columns, rows, "l" + "c" * len(numeric.columns))))


TITLES = {"attention": "Backpropagation through attention, derived and proved",
          "residual": "Backpropagation through a residual attention block, derived and proved",
          "embedding": "Backpropagation through an embedding lookup, derived and proved"}


def build_document(layer: str, program: Program, proofs: tuple[ProofResult, ...], flash: ProofResult | None,
                   numeric: NumericTable | None, causal: bool = False, heads: int = 1) -> Document:
    sections = [forward_section(program, causal, heads), gradients_section(program), gradients_summary(program)]
    if "softmax" in program.stages:
        sections.append(softmax_section())
        if flash is not None:
            sections.append(flash_section(flash))
    sections.append(proofs_section(proofs + ((flash,) if flash is not None else ())))
    if numeric is not None:
        sections.append(numeric_section(numeric))
    summary = {"attention": "Scaled dot-product attention with its projections: every gradient found from the "
                            "forward pass.",
               "residual": "R = X + F(X) around one attention head: the gradient adds where the paths meet.",
               "embedding": "E = onehot(tokens) C: the gradient of the table, where repeated tokens add."}[layer]
    return Document(TITLES[layer], summary, tuple(sections))
