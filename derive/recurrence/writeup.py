"""The write-up of backprop through time for an RNN or LSTM, in derive.writeup.document's document model.

Pure functions: the derivation, the proof results, the numbers (three routes, truncation,
gradient norms) in, a derive.writeup.document.Document out, printed by derive.writeup.latex,
render_markdown and, with the unrolled graph and the norm plot, by page_html here.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.printing.latex import LatexPrinter

from derive.recurrence import matrix_form as mf
from derive.recurrence.derivation import Gradient, RecurrenceDerivation
from derive.recurrence.proofs import ProofResult
from derive.recurrence.vanishing import FORGET_BIAS, GradientNorms
from derive.writeup.document import Document, Equation, Items, NumericTable, Section, Table, Text, format_error

_FUNCTIONS = {"sigmoid": r"\sigma", "tanh": r"\tanh", "relu": r"\operatorname{relu}", "identity": r"\operatorname{id}"}
LSTM_SPLIT = 3  # an Add of more terms than this is broken over lines (the LSTM's dh_t has five)


class _EntryPrinter(LatexPrinter):
    """Entries as W_{hh}[u, p] and dz[t+1, u]: bracketed indices keep a subscripted name readable."""

    def _print_Indexed(self, expr):
        indices = ", ".join(self._print(i) for i in expr.indices)
        return f"{name_latex(str(expr.base))}[{indices}]"

    def _print_Function(self, expr, exp=None):
        name = type(expr).__name__
        stem = name[:-6] if name.endswith("_prime") else name
        if stem in _FUNCTIONS:
            mark = "^{\\prime}" if name.endswith("_prime") else ""
            return f"{_FUNCTIONS[stem]}{mark}\\left({self._print(expr.args[0])}\\right)"
        return super()._print_Function(expr, exp)


def name_latex(name: str) -> str:
    """dz -> \\mathrm{d}z, W_hh -> W_{hh}, a_f -> a_{f}."""
    if name.startswith("d") and len(name) > 1 and name != "d":
        return r"\mathrm{d}" + name_latex(name[1:])
    if "_" in name:
        stem, sub = name.split("_", 1)
        return f"{stem}_{{{sub}}}"
    return name


_SHOWN_INDEX = sp.Symbol("u", integer=True)


def tidy(expression: sp.Expr) -> sp.Expr:
    """For display: sums of 0 (SymPy's diff of a sum that does not hold the variable) dropped, and
    the consumer's summation index, renamed fresh by the collapse, shown as u again."""
    expression = expression.replace(lambda e: isinstance(e, sp.Sum) and e.function == 0, lambda e: sp.Integer(0))

    def rename(total):
        index, low, high = total.limits[0]
        return sp.Sum(total.function.xreplace({index: _SHOWN_INDEX}), (_SHOWN_INDEX, low, high))

    return expression.replace(lambda e: isinstance(e, sp.Sum) and len(e.limits) == 1
                              and e.limits[0][0].name.startswith("u"), rename)


def entry_latex(expression: sp.Expr) -> str:
    return _EntryPrinter().doprint(tidy(expression))


def sum_lines(first: str, expression: sp.Expr, per_line: int = 2) -> list[str]:
    """first &= a + b, then &\\quad + c + d, ...: a long collapsed entry over several lines."""
    terms = [entry_latex(term) for term in sp.Add.make_args(expression)] if isinstance(expression, sp.Add) \
        else [entry_latex(expression)]
    lines = [f"{first} " + " + ".join(terms[:per_line])]
    lines += ["&\\quad + " + " + ".join(terms[i:i + per_line]) for i in range(per_line, len(terms), per_line)]
    return lines


def _lhs(gradient: Gradient, layer) -> str:
    if gradient.role == "initial":
        return rf"\frac{{\partial J}}{{\partial {gradient.name}_{{0}}}}"
    if gradient.role == "parameter":
        return rf"\frac{{\partial J}}{{\partial {name_latex(gradient.name)}}}"
    return mf.leaf_latex("d" + gradient.name, 0)


def _step_of(gradient: Gradient) -> str:
    return "0" if gradient.role == "initial" else "t"


def matrix_lines(lhs: str, node, step: str) -> tuple[str, ...]:
    """lhs &= node, broken after every LSTM_SPLIT terms of a long sum."""
    if isinstance(node, mf.Add) and len(node.terms) > LSTM_SPLIT:
        terms = [mf.latex(term, step) for term in node.terms]
        lines = [f"{lhs} &= " + " + ".join(terms[:2])]
        lines += ["&\\quad + " + " + ".join(terms[i:i + 2]) for i in range(2, len(terms), 2)]
        return tuple(lines)
    return (f"{lhs} &= {mf.latex(node, step)}",)


# ------------------------------------------------------------------ sections


def forward_section(derivation: RecurrenceDerivation) -> Section:
    layer = derivation.layer
    convention = ("Column convention: $x_s$, $h_s$, $y_s$ are columns and each weight acts from the left."
                  if layer.column else
                  "Row convention: $x_s$, $h_s$, $y_s$ are rows and each weight (stored input $\\times$ output) "
                  "acts from the right; a batch is a stack of rows.")
    index_lines = tuple(f"{name_latex(e.quantity)}[s, i] &= {entry_latex(e.expression)}" for e in layer.equations)
    matrix = tuple(f"{mf.leaf_latex(name, 0, 's')} &= {mf.latex(node, 's')}" for name, node in derivation.forward)
    activation = (f"Here $f = {_FUNCTIONS[layer.activation]}$; any activation of the table may replace it, and "
                  "everything below is written in $f$ and $f'$." if layer.kind == "rnn" else
                  "The gates $i$, $f$, $o$ use the logistic $\\sigma$, the candidate $g$ uses $\\tanh$.")
    return Section("The forward pass", (
        Text(f"{convention} One step, $s = 1, \\dots, T$, written entry by entry (the only place the layer is "
             "written down; every gradient below is found from it):"),
        Equation(index_lines),
        Text("Read back as matrices:"), Equation(matrix),
        Text(f"{activation} The cost is $J = \\sum_{{s=1}}^{{T}} L_s(y_s)$, half-SSE or softmax cross-entropy "
             "per step; $\\mathrm{d}y_s = \\partial L_s / \\partial y_s$ enters from above ($y_s - r_s$ for "
             "half-SSE), so the results hold for any per-step cost.")))


def chain_rule_section(derivation: RecurrenceDerivation) -> Section:
    blocks = [Text("For every quantity $q$ the chain rule sums over its consumers: the equations that read it. "
                   "They are found by scanning the equations for a read of $q$ and solving the read step for "
                   "the consumer's step: $z$ at step $s$ reads $h$ at $s - 1$, so $h_t$ is read by $z_{t+1}$. "
                   "SymPy takes each local partial (Kronecker deltas where indices must match), the deltas are "
                   "summed out, and what is left is read as a matrix product:")]
    for gradient in derivation.states + derivation.initial:
        consumers = ", ".join(f"${name_latex(term.consumer)}$ at step ${sp.latex(term.step)}$" for term in gradient.terms)
        blocks.append(Text(f"**{_title(gradient)}** is read by {consumers}."))
        lines = [f"{_lhs(gradient, derivation.layer)}[p] &= {entry_latex(term.chain_rule)}" if n == 0 else
                 f"&\\quad + {entry_latex(term.chain_rule)}" for n, term in enumerate(gradient.terms)]
        lines += sum_lines("&=", gradient.entry)
        blocks.append(Equation(tuple(lines)))
    return Section("The chain rule over consumers", tuple(blocks))


def _title(gradient: Gradient) -> str:
    if gradient.role == "initial":
        return f"The initial state {gradient.name}_0"
    return f"d{gradient.name} at step t"


def recursion_section(derivation: RecurrenceDerivation) -> Section:
    layer = derivation.layer
    blocks = []
    if derivation.recursion is not None:
        name, node = derivation.recursion
        blocks += [Text("Putting $\\mathrm{d}h_t$ into $\\delta_t = \\mathrm{d}z_t$ gives the recursion through "
                        "time, run for $t = T, \\dots, 1$ with $\\delta_{T+1} = 0$:"),
                   Equation((rf"\delta_t = \mathrm{{d}}z_{{t}} = {mf.latex(node)}",))]
    else:
        dc = derivation.gradient("c")
        blocks += [Text("The cell state's gradient, run for $t = T, \\dots, 1$ with $\\mathrm{d}c_{T+1} = 0$:"),
                   Equation((rf"\mathrm{{d}}c_{{t}} = {mf.latex(dc.matrix)}",))]
    blocks.append(Text("The shared parameters and the starting state:"))
    lines = []
    for gradient in derivation.parameters + derivation.initial:
        lines += matrix_lines(_lhs(gradient, layer), gradient.matrix, _step_of(gradient))
    blocks.append(Equation(tuple(lines)))
    blocks.append(Text("Every state gradient, in the order the backward computes them at each step:"))
    lines = []
    for gradient in derivation.states:
        lines += matrix_lines(_lhs(gradient, layer), gradient.matrix, "t")
    blocks.append(Equation(tuple(lines)))
    return Section("Backprop through time", tuple(blocks))


def why_section(derivation: RecurrenceDerivation, norms: GradientNorms | None) -> Section:
    layer = derivation.layer
    recurrent = "W_{hh}" if layer.kind == "rnn" else "W_{hu}"
    items = [
        "**The sum over time is the sum over examples.** A dense layer's $\\partial J / \\partial W$ sums "
        "$\\delta\\, a^{\\top}$ over the examples because the one $W$ is used once per example; here the one "
        f"${recurrent}$ is used once per step, so the chain rule for ${recurrent}[p, q]$ has one term per step "
        "that reads it, and the sum over $s = 1, \\dots, T$ is that: a shared weight gets a gradient from every "
        "place it is used. With a batch it sums over both.",
        "**The transpose, for the same reason as in a dense network.** In a dense network $a^{(1)}$ feeds "
        "$z^{(2)} = W^{(2)} a^{(1)}$, so $\\delta^{(1)}$ collects $W^{(2)\\top} \\delta^{(2)}$: the gradient goes "
        "back along the edge it came forward on, and the transpose is the sum over the consumer's entries "
        "$\\sum_u W[u, p]\\,\\delta[u]$. Here $h_t$ feeds $z_{t+1} = W_{hh} h_t + \\dots$, so the same collapse "
        "gives $W_{hh}^{\\top} \\delta_{t+1}$; the step plays the role of the layer.",
        "**The LSTM's additive cell path.** $c_t = f_t \\odot c_{t-1} + i_t \\odot g_t$ is a sum, so "
        "$\\partial c_t / \\partial c_{t-1} = \\operatorname{diag}(f_t)$: no weight matrix and no squashing "
        "derivative on the way back, and $\\mathrm{d}c_t$ keeps $\\mathrm{d}c_{t+1} \\odot f_{t+1}$. A plain RNN "
        "multiplies by $W_{hh}^{\\top} \\operatorname{diag}(f'(z_t))$ at every step, and with "
        "$|\\tanh'| \\le 1$ and a contracting $W_{hh}$ the product shrinks geometrically: the gradient vanishes.",
    ]
    blocks = [Items(tuple(items))]
    if norms is not None:
        shown = sorted({1, 2, 5, 10, 15, 20, 25, len(norms.steps)})
        rows = tuple((str(t),) + tuple(f"${_figure(series[t - 1])}$" for series in (norms.rnn, norms.lstm, norms.lstm_cell))
                     for t in reversed(shown))
        blocks += [Text(f"In numbers: at the same random weights ($W \\sim \\mathcal{{N}}(0, 1/n)$, $H = 8$, the "
                        "LSTM's candidate using the RNN's $W_{xh}$, $W_{hh}$, its forget bias at "
                        f"${FORGET_BIAS:g}$), $T = {len(norms.steps)}$, only the last step's cost carried back, "
                        "through the derived backward (the plot is on the HTML page and in gradient-norms.svg):"),
                   Table(("$t$", "tanh RNN $\\lVert \\partial L_T / \\partial h_t \\rVert$",
                          "LSTM $\\lVert \\partial L_T / \\partial h_t \\rVert$",
                          "LSTM $\\lVert \\partial L_T / \\partial c_t \\rVert$"), rows, "rccc"),
                   Text(f"From $t = T$ to $t = 1$ the RNN's gradient falls by a factor of "
                        f"${_figure(norms.rnn[-1] / norms.rnn[0])}$, the LSTM's by "
                        f"${_figure(norms.lstm[-1] / norms.lstm[0])}$.")]
    return Section("Why", tuple(blocks))


def _figure(value: float) -> str:
    """two significant figures as LaTeX: 4.7 \\times 10^{-7}."""
    mantissa, exponent = f"{value:.1e}".split("e")
    power = int(exponent)
    return mantissa if power == 0 else f"{mantissa} \\times 10^{{{power}}}"


@dataclass(frozen=True)
class TruncationRow:
    steps: int
    distance: float  # |truncated - full| / |full| of dW_hh (the recurrent weight)


def truncation_section(rows: tuple[TruncationRow, ...], steps: int, weight: str) -> Section:
    table = tuple((str(row.steps), f"${_figure(row.distance)}$" if row.distance > 1e-12 else "$< 10^{-12}$")
                  for row in rows)
    return Section("Truncated backprop through time", (
        Text("BPTT($k$) carries each step's cost back $k$ steps only: $L_\\tau$ reaches $\\tau, \\tau - 1, "
             "\\dots, \\tau - k + 1$, and the recursion is cut below (Williams and Peng). It is the same derived "
             "backward run on windows; `backprop check --layer rnn --truncate k` compares it with the "
             "hand-written one and reports its distance from full BPTT. At cs231n's check point "
             f"($T = {steps}$), for $\\partial J / \\partial {name_latex(weight)}$:"),
        Table(("$k$", "$\\lVert \\text{truncated} - \\text{full} \\rVert / \\lVert \\text{full} \\rVert$"), table, "rc"),
        Text("$k = T$ is full backprop through time.")))


def proofs_section(proofs: tuple[ProofResult, ...], sizes: dict) -> Section:
    what = {"entrywise": f"the derived backward against SymPy's diff of the unrolled cost, every entry, at "
                         f"{sizes['entrywise']} (f and f' opaque)",
            "randomized GF(p)": f"inner product with a random direction against forward-mode dual numbers, exactly in "
                                f"GF(2^61 - 1), activations replaced by random cubics, at {sizes['randomized']}",
            "index level": "chain-rule sum minus the matrix form in indices, collapsed at symbolic T, H, D, M "
                           "and step t, the sum over steps left symbolic"}
    rows = tuple((proof.method, what.get(proof.method, ""), str(len(proof.checked)) if proof.holds else "none",
                  "holds" if proof.holds else f"FAILS: {proof.first_failure}") for proof in proofs)
    return Section("Proofs", (
        Text("Each gradient is proved three ways; the test suite plants each catalogued mistake and shows that "
             "each proof catches it."),
        Table(("proof", "what is compared", "gradients", "verdict"), rows, "lp{8cm}ll")))


def numeric_section(numeric: NumericTable) -> Section:
    rows = tuple((f"$\\mathrm{{d}}{name_latex(name)}$",) + tuple(format_error(e, t) for e, t in
                                                                zip(errors, numeric.thresholds))
                 for name, errors in zip(numeric.rows, numeric.errors))
    verdict = "agree" if numeric.agree else "DISAGREE"
    return Section("Numbers", (
        Text(f"At {numeric.point}, three routes: the derived backward run in float64, a hand-written NumPy "
             "backward in the style of cs231n's rnn_layers (checks/recurrence/reference.py, NumPy only), and "
             "central finite differences of $J$. Each cell is cs231n's relative error, "
             "$\\max |a - b| / \\max(10^{-8}, |a| + |b|)$; the routes " + verdict + "."),
        Table(("gradient",) + numeric.columns, rows, "l" + "c" * len(numeric.columns))))


def describe(derivation: RecurrenceDerivation) -> str:
    layer = derivation.layer
    name = f"Elman RNN ({layer.activation})" if layer.kind == "rnn" else "LSTM cell"
    return f"{name}, {layer.convention} convention: backprop through time found from the forward pass and proved."


def build_document(derivation, proofs, proof_sizes, numeric=None, truncation=None, norms=None) -> Document:
    sections = [forward_section(derivation), chain_rule_section(derivation), recursion_section(derivation),
                why_section(derivation, norms)]
    if truncation is not None:
        sections.append(truncation_section(*truncation))
    sections.append(proofs_section(proofs, proof_sizes))
    if numeric is not None:
        sections.append(numeric_section(numeric))
    name = "an Elman RNN" if derivation.layer.kind == "rnn" else "an LSTM"
    return Document(f"Backpropagation through time in {name}, derived and proved", describe(derivation),
                    tuple(sections))
