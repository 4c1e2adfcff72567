"""A circuit run and its checks as JSON data, every float at full precision (`backprop graph --json`)."""

# Floats go into the JSON as Python floats, so json.dumps writes their repr: the shortest text
# that reads back to the same float64, i.e. full precision. JSON has no inf or NaN; those are
# written as the strings "inf", "-inf", "nan". Nothing depends on time or dict order beyond the
# circuit's own topological order, so the same expression and point give the same bytes.

from __future__ import annotations

import math

from derive.circuits.circuit import GATES, CircuitRun
from derive.circuits.check import CircuitCheck
from derive.circuits.render import node_name


def _number(value: float | None):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else str(value)


def circuit_json(run: CircuitRun, check: CircuitCheck) -> dict:
    """The forward pass, the backward pass and the checks of a run, as one JSON-ready object.

    Nodes are listed in topological order and named as in the tables (an input by its name, a
    constant by its text, a gate n<index>); "index" tells apart two constants written alike.

    >>> from derive.circuits.circuit import build_circuit, run_circuit
    >>> from derive.circuits.check import check_gradients
    >>> r = run_circuit(build_circuit("x * y"), {"x": 3, "y": -2})
    >>> circuit_json(r, check_gradients(r))["gradients"][0]["backprop"]
    -2.0
    """
    circuit = run.circuit
    nodes = circuit.nodes

    def ref(index: int) -> dict:
        return {"index": index, "name": node_name(nodes[index])}

    forward = [{"index": node.index, "name": node_name(node),
                "gate": {"input": "input", "const": "constant"}.get(node.gate, node.gate),
                "label": node.label, "computes": node.text,
                "inputs": [ref(i) for i in node.inputs], "value": _number(run.values[node.index]),
                **({"local_rule": GATES[node.gate].local_text} if node.is_gate else {})}
               for node in nodes]
    backward = []
    for step in run.steps:
        node = nodes[step.node]
        backward.append({
            "index": step.node, "name": node_name(node), "upstream": _number(step.upstream),
            "contributions": [{**ref(consumer), "gradient": _number(g)} for consumer, g in step.contributions],
            "local": [{**ref(i), "gradient": _number(g)} for i, g in zip(node.inputs, step.local)],
            "downstream": [{**ref(i), "gradient": _number(g)} for i, g in zip(node.inputs, step.downstream)]})
    return {
        "expression": circuit.source, "split_sigmoid": circuit.split_sigmoid,
        "point": {name: _number(value) for name, value in run.point},
        "output": {"name": "L", "value": _number(check.output), "sympy": _number(check.output_sympy),
                   "agree": check.output_agrees},
        "nodes": forward, "backward": backward,
        "gradients": [{"name": g.name, "backprop": _number(g.backprop), "sympy_diff": _number(g.sympy_diff),
                       "finite_difference": _number(g.finite_difference), "status": g.status, "note": g.note}
                      for g in check.gradients],
        "kinks": [ref(i) for i in run.kinks], "passed": check.passed}
