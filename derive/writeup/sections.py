"""The write-up's framing sections: notation, forward pass, biases and L2, update rule, verification.

The layer-by-layer derivation itself (output layer, hidden layers, the two conventions) is in
derive.writeup.layers; both build blocks of the document model in derive.writeup.document.
"""

from __future__ import annotations

import re

import sympy as sp

from derive.network.activations import activation as activation_entry
from derive.network.costs import cost as cost_entry
from derive.backward.matrix_ops import apply_entrywise
from derive.program.program import program_of
from derive.writeup.context import Context, entry_name, rejected_items
from derive.writeup.document import (Equation, Items, NumericTable, Reference, Section, Table, Text, format_error,
                                    fraction)

_T = sp.Symbol("t", real=True)


def generic(ctx: Context, base: str, label: str) -> str:
    """A matrix of a general layer: generic(ctx, "W", "l") is W^{(l)} (or W_{l})."""
    return ctx.tex(sp.MatrixSymbol(f"{base}9", 1, 1), {9: label})


def pre_activation(ctx: Context, layer: int) -> sp.MatrixExpr:
    """z(layer+1) = a(layer) W(layer) (+ 1 b) in row form, W a (+ b 1^T) in column form: the program's dense layer."""
    return program_of(ctx.spec).dense(layer).forward(ctx.derivation.network)


def notation_section(ctx: Context) -> Section:
    spec, network = ctx.spec, ctx.derivation.network
    L, m = ctx.L, spec.m
    a, W = generic(ctx, "a", "l"), generic(ctx, "W", "l")
    z_next = generic(ctx, "z", "l+1")
    if ctx.row:
        form = (f"Row form, as in seed 000: each of the $m = {m}$ examples is a row, and "
                f"${z_next} = {a} {W}$. The entry ${W}_{{jk}}$ connects unit $j$ of layer $l$ to unit "
                f"$k$ of layer $l+1$.")
    else:
        form = (f"Column form, as in Nielsen's book and Ng's course: each of the $m = {m}$ examples is a "
                f"column, and ${z_next} = {W} {a}$. The entry ${W}_{{kj}}$ connects unit $j$ of layer $l$ "
                f"to unit $k$ of layer $l+1$ (Nielsen numbers this matrix $W^{{l+1}}$).")
    blocks = [Text(form + f" Layer 1 is the input, ${generic(ctx, 'a', '1')} = X$, and ${W}$ carries layer "
                   f"$l$ into layer $l+1$. The output is $\\hat{{Y}} = {ctx.matrix(f'a{L}')}$. Indices start "
                   "at 0, as in the code.")]
    if spec.bias == "vector":
        blocks.append(Text(f"Each layer adds a bias vector ${generic(ctx, 'b', 'l')}$, once per example "
                           r"through $\mathbf{1}$, a vector of $m$ ones."))
    if spec.bias == "unit":
        a_generic = sp.MatrixSymbol("a9", *network.activation(2).shape)
        extended = sp.BlockMatrix([[sp.OneMatrix(m, 1), a_generic]]) if ctx.row \
            else sp.BlockMatrix([[sp.OneMatrix(1, m)], [a_generic]])
        where = "a first column of ones" if ctx.row else "a first row of ones"
        blocks.append(Text(f"Ng's bias unit: a constant 1 is put in front of every ${a}$ ({where}: "
                           f"${ctx.tex(extended, {9: 'l'})}$), and ${W}$ gains a first "
                           f"{'row' if ctx.row else 'column'} of bias weights, multiplying that 1; "
                           f"${generic(ctx, 'W', 'l')}$ without them is written "
                           f"${ctx.tex(sp.MatrixSymbol('W9', 2, 2)[1:, :], {9: 'l'})}$."))
    blocks.append(Text(rf"$A {ctx.notation.hadamard_symbol} B$ is the entrywise (Hadamard) product, "
                       rf"$A^{{{ctx.notation.transpose_symbol}}}$ the transpose, and an activation applied "
                       f"to a matrix acts entry by entry. The error signal of layer $l$ is "
                       f"${generic(ctx, 'delta', 'l')} = {fraction('J', generic(ctx, 'z', 'l'))}$."))
    blocks.append(Items(tuple(_activation_line(ctx, name) for name in sorted(set(spec.activations)))))
    rows = [(ctx.math(network.inputs.symbol), f"${_shape(network.inputs.shape)}$", "inputs"),
            (ctx.math(network.targets.symbol), f"${_shape(network.targets.shape)}$", "targets")]
    for layer in range(1, L + 1):
        if layer < L:
            weights = network.weights(layer)
            note = " (first row: bias weights)" if spec.bias == "unit" and ctx.row else \
                " (first column: bias weights)" if spec.bias == "unit" else ""
            rows.append((ctx.math(weights.symbol), f"${_shape(weights.shape)}$",
                         f"weights from layer {layer} to layer {layer + 1}{note}"))
            if network.biases(layer) is not None:
                rows.append((ctx.math(network.biases(layer).symbol), f"${_shape(network.biases(layer).shape)}$",
                             f"biases of layer {layer + 1}"))
        if layer > 1:
            output = r", the output $\hat{Y}$" if layer == L else ""
            rows += [(ctx.math(network.pre_activation(layer).symbol), f"${_shape(network.pre_activation(layer).shape)}$",
                      f"pre-activations of layer {layer}"),
                     (ctx.math(network.activation(layer).symbol), f"${_shape(network.activation(layer).shape)}$",
                      f"activations of layer {layer}{output}"),
                     (ctx.math(network.delta(layer).symbol), f"${_shape(network.delta(layer).shape)}$",
                      f"error signal ${fraction('J', ctx.matrix(f'z{layer}'))}$")]
    blocks.append(Table(("symbol", "shape", "meaning"), tuple(rows), "llp{0.55\\textwidth}"))
    return Section("Notation and shapes", tuple(blocks))


