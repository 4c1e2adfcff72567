"""The write-up of a net with norms: its layers, each backward step with the derivation it came from,
the proof of the chained result, and the numbers."""

from __future__ import annotations

from derive.normalization.network import NetPieces, pieces_of
from derive.normalization.network_proof import NetworkProof
from derive.program.norm_net import NetActivation, NetDense, NormNet
from derive.writeup.document import Document, Equation, Items, Section, Table, Text, fraction


def _H(k: int) -> str:
    return f"H^{{({k})}}"


def _delta(k: int) -> str:
    return rf"\Delta^{{({k})}}"


def forward_section(net: NormNet) -> Section:
    lines, notes = [], []
    for k, layer in enumerate(net.layers, start=1):
        source, target = _H(k - 1), _H(k)
        if isinstance(layer, NetDense):
            lines.append(rf"{target} &= {source} W^{{({layer.index})}} + \mathbf{{1}} b^{{({layer.index})}}")
        elif isinstance(layer, NetActivation):
            if layer.activation == "softmax":
                lines.append(rf"{target} &= \operatorname{{softmax}}({source}) \text{{ per example}}")
            else:
                lines.append(rf"{target} &= {layer.latex_name}({source})")
        else:
            equation, statistic = layer.latex(source, target)
            lines.append(equation.replace(" = ", " &= ", 1))
            notes.append(f"layer {k} ({layer.name}): $\\mu$ and $\\sigma^2$ of {statistic}")
    intro = Text(f"$H^{{(0)}} = X$ holds $N = {net.examples}$ examples in rows, $D = {net.inputs}$ features. "
                 f"The cost is {net.cost.replace('_', ' ')} ({net.reduction} over the examples) of "
                 f"$\\hat Y = {_H(len(net.layers))}$ against the targets $Y$.")
    return Section("The network", (intro, Equation(tuple(lines))) + ((Items(tuple(notes)),) if notes else ()))


def step_blocks(net: NormNet, pieces: NetPieces) -> list:
    """Each step of the delta recursion, top down: its equation and the derivation it was read from."""
    last = len(net.layers) - 1
    blocks = [Text(rf"Write $\Delta^{{(k)}} = {fraction('J', 'H^{(k)}')}$. The output step gives "
                   rf"$\Delta^{{({last})}}$, the gradient at the input of the output activation."),
              Equation((rf"{_delta(last)} = " + pieces.output_delta.latex(
                  {"output": f"H{last + 1}", "targets": "y", "input": f"H{last}"}),)),
              Text(f"Source: {pieces.output_delta.source}" + (f"; it {pieces.condition}." if pieces.condition else "."))]
    for position in range(last - 1, -1, -1):
        layer, above, k = net.layers[position], f"Delta{position + 1}", position + 1
        if isinstance(layer, NetDense):
            names = {"delta": above, "W": f"W{layer.index}", "input": f"H{position}"}
            equations = [rf"{fraction('J', f'W^{{({layer.index})}}')} &= {pieces.dense_weight.latex(names)}",
                         rf"{fraction('J', f'b^{{({layer.index})}}')} &= {pieces.dense_bias.latex(names)}"]
            if position > 0:
                equations.append(rf"{_delta(position)} &= {pieces.dense_input.latex(names)}")
            blocks += [Text(f"Layer {k}, dense:"), Equation(tuple(equations)),
                       Text(f"Source: {_donor(pieces.dense_weight.source)}, its {_step(pieces.dense_weight.source)}, "
                            f"{_step(pieces.dense_bias.source)} and {_step(pieces.dense_input.source)} (found by its "
                            "matrix-form search).")]
        elif isinstance(layer, NetActivation):
            piece = pieces.activations[layer.activation]
            blocks += [Text(f"Layer {k}, {layer.activation}:"),
                       Equation((rf"{_delta(position)} = {piece.latex({'upstream': above, 'input': f'H{position}'})}",)),
                       Text(f"Source: {piece.source}.")]
        else:
            gradients = pieces.norms[layer.name]
            gamma, beta = fraction("J", rf"\gamma^{{({layer.index})}}"), fraction("J", rf"\beta^{{({layer.index})}}")
            i = layer.index
            blocks += [Text(f"Layer {k}, {layer.name}, with $G = {_delta(k)}$, $\\hat X$ the normalised "
                            f"$H^{{({position})}}$ and $\\gamma = \\gamma^{{({i})}}$ (broadcast as in the layer's own write-up):"),
                       Equation((f"{gamma} &= {gradients.dgamma.latex()}",
                                 f"{beta} &= {gradients.dbeta.latex()}",
                                 rf"{_delta(position)} &= {gradients.dX.latex()}")),
                       Text(f"Source: derive_normalization({gradients.layer.kind!r}, unbiased={gradients.layer.unbiased}), "
                            "found by index calculus from the layer's forward pass (`backprop derive --layer "
                            f"{layer.name}` writes its derivation and proofs).")]
    return blocks


def _donor(source: str) -> str:
    return source.split(": ", 1)[0]


def _step(source: str) -> str:
    return source.split(": ", 1)[1]


def build_network_document(net: NormNet, proof: NetworkProof, numeric: Table, agree: bool) -> Document:
    pieces = pieces_of(net)
    recursion = Section("The delta recursion through the norm", tuple(step_blocks(net, pieces)))
    proof_section = Section("Proof", (
        Text("Every step above is a rule read from a derivation, not typed. That the chain of them is the "
             "gradient of this network is proved entrywise: every input, weight, $\\gamma$, $\\beta$ and target "
             "a symbol, each activation an undefined function, $\\epsilon$ a positive symbol; for every "
             "parameter entry the chained result minus SymPy's diff of the whole cost cancels to 0."),
        Items((proof.text(),)),
    ))
    numbers = Section("Numbers", (
        Text("The chained rules in float64, a hand-written NumPy forward and backward "
             "(`checks/handwritten/norm_network.py`) and five-point finite differences of its cost; worst "
             "error per parameter relative to the largest gradient entry. "
             + ("The three routes agree." if agree else "The routes DISAGREE.")),
        numeric))
    summary = (f"The backward pass of `{net.text.text}` ({net.inputs} inputs, {net.examples} examples), chained "
               "from derived pieces through the norm, proved against SymPy's diff and checked by three routes.")
    return Document(f"Backpropagation through {net.text.text}", summary,
                    (forward_section(net), recursion, proof_section, numbers))
