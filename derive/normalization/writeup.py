"""The write-up of a batch-norm or layer-norm derivation, in derive.writeup.document's document model.

Pure functions: NormalizationGradients, the proof results and (optionally) the numeric table in,
a derive.writeup.document.Document out, printed by derive.writeup.latex and derive.writeup.markdown as the
network write-ups are, and by page_html here (the network page's badges and rejected candidates
have no counterpart for a single layer).
"""

from __future__ import annotations

import re

import sympy as sp

from derive.normalization.derivation import NormalizationGradients, PathTerm
from derive.normalization.proofs import ProofResult
from derive.writeup.document import (Document, Equation, Items, NumericTable, Section, Table, Text, format_error)

# Each path's chain-rule sum, as the student writes it before any partial is taken: (LaTeX, prose).
PATH_CHAIN_RULE = {
    "direct": (r"\sum_{n,j} G_{nj}\,\frac{\partial y_{nj}}{\partial x_{pq}}",
               r"$x$ reaches $y$ directly, through the numerator $x - \mu$ of $\hat{x}$"),
    "through mu": (r"\sum_{n,j,r} G_{nj}\,\frac{\partial y_{nj}}{\partial \mu_r}\,\frac{\partial \mu_r}{\partial x_{pq}}",
                   r"$x$ changes the mean, which every $\hat{x}$ of its group subtracts"),
    "through sigma^2": (r"\sum_{n,j,r} G_{nj}\,\frac{\partial y_{nj}}{\partial \sigma^2_r}\,"
                        r"\frac{\partial \sigma^2_r}{\partial x_{pq}}",
                        r"$x$ changes the variance, which every $\hat{x}$ of its group divides by"),
    "through mu inside sigma^2": (r"\sum_{n,j,r,t} G_{nj}\,\frac{\partial y_{nj}}{\partial \sigma^2_r}\,"
                                  r"\frac{\partial \sigma^2_r}{\partial \mu_t}\,\frac{\partial \mu_t}{\partial x_{pq}}",
                                  r"the variance depends on $x$ through the mean as well"),
}
# bold titles hold no math: the renderers read **...** before $...$
PATH_TITLE = {"direct": "Directly", "through mu": "Through the mean", "through sigma^2": "Through the variance",
              "through mu inside sigma^2": "Through the mean inside the variance"}
_BRACED_BASE = re.compile(r"\{(\\hat\{x\}|G|\\gamma|s|x|\\mu)\}_")
_PAIR_INDEX = re.compile(r"_\{(\w),(\w)\}")
_LHS = {"dX": r"\frac{\partial J}{\partial x_{pq}}", "dgamma": r"\frac{\partial J}{\partial \gamma_q}",
        "dbeta": r"\frac{\partial J}{\partial \beta_q}"}


def entry_latex(expression: sp.Expr) -> str:
    """An entry of the derivation (xhat, s, G, gamma indexed) as LaTeX: x_hat[p, q] -> \\hat{x}_{pq}."""
    text = _BRACED_BASE.sub(r"\1_", sp.latex(expression))  # {G}_{p,q} -> G_{p,q}
    return _PAIR_INDEX.sub(r"_{\1\2}", text)  # G_{p,q} -> G_{pq}


def _layer_words(gradients: NormalizationGradients) -> dict[str, str]:
    batch = gradients.layer.kind == "batch"
    M = "N" if batch else "D"
    divisor = f"{M} - 1" if gradients.layer.unbiased else M
    return {
        "M": M, "divisor": divisor,
        "group": "feature $j$, over the $N$ examples" if batch else "example $n$, over its $D$ features",
        "index": "j" if batch else "n",
        "stat_of": (lambda n, j: j) if batch else (lambda n, j: n),
        "sum_over": "n" if batch else "j",
        "axis": "axis 0, down the batch" if batch else "axis 1, along each example",
    }