def _shape(shape) -> str:
    return rf"{shape[0]} \times {shape[1]}"


def _activation_line(ctx: Context, name: str) -> str:
    entry, symbol = activation_entry(name), ctx.sym(name)
    if name == "f":
        return "$f$ is any differentiable activation and $f'$ its derivative: nothing more is assumed."
    if name == "softmax":
        return (r"$\operatorname{softmax}$ acts on each example's outputs together: "
                r"$\hat{y}_k = e^{z_k} / \sum_j e^{z_j}$, with "
                r"$\partial \hat{y}_j / \partial z_k = \hat{y}_j ([j = k] - \hat{y}_k)$.")
    value = sp.latex(entry.function(_T))
    if entry.kink:
        return rf"${symbol}(t) = {value}$ and ${symbol}'(t) = {entry.derivative_latex}$: {entry.kink}."
    derivative = ctx.tex(entry.derivative_from_output(entry.opaque(_T)))
    return rf"${symbol}(t) = {value}$, ${symbol}'(t) = {derivative}$."


def forward_section(ctx: Context) -> Section:
    spec, network, L = ctx.spec, ctx.derivation.network, ctx.L
    lines = []
    for layer in range(1, L):
        z = network.pre_activation(layer + 1).symbol
        lines.append(f"{ctx.tex(z)} &= {ctx.tex(pre_activation(ctx, layer))}")
        name = spec.activation(layer + 1)
        value = ctx.tex(apply_entrywise(activation_entry(name).opaque, z))
        left = ctx.tex(network.activation(layer + 1).symbol)
        lines.append((r"\hat{Y} = " if layer + 1 == L else "") + f"{left} &= {value}")
    blocks = [Equation(tuple(lines))]
    if spec.output_activation == "softmax":
        blocks.append(Text("The softmax is taken over each example's outputs (one "
                           f"{'row' if ctx.row else 'column'} at a time)."))
    index = "nk" if ctx.row else "kn"
    loss = cost_entry(spec.cost).latex.replace("y_k", f"y_{{{index}}}").replace(r"\hat{y}_k", rf"\hat{{y}}_{{{index}}}")
    front = "" if spec.reduction == "sum" else r"\frac{1}{m}"
    penalty = ""
    if spec.l2:
        over = r"\frac{\lambda}{2}" if spec.reduction == "sum" else r"\frac{\lambda}{2m}"
        penalty = rf" + {over} \sum_{{l}} \sum_{{i,j}} \left({generic(ctx, 'W', 'l')}_{{ij}}\right)^2"
    blocks.append(Text(f"The cost is the {cost_entry(spec.cost).title}, "
                       f"{'summed' if spec.reduction == 'sum' else 'averaged'} over the examples $n$"
                       + (" (the L2 term leaves the bias weights out):" if spec.l2 and spec.bias == "unit"
                          else ":")))
    blocks.append(Equation((rf"J = {front} \sum_{{n=0}}^{{m-1}} {loss}{penalty}",)))
    if cost_entry(spec.cost).remark:
        blocks.append(Text(cost_entry(spec.cost).remark))
    return Section("Forward pass and cost", tuple(blocks))


