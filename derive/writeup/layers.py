"""The write-up's derivation proper: the output layer, the hidden layers, and the two conventions.

Each layer is written the way one would teach it: the chain rule for one entry (the Step's own
entries), then the size-independent index argument (derive.proofs.index_level) that shows where a
transpose comes from, then the matrix form with the candidates the search rejected.
"""

from __future__ import annotations

from itertools import permutations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from derive.network.costs import cost as cost_entry
from derive.proofs.index_level import ACTIVATIONS, DELTA, WEIGHTS, IndexArgument, _as_indexed, index_argument, q, r
from derive.writeup.context import Context, entry_name, rejected_items, shape_reason
from derive.writeup.document import Equation, Items, Section, Text, fraction
from derive.writeup.sections import generic

_ENTRY = (0, 0)
HAT_Y = r"\hat{Y}"


def _position(argument: IndexArgument) -> tuple[sp.Symbol, sp.Symbol]:
    """The entry (n, j) the index argument is about: the order in which its free indices match."""
    last = argument.steps[-1].expression
    free = sorted((s for s in last.free_symbols if isinstance(s, sp.Symbol) and s.is_integer
                   and not s.is_positive), key=str)
    for first, second in permutations(free, 2):
        if last.dummy_eq(_as_indexed(argument.matrix_form[first, second])):
            return first, second
    return tuple(free[:2])


def index_blocks(ctx: Context, argument: IndexArgument) -> list:
    """The argument for every size at once, as equations: the chain rule in Indexed sums."""
    first, second = _position(argument)
    base = ACTIVATIONS if argument.quantity == "dJ/da" else WEIGHTS
    variable = ctx.tex(base[first, second])
    z = sp.IndexedBase("z")[q, r] if argument.convention == "row" else sp.IndexedBase("z")[r, q]
    steps = argument.steps
    result = MatrixElement(argument.matrix_form, first, second)
    lines = (f"{ctx.tex(z)} &= {ctx.tex(steps[0].expression)}",
             f"{fraction(ctx.tex(z), variable)} &= {ctx.tex(steps[1].expression)}",
             f"{fraction('J', variable)} &= \\sum_{{q,r}} {ctx.tex(DELTA[z.indices])} "
             f"{fraction(ctx.tex(z), variable)} = {ctx.tex(steps[2].expression)}",
             f"&= {ctx.tex(steps[3].expression)} = {ctx.tex(result)}")
    sizes = ("with the sizes left symbolic ($m$ examples, $N$ units in layer $l$, $K$ in layer $l+1$; "
             "$[n = q]$ is 1 when $n = q$ and 0 otherwise)")
    rejected = [f"${_candidate_latex(ctx, c.label)}$: {shape_reason(c.reason)}." for c in argument.candidates
                if not c.accepted]
    blocks = [Text(f"The same step for every size at once, with SymPy's indexed sums {sizes}:"),
              Equation(lines)]
    if rejected:
        blocks += [Text("For general sizes the other products fail:"), Items(tuple(rejected))]
    return blocks


def _candidate_latex(ctx: Context, label: str) -> str:
    symbols = {"delta": sp.MatrixSymbol("delta", 1, 1), "W": sp.MatrixSymbol("W", 1, 1),
               "a": sp.MatrixSymbol("a", 1, 1)}
    parts = []
    for token in label.split():
        name, transposed = (token[:-2], True) if token.endswith(".T") else (token, False)
        symbol = symbols[name]
        parts.append(ctx.tex(symbol.T if transposed else symbol))
    return " ".join(parts)


def _entry_of(step, preferred: tuple[int, int]) -> tuple[tuple[int, int], sp.Expr]:
    entries = step.entry_map
    position = preferred if preferred in entries else step.entries[0][0]
    return position, entries[position]


def _weight_position(ctx: Context) -> tuple[int, int]:
    """An entry of W that is a real weight: (0, 0) is a bias weight under Ng's bias unit."""
    if ctx.spec.bias != "unit":
        return _ENTRY
    return (1, 0) if ctx.row else (0, 1)


