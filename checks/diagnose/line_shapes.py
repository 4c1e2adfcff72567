"""The shapes on the line of a person's code that raised, read from the frame's locals: nothing of the
line is run, only shapes are combined (names, .T, constant slices, @ and np.dot, broadcasting operators)."""

# A shape error names no variable: NumPy says "operands could not be broadcast together with shapes
# (6,3) (5,3)" or "matmul: ... mismatch in its core dimension". The line is parsed with ast, each
# operand's shape is worked out from the shapes of the arrays its names hold, and the pair that failed
# is the one whose shapes NumPy reported (or whose inner dimensions differ). Attributes are read with
# inspect.getattr_static, so no property of the user's runs either.

from __future__ import annotations

import ast
import inspect
import linecache
import re
from dataclasses import dataclass

import numpy as np

Shape = tuple[int, ...]

_BROADCASTING = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod)
_SHAPE = re.compile(r"\((\d+(?:,\d+)*),?\)")


@dataclass(frozen=True)
class FailingPair:
    """The two operands whose shapes did not fit: a product's (`@`) or a broadcast's (`*`, `+=`, ...)."""

    left: ast.expr
    left_shape: Shape
    right: ast.expr
    right_shape: Shape
    operator: str  # "@" or "broadcast"


def raising_frame(error: BaseException, filename: str | None):
    """The innermost traceback entry in `filename` (any file when None), or None."""
    tb, found = error.__traceback__, None
    while tb is not None:
        if filename is None or tb.tb_frame.f_code.co_filename == filename:
            found = tb
        tb = tb.tb_next
    return found


def raising_line(error: BaseException, filename: str | None) -> tuple[ast.Module, dict] | None:
    """The raising line of `filename` parsed (never run) and its frame's locals; None when the error
    is no ValueError, no frame is in the file, or the line does not parse alone."""
    if not isinstance(error, ValueError):
        return None
    entry = raising_frame(error, filename)
    if entry is None:
        return None
    line = linecache.getline(entry.tb_frame.f_code.co_filename, entry.tb_lineno).strip()
    try:
        tree = ast.parse(line.removesuffix(":"), mode="exec")
    except SyntaxError:  # one line of a statement over several: nothing is guessed
        return None
    return tree, dict(entry.tb_frame.f_locals)


def failing_pair(error: BaseException, filename: str | None) -> tuple[FailingPair, dict] | None:
    """The operands of the raising line whose shapes did not fit, and the frame's locals; None when
    the error is no shape error, the line does not parse alone, or no pair's shapes can be told."""
    read = raising_line(error, filename)
    if read is None:
        return None
    tree, local = read
    message = str(error)
    if "broadcast" in message:
        pair = _broadcast_pair(tree, local, reported_shapes(message))
    else:
        pair = _product_pair(tree, local)
    return None if pair is None else (pair, local)


def reported_shapes(message: str) -> list[Shape]:
    """The operands' shapes in NumPy's broadcast error: "with shapes (6,3) (5,3) (6,3)", or
    "with remapped shapes [original->remapped]: (6,3)->(6,3) (5,3)->(5,3)" (the originals)."""
    listed = message.split("shapes", 1)[-1].split()
    originals = " ".join(part.split("->")[0] for part in listed)
    return [tuple(int(n) for n in group.split(",")) for group in _SHAPE.findall(originals)]


def expression_shape(node: ast.AST, local: dict) -> Shape | None:
    """The shape the expression has in the frame, or None when it cannot be told without running it."""
    if isinstance(node, ast.Name):
        return _value_shape(local.get(node.id))
    if isinstance(node, ast.Constant):
        return () if isinstance(node.value, (int, float)) and not isinstance(node.value, bool) else None
    if isinstance(node, ast.Attribute):
        if node.attr == "T":
            inner = expression_shape(node.value, local)
            return None if inner is None else inner[::-1]
        if isinstance(node.value, ast.Name) and node.value.id in local:  # self.W1
            return _value_shape(inspect.getattr_static(local[node.value.id], node.attr, None))
        return None
    if isinstance(node, ast.Subscript):
        base, index = expression_shape(node.value, local), constant_index(node.slice)
        if base is None or index is None:
            return None
        try:  # a view of nothing: broadcast_to allocates no array of that size
            return np.broadcast_to(np.zeros((), dtype=bool), base)[index].shape
        except (IndexError, TypeError, ValueError):
            return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return expression_shape(node.operand, local)
    if isinstance(node, ast.BinOp):
        left, right = expression_shape(node.left, local), expression_shape(node.right, local)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.MatMult):
            return product_shape(left, right)
        if isinstance(node.op, _BROADCASTING):
            try:
                return tuple(np.broadcast_shapes(left, right))
            except ValueError:
                return None
        return None
    factors = _dot_factors(node)
    if factors is not None:
        left, right = (expression_shape(f, local) for f in factors)
        return None if left is None or right is None else product_shape(left, right)
    return None