def bias_regularization_section(ctx: Context) -> Section | None:
    spec, blocks = ctx.spec, []
    bias_steps = [s for s in ctx.derivation.steps if s.kind == "bias_gradient"]
    for step in bias_steps:
        delta = ctx.matrix(f"delta{step.layer + 1}")
        bias = ctx.matrix(f"b{step.layer}")
        blocks.append(Text(f"${bias}_{{0}}$ enters every example's ${ctx.matrix(f'z{step.layer + 1}')}$ with "
                           f"coefficient 1, so its gradient sums ${delta}$ over the examples:"))
        position = step.entries[0][0]
        blocks.append(Equation((f"{fraction('J', entry_name(ctx, f'b{step.layer}', position))} &= "
                                f"{ctx.tex(step.entries[0][1])}",
                                f"{fraction('J', bias)} &= {ctx.tex(step.formula)}")))
    if spec.bias == "unit":
        # a single-layer net has no hidden layer, so there is no backward step that drops the row
        dropped = ("and the backward pass drops it (" + ctx.step(f"dJ_da{ctx.L - 1}").note + ")"
                   if ctx.L > 2 else "and with no hidden layer there is no backward pass to drop it from")
        blocks.append(Text("With Ng's bias unit the bias is the first "
                           f"{'row' if ctx.row else 'column'} of {'each' if ctx.L > 2 else 'the'} weight matrix, fed by the constant 1: "
                           f"its gradient is part of the weight gradient above, {dropped}."))
    for step in (s for s in ctx.derivation.steps if s.kind == "regularization_gradient"):
        weights = ctx.matrix(f"W{step.layer}")
        blocks.append(Text(f"The L2 term adds to ${fraction('J', weights)}$:"))
        blocks.append(Equation((f"{fraction('R', weights)} = {ctx.tex(step.formula)}",)))
        if step.rejected:
            blocks.append(Text("Rejected:"))
            blocks.append(Items(rejected_items(ctx, step)))
    if spec.l2:
        blocks.append(Text("So the full gradients are"))
        blocks.append(Equation(tuple(f"{fraction('J', ctx.matrix(name))} &= {ctx.tex(formula)}"
                                     for name, formula in ctx.derivation.gradients if name.startswith("W"))))
    if not blocks:
        return None
    return Section("Biases and regularization", tuple(blocks))


def update_section(ctx: Context) -> Section:
    eta = r"\eta"
    lines = tuple(f"{ctx.matrix(name)} &\\leftarrow {ctx.matrix(name)} - {eta} {fraction('J', ctx.matrix(name))}"
                  for name, _ in ctx.derivation.gradients)
    blocks = [Text(r"Gradient descent with learning rate $\eta > 0$ moves every parameter against its gradient:"),
              Equation(lines),
              Text("Seed 000 writes new $W$ = old $W$ + $\\eta\\, \\partial J / \\partial W$. With "
                   r"$G = \partial J / \partial W$, to first order $J(W + \eta G) = J(W) + \eta \lVert G \rVert^2 "
                   r"\geq J(W)$: the plus sign climbs the cost. The minus sign descends it.")]
    if ctx.L == 2 and ctx.spec.m == 1 and cost_entry(ctx.spec.cost).seed000:
        blocks += _delta_rule(ctx)
    return Section("Update rule", tuple(blocks))


def _delta_rule(ctx: Context) -> list:
    from derive.backward.single_layer import LEARNING_RATE, single_layer_rule

    rule = single_layer_rule(ctx.derivation, 1, 0) if ctx.spec.sizes[0] > 1 else \
        single_layer_rule(ctx.derivation, 0, 0)
    weight = ctx.tex(rule.weight)
    factors = sp.Mul.make_args(rule.update)
    sign = -1 if any(f.could_extract_minus_sign() and f.is_Number for f in factors) else 1
    rest = [f for f in factors if not f.is_Number and f != LEARNING_RATE]
    order = sorted(rest, key=lambda f: (not f.is_Add, not isinstance(f, sp.Function), str(f)))
    text = " ".join(ctx.tex(-f if (f.is_Add and sign < 0) else f) if not f.is_Add
                    else rf"\left({ctx.tex(-f if sign < 0 else f)}\right)" for f in order)
    g = ctx.f_of(2)
    return [Text("With no hidden layer, one example ($m = 1$) and the half sum of squared errors, one entry of "
                 f"$-\\eta\\, {fraction('J', ctx.matrix('W1'))}$ is the classic delta rule:"),
            Equation((rf"\Delta {weight} = -\eta {fraction('J', weight)} = \eta\, {text}",)),
            Text(f"In the usual letters (target $t_j$, output $y_j = {g}(h_j)$, $h_j = \\sum_i w_{{ji}} x_i$): "
                 r"$\Delta w_{ji} = \eta\, (t_j - y_j)\, " + g + r"'(h_j)\, x_i$. "
                 + ("Row form stores $w_{ji}$ as " + f"${ctx.matrix('W1')}_{{ij}}$." if ctx.row else ""))]


