"""Why a product in a user's backprop did not multiply: the operands' shapes and the transpose it needs."""

from __future__ import annotations

import ast

import numpy as np

from checks.diagnose.line_shapes import raising_line


def shape_reasoning(error: BaseException, filename: str | None) -> str:
    """For a product whose shapes do not multiply, on the line of the user's code that raised: the
    operands' shapes, and which transpose (or order) would make it multiply.

    The line is parsed with ast (line_shapes.raising_line) and only names, attributes and .T are
    looked up in the frame's locals: nothing of the user's text is run.
    """
    read = raising_line(error, filename)
    if read is None:
        return ""
    tree, local = read
    for node in ast.walk(tree):
        pair = None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            pair = (node.left, node.right)
        elif isinstance(node, ast.Call) and len(node.args) == 2 and \
                (getattr(node.func, "attr", None) == "dot" or getattr(node.func, "id", None) == "dot"):
            pair = (node.args[0], node.args[1])
        if pair is None:
            continue
        left, right = (_operand(n, local) for n in pair)
        if left is None or right is None or left.ndim != 2 or right.ndim != 2 or left.shape[1] == right.shape[0]:
            continue
        a, b = ast.unparse(pair[0]), ast.unparse(pair[1])
        shapes = f"{a} {_shape(left)} times {b} {_shape(right)} do not multiply"
        if left.shape[1] == right.shape[1]:
            return f"; {shapes}: {b} {_shape(right)} needs its transpose here ({a} @ {b}.T)"
        if left.shape[0] == right.shape[0]:
            return f"; {shapes}: {a} {_shape(left)} needs its transpose here ({a}.T @ {b})"
        if right.shape[1] == left.shape[0]:
            return f"; {shapes}: the product order is swapped ({b} @ {a})"
        return f"; {shapes}"
    return ""


def _operand(node, local) -> np.ndarray | None:
    """The array a name, self.name or X.T denotes in the frame, else None (nothing is evaluated)."""
    if isinstance(node, ast.Name):
        value = local.get(node.id)
    elif isinstance(node, ast.Attribute) and node.attr == "T":
        inner = _operand(node.value, local)
        return None if inner is None else inner.T
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in local:
        value = getattr(local[node.value.id], node.attr, None)
    else:
        return None
    return value if isinstance(value, np.ndarray) else None


def _shape(array: np.ndarray) -> str:
    return "x".join(map(str, array.shape)).join("()")