def forward_section(gradients: NormalizationGradients) -> Section:
    w = _layer_words(gradients)
    t, k, M = w["index"], "k", w["M"]
    entry = "x_{kj}" if gradients.layer.kind == "batch" else "x_{nk}"
    divisor = "N - 1" if gradients.layer.unbiased and M == "N" else ("D - 1" if gradients.layer.unbiased else M)
    lines = (rf"\mu_{t} &= \frac{{1}}{{{M}}} \sum_{{{k}}} {entry}",
             rf"\sigma^2_{t} &= \frac{{1}}{{{divisor}}} \sum_{{{k}}} ({entry} - \mu_{t})^2",
             r"\hat{x}_{nj} &= \frac{x_{nj} - \mu_{" + t + r"}}{\sqrt{\sigma^2_{" + t + r"} + \epsilon}}",
             r"y_{nj} &= \gamma_j \hat{x}_{nj} + \beta_j")
    stages = ("$\\mu$: the mean of each group (" + w["axis"] + ")",
              "$x - \\mu$: centred inputs",
              "$(x - \\mu)^2$, then $\\sigma^2$: its mean" + (" over $M - 1$" if gradients.layer.unbiased else ""),
              "$s = \\sqrt{\\sigma^2 + \\epsilon}$, then $1/s$",
              "$\\hat{x} = (x - \\mu) \\cdot (1/s)$",
              "$y = \\gamma \\hat{x} + \\beta$, and the cost $J$ with $G = \\partial J / \\partial Y$")
    return Section("The forward pass", (
        Text(f"Row form: $X$ is $N \\times D$, example $n$ in row $n$. The statistics of "
             f"{gradients.layer.name} are taken for each {w['group']}:"),
        Equation(lines),
        Text("Below $s_" + t + r" = \sqrt{\sigma^2_" + t + r" + \epsilon}$, $G_{nj} = \partial J / \partial y_{nj}$ "
             "is what flows in from above, and $(p, q)$ is the entry of $X$ being differentiated. "
             "The staged computational graph (cs231n draws batch norm this way) has these nodes, in order:"),
        Items(stages)))


def _path_block(path: PathTerm, gradients: NormalizationGradients) -> list:
    chain, meaning = PATH_CHAIN_RULE[path.name]
    blocks = [Text(f"**{PATH_TITLE[path.name]}**: {meaning}.")]
    lines = [rf"& {chain}", rf"&= {entry_latex(path.before_mean_rule)}"]
    if path.vanishes:
        lines.append("&= 0")
    elif path.in_statistics != path.collapsed:
        lines.append(rf"&= {entry_latex(path.in_statistics)}")
    blocks.append(Equation(tuple(lines)))
    return blocks


def paths_section(gradients: NormalizationGradients) -> Section:
    w = _layer_words(gradients)
    M = w["M"]
    blocks = [Text("By the chain rule over the graph $x \\to (\\mu, \\sigma^2) \\to \\hat{x} \\to y \\to J$, "
                   "$\\partial J / \\partial x_{pq}$ is a sum over every path from $x_{pq}$ to $J$. There are "
                   "three: directly, through $\\mu$, and through $\\sigma^2$; and $\\sigma^2$ itself depends on "
                   "$x$ twice, directly and through $\\mu$, so the third path has two parts. SymPy takes each "
                   "local partial (a Kronecker delta wherever an index must match), the deltas are summed "
                   "out, and each term is rewritten in $\\hat{x}$ and $s$:")]
    for path in gradients.dX.paths:
        blocks += _path_block(path, gradients)
    blocks.append(Text(
        f"**Why the path through the mean inside the variance vanishes.** "
        f"$\\partial \\sigma^2 / \\partial \\mu = -\\frac{{2}}{{{w['divisor']}}} \\sum_k (x_k - \\mu)$ for each "
        f"{w['group']}, and $\\sum_k x_k = {M}\\mu$ by the definition of $\\mu$, so "
        f"$\\sum_k (x_k - \\mu) = {M}\\mu - {M}\\mu = 0$. The factor $({M}\\mu - \\sum_k x_k)$ above is that sum: "
        "the term is zero whatever $G$ is. (Divided by $s$, the same fact is $\\sum_k \\hat{x}_k = 0$. The path "
        "through $\\sigma^2$ becomes one term in $\\hat{x}$ once $x = \\mu + s\\,\\hat{x}$ is put in: its terms "
        "with $\\mu$ cancel.)"))
    terms = [entry_latex(p.in_statistics) for p in gradients.dX.paths if not p.vanishes]
    blocks.append(Text("**The collapse.** What is left is three terms, one per surviving path, over one "
                       "denominator:"))
    blocks.append(Equation((rf"{_LHS['dX']} &= " + " ".join(
        (t if i == 0 or t.startswith("-") else "+ " + t) for i, t in enumerate(terms)),
        rf"&= {entry_latex(gradients.dX.entry)}")))
    return Section("Three paths from x to J", tuple(blocks))