def core_text(text: str) -> str:
    """A sentence from the core's records as prose: 2^61 becomes math, the rest stays as written."""
    return re.sub(r"(\d+)\^(\d+)", r"$\1^{\2}$", text)


def verification_section(ctx: Context, numeric: NumericTable | None) -> Section:
    derivation = ctx.derivation
    blocks = [Text("Each formula above was compared with an independent route:")]
    blocks.append(Items(tuple(f"**{proof.strategy}**: {core_text(proof.description)}."
                              + (f" ({core_text(proof.caveat)})" if proof.caveat else "")
                              for proof in derivation.proofs)))
    by_quantity: dict[str, list] = {}
    for proof in derivation.proofs:
        for check in proof.checks:
            by_quantity.setdefault(check.quantity, []).append((proof.strategy, check))
    rows = []
    for quantity, checks in by_quantity.items():
        for index, (strategy, check) in enumerate(checks):
            result = "holds" if check.holds else f"fails: {core_text(check.failure)}"
            rows.append((_quantity(ctx, quantity) if index == 0 else "", core_text(check.compared_with),
                         str(check.entries), result, strategy))
    blocks.append(Table(("formula", "compared with", "entries", "result", "strategy"), tuple(rows),
                        "p{0.33\\textwidth}p{0.27\\textwidth}rll"))
    if numeric is not None:
        blocks.append(Text(f"Numerically, at {numeric.point}, the worst relative error of any entry, per "
                           "parameter and pair of routes (figures below the shown bound vary from machine to "
                           "machine and are printed as the bound):"))
        table_rows = tuple((ctx.math(sp.MatrixSymbol(name, 1, 1)),) + tuple(
            format_error(error, threshold) for error, threshold in zip(errors, numeric.thresholds))
            for name, errors in zip(numeric.rows, numeric.errors))
        blocks.append(Table(("parameter",) + numeric.columns, table_rows, "l" + "r" * len(numeric.columns)))
        ran_all = all(error is not None for row in numeric.errors for error in row)
        agree = "All three routes agree." if ran_all else "The routes that ran agree."
        blocks.append(Text(agree if numeric.agree else "The routes DISAGREE: see the table."))
    return Section("Verification", tuple(blocks))


def _quantity(ctx: Context, quantity: str) -> str:
    """The formula a proof check is about, as math: delta2 -> its formula, dJ/dW1 -> the gradient."""
    if quantity.startswith("dJ/d"):
        name = quantity[4:]
        formula = dict(ctx.derivation.gradients).get(name)
        if formula is not None:
            return f"${fraction('J', ctx.matrix(name))} = {ctx.tex(formula)}$"
    if ctx.has_step(quantity):
        return f"${ctx.matrix(quantity)} = {ctx.tex(ctx.step(quantity).formula)}$"
    return f"`{quantity}`"


def reference_section(ctx: Context, reference: Reference) -> Section:
    functions = dict(reference.functions)
    blocks = [Text("The hand-written NumPy backpropagation in `checks/handwritten/network.py` (NumPy only, independent of "
                   "the derivation), specialized to this network and rendered with latexify-py. latexify prints "
                   f"`@` and `*` alike and `.T` literally, so `*` is shown as ${ctx.notation.hadamard_symbol}$, "
                   f"`@` as a product and `.T` as ${{}}^{{{ctx.notation.transpose_symbol}}}$. Each function works on one "
                   f"layer $l$, so its `W` is ${generic(ctx, 'W', 'l')}$ and its `delta_next` is "
                   f"${generic(ctx, 'delta', 'l+1')}$.")]
    pairs = [("pre_activation", "forward pass", f"{ctx.matrix('z2')} = {ctx.tex(pre_activation(ctx, 1))}")]
    if ctx.L > 2:
        step = ctx.step(f"delta{ctx.L - 1}")
        pairs.append(("hidden_delta", "hidden delta", f"{ctx.matrix(step.name)} = {ctx.tex(step.formula)}"))
    pairs.append(("weight_gradient", "weight gradient",
                  f"{fraction('J', ctx.matrix('W1'))} = {ctx.tex(ctx.step('dJ_dW1').formula)}"))
    if ctx.has_step("dJ_db1"):
        pairs.append(("bias_gradient", "bias gradient",
                      f"{fraction('J', ctx.matrix('b1'))} = {ctx.tex(ctx.step('dJ_db1').formula)}"))
    for name, title, derived in pairs:
        if name in functions:
            blocks.append(Text(f"{title.capitalize()}, derived and hand-written:"))
            blocks.append(Equation((rf"\text{{derived:}} \quad & {derived}",
                                    rf"\text{{NumPy:}} \quad & {functions[name]}")))
    return Section("The hand-written NumPy reference", tuple(blocks))
