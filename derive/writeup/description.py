"""One sentence saying which network a spec describes: the title block, the CLI summary, the notebook."""

from __future__ import annotations

from derive.network.costs import cost as cost_entry
from derive.network.spec import XOR_SPEC, NetworkSpec


def describe(spec: NetworkSpec) -> str:
    """One sentence saying which network this is, for the title block and the CLI summary."""
    hidden = sorted(set(spec.activations[:-1]))
    units = f"{' and '.join(hidden)} hidden units, {spec.output_activation} output" if hidden \
        else f"{spec.output_activation} output, no hidden layer"
    bias = {"none": "no biases", "vector": "bias vectors", "unit": "Ng's bias unit"}[spec.bias]
    reduction = "summed" if spec.reduction == "sum" else "averaged"
    l2 = ", L2 regularization" if spec.l2 else ""
    seed = " (seed 000's XOR net)" if spec == XOR_SPEC else ""
    return (f"The {spec.slug} network{seed}: {units}, {cost_entry(spec.cost).title} {reduction} over "
            f"m = {spec.m} examples, {spec.convention} form, {bias}{l2}.")