def weight_gradient_blocks(ctx: Context, layer: int, full: bool) -> list:
    step = ctx.step(f"dJ_dW{layer}")
    (i, j), value = _entry_of(step, _weight_position(ctx))
    weight = entry_name(ctx, f"W{layer}", (i, j))
    delta, z = ctx.matrix(f"delta{layer + 1}"), ctx.matrix(f"z{layer + 1}")
    unit = j if ctx.row else i
    indices = f"n{unit}" if ctx.row else f"{unit}n"
    blocks = [Text(f"The weight ${weight}$ enters one pre-activation of every example $n$, "
                   f"${z}_{{{indices}}}$, so the chain rule sums over the $m$ examples:"),
              Equation((f"{fraction('J', weight)} = \\sum_{{n}} {delta}_{{{indices}}} "
                        f"{fraction(f'{z}_{{{indices}}}', weight)} = {ctx.tex(value)}",))]
    if full:
        blocks += index_blocks(ctx, ctx.derivation.index_arguments[1])
        t = ctx.notation.transpose_symbol
        product = f"a^{{{t}}} \\delta" if ctx.row else f"\\delta a^{{{t}}}"
        blocks.append(Text("The sum runs over the examples $q$, and a matrix product sums over the inner index "
                           "of its two factors (the second of the left, the first of the right). The example "
                           "index is the first index of $a$ in row form (the second in column form), so $a$ must "
                           f"be transposed to bring it inside: the sum over the $m$ examples is the product ${product}$."))
    formula = ctx.tex(step.formula)
    blocks += [Text(f"For this layer{' (the bias unit brings in its row of ones)' if ctx.spec.bias == 'unit' else ''}:"),
               Equation((f"{fraction('J', ctx.matrix(f'W{layer}'))} = {formula}",))]
    if step.rejected:
        blocks += [Text("Candidates rejected before it:"), Items(rejected_items(ctx, step))]
    return blocks


def output_section(ctx: Context) -> Section:
    L, spec = ctx.L, ctx.spec
    delta_step = ctx.step(f"delta{L}")
    position, value = _entry_of(delta_step, _ENTRY)
    z_entry, a_entry = entry_name(ctx, f"z{L}", position), entry_name(ctx, f"a{L}", position)
    example = position[0] if ctx.row else position[1]
    delta = ctx.matrix(f"delta{L}")
    if spec.output_activation == "softmax":
        sum_index = f"{example}k" if ctx.row else f"k{example}"
        a, y = ctx.matrix(f"a{L}"), "y"
        blocks = [Text(f"One entry first. The softmax couples one example's outputs: ${z_entry}$ moves every "
                       f"output ${a}_{{{sum_index}}}$ of example {example}, so the chain rule sums over them:"),
                  Equation((f"{fraction('J', z_entry)} &= \\sum_k {fraction('J', f'{a}_{{{sum_index}}}')} "
                            f"{fraction(f'{a}_{{{sum_index}}}', z_entry)}",
                            f"&= {ctx.tex(value)}")),
                  Text(f"Under the stated condition that each example's targets sum to one "
                       f"(${_sum_condition(ctx, example)}$, as for one-hot targets) this is "
                       f"${a_entry} - {entry_name(ctx, y, position)}$, and for every entry:"),
                  Equation((f"{delta} = {ctx.tex(delta_step.formula)}",))]
    else:
        gradient = ctx.step("dJ_dyhat")
        blocks = [Text(f"One entry first. Only example {example}'s loss contains ${a_entry}$, and only ${a_entry}$ "
                       f"contains ${z_entry}$, so the chain rule has one term:"),
                  Equation((f"{fraction('J', z_entry)} &= {fraction('J', a_entry)} {fraction(a_entry, z_entry)}",
                            f"&= {ctx.tex(value)}")),
                  Text("Every entry has this form with its own indices, so the entries collect into matrices:"),
                  Equation((f"{fraction('J', HAT_Y)} &= {ctx.tex(gradient.formula)}",
                            f"{delta} &= {ctx.tex(delta_step.formula)}"))]
        shapes = sum(1 for c in delta_step.rejected if c.entry is None)
        blocks.append(Text(f"The search tried {len(delta_step.form.candidates)} candidates built from these two "
                           f"factors; {shapes} matrix products were rejected for their shapes, "
                           + _unequal_count(delta_step) + "and the Hadamard product matched every entry."))
        if cost_entry(spec.cost).seed000:
            blocks.append(Text(f"Seed 000 writes this as $\\delta^{{(3)}} = -(y - \\hat{{y}})\\, f'(z^{{(3)}})$: "
                               f"the same, since ${ctx.matrix(f'a{L}')} - Y = -(Y - \\hat{{Y}})$."))
        simplified = ctx.derivation.simplified_output_delta
        if simplified is not None:
            blocks += [Text(f"Writing ${ctx.f_of(L)}'$ in terms of the output, the product simplifies:"),
                       Equation((f"{delta} = {ctx.tex(simplified.formula)}",))]
    blocks += weight_gradient_blocks(ctx, L - 1, full=True)
    return Section(f"Output layer (layer {L})", tuple(blocks))