def product_shape(left: Shape, right: Shape) -> Shape | None:
    """The shape of left @ right for matrices, None when they do not multiply (or are not 2-D)."""
    if len(left) != 2 or len(right) != 2 or left[1] != right[0]:
        return None
    return (left[0], right[1])


def constant_index(node: ast.AST):
    """An index of constant integers and slices ([1:], [:, 1:], [0], [:-1]), else None."""
    if isinstance(node, ast.Tuple):
        parts = [constant_index(element) for element in node.elts]
        return None if any(part is None for part in parts) else tuple(parts)
    if isinstance(node, ast.Slice):
        bounds = [None if b is None else _integer(b) for b in (node.lower, node.upper, node.step)]
        given = [b for b in (node.lower, node.upper, node.step) if b is not None]
        return None if len([b for b in bounds if b is not None]) != len(given) else slice(*bounds)
    return _integer(node)


def base_name(node: ast.AST) -> ast.Name | None:
    """The name an expression of slices and transposes reads: Theta2 in Theta2[1:].T."""
    while isinstance(node, (ast.Subscript, ast.Attribute)) and not (
            isinstance(node, ast.Attribute) and node.attr != "T"):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def is_product(node: ast.AST) -> bool:
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)) or _dot_factors(node) is not None


def factors_of(node: ast.AST) -> tuple[ast.expr, ast.expr]:
    """The two factors of a product (a @ b, np.dot(a, b), a.dot(b))."""
    if isinstance(node, ast.BinOp):
        return node.left, node.right
    return _dot_factors(node)


def _integer(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _integer(node.operand)
        return None if inner is None else -inner
    return None


def _value_shape(value) -> Shape | None:
    if isinstance(value, np.ndarray):
        return tuple(value.shape)
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return ()
    return None


def _dot_factors(node: ast.AST) -> tuple[ast.expr, ast.expr] | None:
    """np.dot(a, b) or dot(a, b): (a, b); a.dot(b): (a, b); else None."""
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
    if name not in ("dot", "matmul"):
        return None
    if len(node.args) == 2:
        return node.args[0], node.args[1]
    if len(node.args) == 1 and isinstance(node.func, ast.Attribute) and name == "dot" and not (
            isinstance(node.func.value, ast.Name) and node.func.value.id in ("np", "numpy")):
        return node.func.value, node.args[0]
    return None


def _product_pair(tree: ast.AST, local: dict) -> FailingPair | None:
    for node in ast.walk(tree):
        if not is_product(node):
            continue
        left_node, right_node = factors_of(node)
        left, right = expression_shape(left_node, local), expression_shape(right_node, local)
        if left is not None and right is not None and len(left) == 2 and len(right) == 2 and left[1] != right[0]:
            return FailingPair(left_node, left, right_node, right, "@")
    return None


def _broadcast_pair(tree: ast.AST, local: dict, reported: list[Shape]) -> FailingPair | None:
    """The operator whose operands have the two shapes NumPy reported (one may be unknown here: a call)."""
    if len(reported) < 2:
        return None
    first, second = reported[0], reported[1]
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BROADCASTING):
            left_node, right_node = node.left, node.right
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, _BROADCASTING):
            left_node, right_node = node.target, node.value
        else:
            continue
        left, right = expression_shape(left_node, local), expression_shape(right_node, local)
        if (left, right) == (None, None) or left not in (None, first) or right not in (None, second):
            continue
        return FailingPair(left_node, first, right_node, second, "broadcast")
    return None