def gradients_section(gradients: NormalizationGradients) -> Section:
    blocks = [Text("Read back as matrices ($\\odot$ entrywise with NumPy broadcasting; "
                   "$\\mathbf{1}\\mathbf{1}^\\top A$ sums down the columns and spreads the sum back over the rows, "
                   "$A\\,\\mathbf{1}\\mathbf{1}^\\top$ does the same along the rows):")]
    for gradient in gradients.gradients:
        blocks.append(Equation((gradient.equation_latex(),)))
    return Section("The gradients", tuple(blocks))


def proofs_section(proofs: tuple[ProofResult, ...]) -> Section:
    what = {"entrywise": "the derived matrices against SymPy's diff of J, entry by entry, at N x D = 3 x 2",
            "randomized GF(p)": "inner product with a random direction against forward-mode dual numbers, "
                                "exactly in GF(2^61 - 1), at N x D = 64 x 32",
            "index level": "chain-rule sum minus the matrix form, collapsed at symbolic N and D"}
    rows = tuple((proof.method, what.get(proof.method, ""), ", ".join(proof.checked) if proof.holds else "none",
                  "holds" if proof.holds else f"FAILS: {proof.first_failure}") for proof in proofs)
    return Section("Proofs", (
        Text("Each gradient is proved three ways; the test suite plants mistakes in the formulas and "
             "shows that each proof catches them."),
        Table(("proof", "what is compared", "gradients", "verdict"), rows, "lp{7cm}ll")))


def numeric_section(numeric: NumericTable) -> Section:
    rows = tuple((f"${_matrix_name(name)}$",) + tuple(format_error(e, t) for e, t in zip(errors, numeric.thresholds))
                 for name, errors in zip(numeric.rows, numeric.errors))
    verdict = "agree" if numeric.agree else "DISAGREE"
    return Section("Numbers", (
        Text(f"At {numeric.point}, three routes: the derived matrix forms evaluated in float64, a hand-written "
             "NumPy backward (checks/handwritten/normalization.py, the staged graph walked backwards, NumPy only), and "
             "five-point central finite differences. Each cell is cs231n's relative error, "
             "$\\max |a - b| / \\max(10^{-8}, |a| + |b|)$; the routes " + verdict + "."),
        Table(("gradient",) + numeric.columns, rows, "l" + "c" * len(numeric.columns))))


def _matrix_name(name: str) -> str:
    return {"dX": r"\partial J/\partial X", "dgamma": r"\partial J/\partial \gamma",
            "dbeta": r"\partial J/\partial \beta"}[name]


def describe(gradients: NormalizationGradients) -> str:
    variance = "the unbiased variance, 1/(M-1)" if gradients.layer.unbiased else "the biased variance, 1/M"
    axis = "per feature over the batch" if gradients.layer.kind == "batch" else "per example over its features"
    return f"{gradients.layer.name.capitalize()}: statistics {axis}, {variance}; gradients found from the forward pass."


def build_document(gradients: NormalizationGradients, proofs: tuple[ProofResult, ...],
                   numeric: NumericTable | None = None) -> Document:
    """The whole write-up: forward pass, the paths and their collapse, gradients, proofs, numbers."""
    sections = [forward_section(gradients), paths_section(gradients), gradients_section(gradients),
                proofs_section(proofs)]
    if numeric is not None:
        sections.append(numeric_section(numeric))
    title = f"Backpropagation through {gradients.layer.name}, derived and proved"
    return Document(title, describe(gradients), tuple(sections))


def number_latex(value: float) -> str:
    """1e-05 -> 10^{-5}, 0.05 -> 5 \\times 10^{-2}, 0.5 -> 0.5: a number for $...$."""
    if value == 0 or 0.1 <= abs(value) < 1000:
        return f"{value:g}"
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else f"{mantissa} \\times {power}"