def _sum_condition(ctx: Context, example: int) -> str:
    return f"\\sum_k y_{{{example}k}} = 1" if ctx.row else f"\\sum_k y_{{k{example}}} = 1"


def _unequal_count(step) -> str:
    unequal = sum(1 for c in step.rejected if c.entry is not None)
    return f"{unequal} were unequal at an entry, " if unequal else ""


def hidden_section(ctx: Context) -> Section:
    L = ctx.L
    blocks = _first_hidden_blocks(ctx, L - 1)
    if L - 1 > 2:
        relabel = {L: "l+1", L - 1: "l"}
        delta = ctx.step(f"delta{L - 1}")
        gradient = ctx.step(f"dJ_dW{L - 1}")
        blocks += [Text(f"**The recursion.** Nothing above used the number of the layer: the first line holds "
                        f"for every hidden layer $l = {L - 1}, \\dots, 2$, the second for every weight matrix "
                        f"(with ${generic(ctx, 'a', '1')} = X$):"),
                   Equation((f"{generic(ctx, 'delta', 'l')} &= {ctx.tex(delta.formula, relabel)}",
                             f"{fraction('J', generic(ctx, 'W', 'l'))} &= {ctx.tex(gradient.formula, relabel)}")),
                   Text("Applied to the remaining layers, each formula again found by the candidate search:")]
        lines, rejected = [], []
        for layer in range(L - 2, 1, -1):
            for name in (f"dJ_da{layer}", f"delta{layer}", f"dJ_dW{layer - 1}"):
                step = ctx.step(name)
                left = fraction("J", ctx.matrix(name[4:])) if name.startswith("dJ_") else ctx.matrix(name)
                lines.append(f"{left} &= {ctx.tex(step.formula)}")
            rejected += rejected_items(ctx, ctx.step(f"dJ_da{layer}"))
        blocks.append(Equation(tuple(lines)))
        if rejected:
            blocks += [Text("Rejected on the way:"), Items(tuple(rejected))]
    return Section("Hidden layers" if L > 3 else "Hidden layer (layer 2)", tuple(blocks))


def _first_hidden_blocks(ctx: Context, layer: int) -> list:
    gradient, delta_step = ctx.step(f"dJ_da{layer}"), ctx.step(f"delta{layer}")
    position, value = _entry_of(gradient, _ENTRY)
    a_entry = entry_name(ctx, f"a{layer}", position)
    example = position[0] if ctx.row else position[1]
    unit = position[1] if ctx.row else position[0]
    delta, z, W = ctx.matrix(f"delta{layer + 1}"), ctx.matrix(f"z{layer + 1}"), ctx.matrix(f"W{layer}")
    k = f"{example}k" if ctx.row else f"k{example}"
    blocks = [Text(f"**Layer {layer}.** The activation ${a_entry}$ feeds ${z}_{{{k}}}$ for every unit $k$ of "
                   f"layer {layer + 1}, so the chain rule sums over $k$:"),
              Equation((f"{fraction('J', a_entry)} = \\sum_k {delta}_{{{k}}} {fraction(f'{z}_{{{k}}}', a_entry)} "
                        f"= {ctx.tex(value)}",))]
    blocks += index_blocks(ctx, ctx.derivation.index_arguments[0])
    if ctx.spec.bias == "unit":  # the bias row (column) is not fed by a unit of layer `layer`
        W = ctx.tex(ctx.shaped(f"W{layer}")[1:, :] if ctx.row else ctx.shaped(f"W{layer}")[:, 1:])
    w_entry = f"{W}_{{{unit}k}}" if ctx.row else f"{W}_{{k{unit}}}"
    t = ctx.notation.transpose_symbol
    product = f"\\delta W^{{{t}}}" if ctx.row else f"W^{{{t}}} \\delta"
    blocks.append(Text(
        f"**Why the transpose.** ${w_entry}$ connects unit {unit} of layer {layer} to unit $k$ of layer "
        f"{layer + 1}. Going backwards, unit {unit} collects the error of every unit $k$ it feeds, so the sum runs "
        f"over $k$, the {'second' if ctx.row else 'first'} index of ${W}$. A matrix product sums over the inner "
        f"index, the {'first index of its right' if ctx.row else 'second index of its left'} factor; with "
        f"$(W^{{{t}}})_{{kj}} = W_{{jk}}$ the sum is the product ${product}$. Seed 000's author saw "
        "$W^{(2)T}$ appear without seeing why: it is the local derivative $\\partial z / \\partial a$ "
        "with its indices in the order the matrix product needs."))
    blocks += [Text("Collected over all entries:"),
               Equation((f"{fraction('J', ctx.matrix(f'a{layer}'))} = {ctx.tex(gradient.formula)}",))]
    if gradient.note:
        blocks.append(Text(gradient.note[0].upper() + gradient.note[1:] + "."))
    if gradient.rejected:
        blocks += [Text("Candidates rejected before it:"), Items(rejected_items(ctx, gradient))]
    d_position, d_value = _entry_of(delta_step, _ENTRY)
    z_entry = entry_name(ctx, f"z{layer}", d_position)
    blocks += [Text(f"Then ${entry_name(ctx, f'a{layer}', d_position)} = {ctx.f_of(layer)}({z_entry})$ "
                    "contributes one more factor:"),
               Equation((f"{entry_name(ctx, f'delta{layer}', d_position)} &= "
                         f"{fraction('J', entry_name(ctx, f'a{layer}', d_position))} "
                         f"{ctx.f_of(layer)}'\\!\\left({z_entry}\\right) = {ctx.tex(d_value)}",
                         f"{ctx.matrix(f'delta{layer}')} &= {ctx.tex(delta_step.formula)}"))]
    blocks.append(Text(f"The weights into layer {layer} follow by the argument used for "
                       f"${ctx.matrix(f'W{ctx.L - 1}')}$:"))
    return blocks + weight_gradient_blocks(ctx, layer - 1, full=False)


def convention_section(ctx: Context) -> Section:
    L = ctx.L
    other = "column" if ctx.row else "row"
    blocks = [Text(f"In {other} form every matrix is the transpose of its {ctx.spec.convention}-form namesake "
                   f"(${ctx.matrix('X')}$ becomes ${ctx.matrix('X')}^{{{ctx.notation.transpose_symbol}}}$, and so "
                   "on for $W$, $z$, $a$, $\\delta$). Transposing the results above with "
                   f"$(AB)^{{{ctx.notation.transpose_symbol}}} = B^{{{ctx.notation.transpose_symbol}}} "
                   f"A^{{{ctx.notation.transpose_symbol}}}$:")]
    lines = []
    if L > 2:
        formula = ctx.step(f"dJ_da{L - 1}").formula
        lines.append(f"{ctx.tex(sp.Transpose(formula))} &= {ctx.tex(formula.T)}")
    weight = ctx.step(f"dJ_dW{L - 1}").formula
    lines.append(f"{ctx.tex(sp.Transpose(weight))} &= {ctx.tex(weight.T)}")
    blocks.append(Equation(tuple(lines)))
    hidden = index_argument(other, "dJ/da")
    gradient = index_argument(other, "dJ/dW")
    blocks.append(Text(f"Read in {other}-form symbols, these are the {other}-form rules "
                       f"${ctx.tex(hidden.matrix_form)}$ for the backward pass and "
                       f"${ctx.tex(gradient.matrix_form)}$ for the weights. The index argument in {other} "
                       "form ends in the same place:"))
    blocks.append(Equation(tuple(
        f"{fraction('J', ctx.tex((ACTIVATIONS if a.quantity == 'dJ/da' else WEIGHTS)[_position(a)]))} &= "
        f"{ctx.tex(a.steps[3].expression)} = {ctx.tex(MatrixElement(a.matrix_form, *_position(a)))}"
        for a in (hidden, gradient))))
    return Section(f"The {other} form", tuple(blocks))
