"""A safe formula parser: Python's `ast` with a whitelist of node types, mapped to SymPy.

The user's text is only ever handed to `ast.parse`, which builds a syntax tree and runs nothing.
Every tree node is then checked against a whitelist and turned into a `FormulaNode`, a small
frozen tree that keeps the formula as written (`x - y` stays a subtraction, `x + x` keeps both
uses), which the circuit view needs and SymPy's canonical form would lose. `to_sympy` maps that
tree onto SymPy constructors from tables the caller chooses, so the same parser serves scalar
expressions (issue 5) and NumPy-like matrix formulas such as `delta3 @ W2.T * fp(z2)` (issue 6).
"""

from __future__ import annotations

import ast
import inspect
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

import sympy as sp

from derive.network.activations import ACTIVATION_TABLE

# Size limits: a formula a person types is a line or two; these keep a hostile one from making
# SymPy or the parser do unbounded work. Python's own parser refuses nesting past 200 levels.
MAX_LENGTH = 500
MAX_NODES = 300
# Levels of nesting SymPy cannot flatten (calls, powers, a product inside a sum, ...): its diff
# recurses about 30 Python frames per nested sigmoid and, under a test runner, ran out of the
# 1000-frame limit at 32 nested sigmoids; 20 works with 250 frames to spare. A chain a + b - c
# counts once.
MAX_DEPTH = 20
# |n| in `base ** n` when n is a constant: far above any exponent a network formula uses, and far
# below what makes an exact power or a symbolic expansion slow.
MAX_EXPONENT = 100
# The largest constant, in bits, that folding constants may produce (2**1024 already overflows a
# float; 4096 bits is about 1233 decimal digits and still instant to compute).
MAX_CONSTANT_BITS = 4096


class FormulaError(ValueError):
    """A formula the parser refuses; the message says what was wrong and what is accepted."""


class BuildError(FormulaError):
    """A constructor refused its operands (e.g. shapes that do not fit); `node` is where."""

    def __init__(self, message: str, node: "FormulaNode", reason: Exception):
        super().__init__(message)
        self.node = node
        self.reason = reason


@dataclass(frozen=True)
class FormulaNode:
    """One node of a parsed formula, as written.

    Args:
        kind: "number", "name", "operator" or "call".
        head: the number's text, the name, the operator ("add", "sub", "mul", "div", "pow",
            "neg", "matmul", "transpose") or the function's name.
        args: the operands or call arguments, left to right.
        value: the exact value of a number.
        text: the source of this sub-formula, re-printed by `ast.unparse`.
    """

    kind: str
    head: str
    args: tuple["FormulaNode", ...] = ()
    value: Fraction | None = None
    text: str = ""

    def names(self) -> tuple[str, ...]:
        """The names used, in order of first appearance."""
        found: dict[str, None] = {}
        for node in self.walk():
            if node.kind == "name":
                found.setdefault(node.head, None)
        return tuple(found)

    def walk(self) -> Iterable["FormulaNode"]:
        """This node and every node below it, operands before the node that uses them."""
        for arg in self.args:
            yield from arg.walk()
        yield self


def _written_out(function: Callable[[sp.Expr], sp.Expr]) -> Callable[[sp.Expr], sp.Expr]:
    return lambda a: function(a)  # one argument, as the signature states


# name -> SymPy constructor. Each is a plain function so that its signature states the arity.
# The activations are the activation table's formulas, written out (sigmoid with exp) so that
# SymPy differentiates them itself: an oracle that does not know sigma' = sigma (1 - sigma)
# cannot share a mistake in it.
SCALAR_FUNCTIONS: Mapping[str, Callable[..., sp.Expr]] = MappingProxyType({
    "exp": lambda a: sp.exp(a),
    "log": lambda a: sp.log(a),
    "sin": lambda a: sp.sin(a),
    "cos": lambda a: sp.cos(a),
    **{name: _written_out(entry.function) for name, entry in ACTIVATION_TABLE.items()
       if entry.function is not None},
    "abs": lambda a: sp.Abs(a),
    "max": lambda first, second, *rest: sp.Max(first, second, *rest),
})

# operator -> SymPy constructor; "*" is the ordinary product here. A NumPy-like matrix grammar
# swaps in MATRIX_OPERATORS, where "*" is the entrywise (Hadamard) product, as it is in NumPy.
SCALAR_OPERATORS: Mapping[str, Callable[..., sp.Expr]] = MappingProxyType({
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "neg": lambda a: -a,
    "matmul": lambda a, b: a @ b,
    "transpose": lambda a: a.T,
})
MATRIX_OPERATORS: Mapping[str, Callable[..., sp.Expr]] = MappingProxyType({
    **SCALAR_OPERATORS,
    "mul": lambda a, b: sp.hadamard_product(a, b),
})

_BINARY = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
           ast.MatMult: "matmul"}
_OPERATOR_SIGNS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
                   ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<",
                   ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
                   ast.Invert: "~", ast.Not: "not"}
# What each refused construct is called in a message.
_REFUSED = {
    ast.Attribute: "attribute access (.name)", ast.Subscript: "subscripts (a[i])",
    ast.Lambda: "lambda expressions", ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.Compare: "comparisons", ast.BoolOp: "and/or",
    ast.IfExp: "conditional expressions (a if c else b)", ast.Starred: "starred arguments (*a)",
    ast.NamedExpr: "assignment expressions (:=)", ast.JoinedStr: "f-strings",
    ast.List: "lists", ast.Tuple: "tuples", ast.Set: "sets", ast.Dict: "dicts",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "slices",
}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

# NumPy's spellings, each read as the operator or function it names (Grammar.numpy).
# np.NAME(args) -> (node kind, head, number of arguments)
NUMPY_CALLS: Mapping[str, tuple[str, str, int]] = MappingProxyType({
    "dot": ("operator", "matmul", 2), "matmul": ("operator", "matmul", 2),
    "multiply": ("operator", "mul", 2), "divide": ("operator", "div", 2),
    "true_divide": ("operator", "div", 2), "add": ("operator", "add", 2),
    "subtract": ("operator", "sub", 2), "power": ("operator", "pow", 2),
    "negative": ("operator", "neg", 1), "transpose": ("operator", "transpose", 1),
    "exp": ("call", "exp", 1), "log": ("call", "log", 1), "tanh": ("call", "tanh", 1),
})
# a.NAME(args) -> (head, number of arguments besides a)
NUMPY_METHODS: Mapping[str, tuple[str, int]] = MappingProxyType({
    "dot": ("matmul", 1), "transpose": ("transpose", 0),
})
_NUMPY_MODULES = frozenset({"np", "numpy"})
# np.sum's axis and keepdims -> the operator: a sum over axis 0 gives one row, with keepdims or
# without (a 1-D result broadcasts as a row); over axis 1 a column with keepdims, and without it
# a 1-D array of the row sums, which NumPy then broadcasts as a row, as it would here.
SUM_HEADS: Mapping[tuple[int | None, bool], str] = MappingProxyType({
    (None, False): "sum_all", (None, True): "sum_all",
    (0, False): "sum_axis0", (0, True): "sum_axis0", (-2, False): "sum_axis0", (-2, True): "sum_axis0",
    (1, True): "sum_axis1", (-1, True): "sum_axis1", (1, False): "sum_axis1_flat",
    (-1, False): "sum_axis1_flat",
})


@dataclass(frozen=True)
class Grammar:
    """What a formula may contain.

    Args:
        names: the names accepted, or None to accept any plain name (letters, digits and "_",
            starting with a letter) that is not a function's name.
        functions: function name -> constructor; its signature decides how many arguments a
            call may pass.
        matmul: whether `a @ b` is accepted.
        transpose: whether `a.T` is accepted (the only attribute ever accepted).
        max_length: the longest text accepted, in characters.
        max_nodes: the most syntax-tree nodes accepted.
        max_depth: the deepest nesting accepted (see MAX_DEPTH).
        numpy: whether NumPy's spellings are accepted too (NUMPY_CALLS, NUMPY_METHODS, slices
            `W2[:, 1:]` and `hstack([a, b])`), each read as the operator it names.
    """

    names: frozenset[str] | None = None
    functions: Mapping[str, Callable[..., sp.Expr]] = field(
        default_factory=lambda: SCALAR_FUNCTIONS)
    matmul: bool = False
    transpose: bool = False
    max_length: int = MAX_LENGTH
    max_nodes: int = MAX_NODES
    max_depth: int = MAX_DEPTH
    numpy: bool = False

    def accepted(self) -> str:
        """One line saying what this grammar accepts, for error messages."""
        operators = "+ - * / **" + (" @" if self.matmul else "") + (" .T" if self.transpose else "")
        names = "any name" if self.names is None else "names " + ", ".join(sorted(self.names))
        numpy = ("; NumPy's np.dot, np.matmul, np.multiply, np.divide, np.add, np.subtract, "
                 "np.transpose, np.sum(..., axis=, keepdims=), np.exp, np.log, np.tanh, np.ones, "
                 "hstack/vstack, .dot(), .transpose(), .sum(), slices W[:, 1:]") if self.numpy else ""
        return (f"accepted: numbers, {names}, {operators}, unary -, parentheses and calls to "
                f"{', '.join(self.functions)}{numpy}")


def parse_tree(text: str, grammar: Grammar = Grammar()) -> FormulaNode:
    """Parses `text` into a checked FormulaNode tree without running any of it.

    Args:
        text: the formula, e.g. "(x + y) * z".
        grammar: what the formula may contain.

    Returns:
        The formula as written.

    Raises:
        FormulaError: the text is too long or too big, is not an expression, or uses anything
            outside the grammar.

    >>> parse_tree("(x + y) * z").head
    'mul'
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > grammar.max_length:
        raise FormulaError(
            f"the formula is {len(text)} characters long; the limit is {grammar.max_length}")
    if not text.strip():
        raise FormulaError(f"the formula is empty; {grammar.accepted()}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"not a valid expression ({error.msg}); {grammar.accepted()}") from None
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, deep nesting
        raise FormulaError(f"not a valid expression ({error}); {grammar.accepted()}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > grammar.max_nodes:
        raise FormulaError(
            f"the formula has {count} syntax nodes; the limit is {grammar.max_nodes}")
    depth = _nesting(tree.body)
    if depth > grammar.max_depth:
        raise FormulaError(
            f"the formula nests {depth} levels deep; the limit is {grammar.max_depth}")
    node = _Converter(grammar).convert(tree.body)
    _check_constants(node)
    return node


# How tightly each operator binds when a tree is printed back as NumPy text (node_source).
_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "matmul": 2, "product": 2, "neg": 3, "pow": 4}
# "product" is LaTeX's juxtaposition, resolved by shapes when built: printed as a space
_SIGNS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@", "pow": "**", "product": "·"}
_SUM_TEXT = {"sum_all": "", "sum_axis0": ", axis=0, keepdims=True", "sum_axis1": ", axis=1, keepdims=True",
             "sum_axis1_flat": ", axis=1"}


def node_source(node: FormulaNode) -> str:
    """A tree printed as NumPy text that parse_tree reads back as the same tree.

    >>> node_source(parse_tree("a @ (b.T * c)", Grammar(matmul=True, transpose=True)))
    'a @ (b.T * c)'
    """
    def wrapped(child: FormulaNode, tighter_than: int) -> str:
        text = node_source(child)
        return f"({text})" if _PRECEDENCE.get(child.head if child.kind == "operator" else "", 9) <= tighter_than \
            else text

    if node.kind in ("number", "name"):
        return node.head if node.kind == "name" else (node.text or str(node.value))
    if node.kind == "call":
        return f"{node.head}({', '.join(node_source(a) for a in node.args)})"
    head, args = node.head, node.args
    if head in _SIGNS:
        level = _PRECEDENCE[head]
        if head == "pow":
            return f"{wrapped(args[0], level)} ** {wrapped(args[1], level - 1)}"
        return f"{wrapped(args[0], level - 1)} {_SIGNS[head]} {wrapped(args[1], level)}"
    if head == "neg":
        return "-" + wrapped(args[0], 3)
    if head in ("ones_block", "zeros_block"):
        return head.split("_")[0] + "(...)"
    if head == "transpose":
        return wrapped(args[0], 8) + ".T"
    if head in _SUM_TEXT:
        return f"np.sum({node_source(args[0])}{_SUM_TEXT[head]})"
    if head in ("hstack", "vstack"):
        return f"np.{head}([{', '.join(node_source(a) for a in args)}])"
    if head == "slice":
        bound = lambda b: "" if b.kind == "empty" else node_source(b)
        return f"{wrapped(args[0], 8)}[{bound(args[1])}:{bound(args[2])}, {bound(args[3])}:{bound(args[4])}]"
    raise FormulaError(f"cannot print the operator {head!r}")


# Operators of one family chain at one level when a tree is measured (as _FAMILY does for ast).
_NODE_FAMILY = {"add": "sum", "sub": "sum", "mul": "product", "div": "product"}


def check_limits(root: FormulaNode, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> None:
    """Applies parse_tree's limits to a tree built another way (from LaTeX): its size, its
    nesting, its exponents and constant divisions by zero.

    Raises:
        FormulaError: past a limit.
    """
    count = sum(1 for _ in root.walk())
    if count > max_nodes:
        raise FormulaError(f"the formula has {count} nodes; the limit is {max_nodes}")

    def depth(node: FormulaNode) -> int:
        family = _NODE_FAMILY.get(node.head) if node.kind == "operator" else None
        return max((depth(arg) + (0 if family and _NODE_FAMILY.get(arg.head) == family and arg.kind == "operator"
                                  else 1) for arg in node.args), default=0)

    levels = depth(root)
    if levels > max_depth:
        raise FormulaError(f"the formula nests {levels} levels deep; the limit is {max_depth}")
    _check_constants(root)


def to_sympy(node: FormulaNode, symbols: Mapping[str, sp.Basic] | None = None,
             functions: Mapping[str, Callable[..., sp.Expr]] = SCALAR_FUNCTIONS,
             operators: Mapping[str, Callable[..., sp.Expr]] = SCALAR_OPERATORS) -> sp.Basic:
    """Builds the SymPy object of a parsed formula from constructor tables.

    Args:
        node: a tree from `parse_tree`.
        symbols: name -> SymPy object; a name missing here becomes a real Symbol.
        functions: function name -> constructor.
        operators: operator name -> constructor.

    Returns:
        The SymPy expression (or matrix expression, with matrix symbols and MATRIX_OPERATORS).

    Raises:
        FormulaError: a constructor refused its operands (e.g. shapes that do not fit).
    """
    symbols = dict(symbols or {})
    for name in node.names():
        symbols.setdefault(name, sp.Symbol(name, real=True))

    def build(current: FormulaNode) -> sp.Basic:
        if current.kind == "number":
            return sp.Rational(current.value.numerator, current.value.denominator)
        if current.kind == "name":
            return symbols[current.head]
        if current.kind == "empty":
            return None
        args = [build(arg) for arg in current.args]
        table = functions if current.kind == "call" else operators
        try:
            return table[current.head](*args)
        except (TypeError, ValueError, ArithmeticError) as error:
            raise BuildError(f"cannot build '{current.text}': {error}", current, error) from None

    return build(node)


def parse_formula(text: str, *, names: Iterable[str] | Mapping[str, sp.Basic] | None = None,
                  functions: Mapping[str, Callable[..., sp.Expr]] = SCALAR_FUNCTIONS,
                  operators: Mapping[str, Callable[..., sp.Expr]] = SCALAR_OPERATORS,
                  allow_matmul: bool = False, allow_transpose: bool = False,
                  max_length: int = MAX_LENGTH, max_nodes: int = MAX_NODES,
                  max_depth: int = MAX_DEPTH, numpy: bool = False) -> sp.Basic:
    """Parses a formula the user typed into a SymPy expression, safely.

    Args:
        text: the formula.
        names: the names accepted (None: any plain name, as a real Symbol); a mapping also says
            which SymPy object each name stands for, e.g. a MatrixSymbol.
        functions: the functions accepted, name -> SymPy constructor.
        operators: operator name -> SymPy constructor (MATRIX_OPERATORS for NumPy's `*`).
        allow_matmul: accept `a @ b`.
        allow_transpose: accept `a.T`.
        max_length: the longest text accepted.
        max_nodes: the most syntax-tree nodes accepted.
        max_depth: the deepest nesting accepted.
        numpy: accept NumPy's spellings too (np.dot, a.dot(b), np.sum(..., axis=0), W[:, 1:], ...).

    Returns:
        The SymPy expression.

    Raises:
        FormulaError: anything outside the whitelist, or past a size limit.

    >>> parse_formula("(x + y) * z")
    z*(x + y)
    """
    symbols = dict(names) if isinstance(names, Mapping) else None
    allowed = None if names is None else frozenset(names)
    grammar = Grammar(allowed, functions, allow_matmul, allow_transpose, max_length, max_nodes,
                      max_depth, numpy)
    return to_sympy(parse_tree(text, grammar), symbols, functions, operators)


class _Converter:
    """Turns whitelisted `ast` nodes into FormulaNodes; anything else is refused by name."""

    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar

    def refuse(self, node: ast.AST, what: str) -> FormulaError:
        where = f" (column {node.col_offset + 1})" if hasattr(node, "col_offset") else ""
        return FormulaError(f"{what} not accepted{where}; {self.grammar.accepted()}")

    def convert(self, node: ast.AST) -> FormulaNode:
        text = ast.unparse(node)
        if isinstance(node, ast.Constant):
            return self.number(node, text)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node, text)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, text)
        if isinstance(node, ast.Call):
            return self.call(node, text)
        if isinstance(node, ast.Attribute) and node.attr == "T" and self.grammar.transpose:
            return FormulaNode("operator", "transpose", (self.convert(node.value),), text=text)
        if isinstance(node, ast.Subscript) and self.grammar.numpy:
            return self.subscript(node, text)
        what = _REFUSED.get(type(node), f"the construct {type(node).__name__}")
        if isinstance(node, ast.Attribute):
            what = f"attribute access (.{node.attr})"
        raise self.refuse(node, what)

    def number(self, node: ast.Constant, text: str) -> FormulaNode:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.refuse(node, f"the constant {value!r}")
        if isinstance(value, (str, bytes)):
            raise self.refuse(node, "strings")
        if isinstance(value, complex):
            raise self.refuse(node, "complex numbers")
        if isinstance(value, float) and not math.isfinite(value):
            raise FormulaError("a number too large for a float (it reads as infinity); "
                               "write finite numbers")
        # repr is the shortest text that reads back as the same float, so 0.1 becomes 1/10,
        # the number the user wrote, not the binary fraction nearest to it.
        exact = Fraction(value) if isinstance(value, int) else Fraction(repr(value))
        _check_size(exact, text)
        return FormulaNode("number", text, value=exact, text=text)

    def name(self, node: ast.Name) -> FormulaNode:
        name = node.id
        if name in self.grammar.functions:
            raise FormulaError(f"{name} is a function; call it as {name}(...); "
                               f"{self.grammar.accepted()}")
        if self.grammar.names is None:
            if not _NAME.match(name):
                raise FormulaError(
                    f"the name {name!r} is not accepted: names start with a letter and use "
                    f"letters, digits and '_'")
        elif name not in self.grammar.names:
            raise FormulaError(f"unknown name {name!r}; {self.grammar.accepted()}")
        return FormulaNode("name", name, text=name)

    def binary(self, node: ast.BinOp, text: str) -> FormulaNode:
        operator = _BINARY.get(type(node.op))
        if operator is None or (operator == "matmul" and not self.grammar.matmul):
            raise self.refuse(node, f"the operator '{_OPERATOR_SIGNS.get(type(node.op), '?')}'")
        args = (self.convert(node.left), self.convert(node.right))
        return FormulaNode("operator", operator, args, text=text)

    def unary(self, node: ast.UnaryOp, text: str) -> FormulaNode:
        operand = self.convert(node.operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.USub):
            return FormulaNode("operator", "neg", (operand,), text=text)
        raise self.refuse(node, f"the operator '{_OPERATOR_SIGNS.get(type(node.op), '?')}'")

    def call(self, node: ast.Call, text: str) -> FormulaNode:
        if self.grammar.numpy and isinstance(node.func, ast.Attribute):
            return self.numpy_call(node, text)
        if self.grammar.numpy and isinstance(node.func, ast.Name) and node.func.id in ("hstack", "vstack"):
            return self.stack(node, node.func.id, text)
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self.refuse(node.func, f"attribute access (.{node.func.attr})")
            raise self.refuse(node, "calling anything but a function's name")
        name = node.func.id
        if name not in self.grammar.functions:
            raise FormulaError(f"unknown function {name!r}; {self.grammar.accepted()}")
        if node.keywords:
            raise self.refuse(node, f"keyword arguments in {name}(...)")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.refuse(arg, "starred arguments (*a)")
        _check_arity(name, self.grammar.functions[name], len(node.args))
        args = tuple(self.convert(arg) for arg in node.args)
        return FormulaNode("call", name, args, text=text)


    def numpy_call(self, node: ast.Call, text: str) -> FormulaNode:
        """np.dot(a, b), np.sum(a, axis=0), a.dot(b), a.transpose(), a.sum(axis=1, keepdims=True)."""
        function = node.func
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.refuse(arg, "starred arguments (*a)")
        module = isinstance(function.value, ast.Name) and function.value.id in _NUMPY_MODULES
        if module and function.attr == "sum":
            if len(node.args) != 1:
                raise self.refuse(node, "np.sum with other than one array")
            return self.summed(node, self.convert(node.args[0]), text)
        if module and function.attr in ("hstack", "vstack"):
            return self.stack(node, function.attr, text)
        if module and function.attr == "ones":
            return self.numpy_ones(node, text)
        if module and function.attr in NUMPY_CALLS:
            kind, head, count = NUMPY_CALLS[function.attr]
            self.no_keywords(node, f"np.{function.attr}")
            if len(node.args) != count:
                raise FormulaError(f"np.{function.attr} takes {count} argument{'s' if count > 1 else ''}, "
                                   f"got {len(node.args)}")
            if kind == "call" and head not in self.grammar.functions:
                raise FormulaError(f"unknown function np.{function.attr}; {self.grammar.accepted()}")
            return FormulaNode(kind, head, tuple(self.convert(a) for a in node.args), text=text)
        if module:
            raise self.refuse(function, f"np.{function.attr}")
        if function.attr == "sum":
            if node.args:
                raise self.refuse(node, "positional arguments to .sum() (write axis=...)")
            return self.summed(node, self.convert(function.value), text)
        if function.attr not in NUMPY_METHODS:
            raise self.refuse(function, f"attribute access (.{function.attr})")
        head, count = NUMPY_METHODS[function.attr]
        self.no_keywords(node, f".{function.attr}()")
        if len(node.args) != count:
            raise FormulaError(f".{function.attr}() takes {count} argument{'s' if count != 1 else ''}, "
                               f"got {len(node.args)} (in {text!r})")
        args = (self.convert(function.value),) + tuple(self.convert(a) for a in node.args)
        return FormulaNode("operator", head, args, text=text)

    def no_keywords(self, node: ast.Call, name: str) -> None:
        if node.keywords:
            raise self.refuse(node, f"keyword arguments in {name}")

    def summed(self, node: ast.Call, operand: FormulaNode, text: str) -> FormulaNode:
        options = {"axis": None, "keepdims": False}
        for keyword in node.keywords:
            if keyword.arg not in options or not isinstance(keyword.value, (ast.Constant, ast.UnaryOp)):
                raise self.refuse(node, f"the keyword {keyword.arg}= in a sum (accepted: axis=0 or 1, "
                                        f"keepdims=True or False)")
            options[keyword.arg] = _constant(keyword.value)
        key = (options["axis"], options["keepdims"])
        if key not in SUM_HEADS or isinstance(options["axis"], bool) or not isinstance(options["keepdims"], bool):
            raise self.refuse(node, f"a sum with axis={options['axis']!r}, keepdims={options['keepdims']!r} "
                                    f"(accepted: axis=0, 1, -1 or none, keepdims=True or False)")
        return FormulaNode("operator", SUM_HEADS[key], (operand,), text=text)

    def stack(self, node: ast.Call, name: str, text: str) -> FormulaNode:
        self.no_keywords(node, name)
        if len(node.args) != 1 or not isinstance(node.args[0], (ast.List, ast.Tuple)) or not node.args[0].elts:
            raise self.refuse(node, f"{name} without one list of matrices ({name}([a, b]))")
        parts = tuple(self.convert(element) for element in node.args[0].elts)
        return FormulaNode("operator", name, parts, text=text)

    def numpy_ones(self, node: ast.Call, text: str) -> FormulaNode:
        self.no_keywords(node, "np.ones")
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Tuple) or len(node.args[0].elts) != 2 \
                or "ones" not in self.grammar.functions:
            raise self.refuse(node, "np.ones other than np.ones((rows, columns))")
        return FormulaNode("call", "ones", tuple(self.convert(e) for e in node.args[0].elts), text=text)

    def subscript(self, node: ast.Subscript, text: str) -> FormulaNode:
        """W2[:, 1:] and W2[1:] (rows): slices with whole-number bounds, no steps."""
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(parts) > 2 or not all(isinstance(p, ast.Slice) for p in parts):
            raise self.refuse(node, "an index that is not a slice (a whole number drops an axis; "
                                    "write a slice such as W2[:, 1:] or W2[0:1, :])")
        if len(parts) == 1:
            parts = parts + [ast.Slice()]
        bounds = []
        for part in parts:
            if part.step is not None:
                raise self.refuse(node, "a slice with a step")
            for bound in (part.lower, part.upper):
                if bound is None:
                    bounds.append(FormulaNode("empty", "", text=""))
                    continue
                value = _constant(bound)
                if isinstance(value, bool) or not isinstance(value, int):
                    raise self.refuse(node, "a slice bound that is not a whole number")
                bounds.append(FormulaNode("number", str(value), value=Fraction(value), text=str(value)))
        return FormulaNode("operator", "slice", (self.convert(node.value), *bounds), text=text)


def _constant(node: ast.AST):
    """The value of a literal constant or a negated one; anything else is None."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, int) and not isinstance(node.operand.value, bool):
        return -node.operand.value
    return None


# Operators SymPy flattens into one Add or one Mul, so a chain of them is one level.
_FAMILY = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}


def _nesting(node: ast.AST) -> int:
    """How deep `node` nests, a chain of one family of operators (a + b - c) counting once."""
    family = _FAMILY.get(type(node.op)) if isinstance(node, ast.BinOp) else None
    deepest = 0
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.expr):
            continue  # operator and context tokens
        same = family is not None and isinstance(child, ast.BinOp) and \
            _FAMILY.get(type(child.op)) == family
        deepest = max(deepest, _nesting(child) + (0 if same else 1))
    return deepest


def _check_arity(name: str, constructor: Callable, count: int) -> None:
    try:
        signature = inspect.signature(constructor)
    except (TypeError, ValueError):  # a builtin without a signature: its constructor decides
        return
    try:
        signature.bind(*range(count))
    except TypeError:
        raise FormulaError(
            f"{name} cannot take {count} argument{'s' if count != 1 else ''}; it takes "
            f"{_arity_text(signature)}") from None


def _arity_text(signature: inspect.Signature) -> str:
    kinds = [parameter.kind for parameter in signature.parameters.values()]
    fixed = sum(kind == inspect.Parameter.POSITIONAL_OR_KEYWORD for kind in kinds)
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return f"{fixed} or more"
    return str(fixed)


def _check_size(value: Fraction, text: str) -> None:
    bits = max(value.numerator.bit_length(), value.denominator.bit_length())
    if bits > MAX_CONSTANT_BITS:
        raise FormulaError(f"the constant {text[:40]} is too large (over {MAX_CONSTANT_BITS} bits)")


def _check_constants(root: FormulaNode) -> None:
    """Refuses huge exponents and constant division by zero, folding constants exactly."""
    values: dict[int, Fraction | None] = {}
    for node in root.walk():
        values[id(node)] = _fold(node, [values[id(arg)] for arg in node.args])


def _fold(node: FormulaNode, args: list[Fraction | None]) -> Fraction | None:
    """The exact rational value of a constant sub-formula, or None when unknown or not rational."""
    if node.kind == "number":
        return node.value
    if node.head == "pow" and args[1] is not None and abs(args[1]) > MAX_EXPONENT:
        raise FormulaError(f"the exponent in {node.text[:60]} is {_short(args[1])}; "
                           f"exponents are limited to -{MAX_EXPONENT}..{MAX_EXPONENT}")
    # A divisor that folds to 0 is refused even beside a name: x / (1 - 1) is x * zoo to SymPy.
    if (node.head == "div" and args[1] == 0) or (
            node.head == "pow" and args[0] == 0 and args[1] is not None and args[1] < 0):
        raise FormulaError(f"division by zero in {node.text[:60]}")
    if node.kind != "operator" or any(arg is None for arg in args):
        return None
    if node.head == "neg":
        return -args[0]
    if node.head == "pow":
        base, exponent = args
        if exponent.denominator != 1:
            return None  # e.g. 2 ** (1/2) is not rational: leave it to SymPy, it stays symbolic
        bits = abs(exponent.numerator) * max(base.numerator.bit_length(),
                                             base.denominator.bit_length())
        if bits > MAX_CONSTANT_BITS:
            raise FormulaError(f"the constant {node.text[:60]} is too large "
                               f"(over {MAX_CONSTANT_BITS} bits)")
        return base ** exponent.numerator
    folded = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
              "div": lambda a, b: a / b}.get(node.head)
    if folded is None:
        return None
    value = folded(*args)
    _check_size(value, node.text)
    return value


def _short(value: Fraction) -> str:
    text = str(value)
    return text if len(text) <= 20 else f"about 10^{len(str(abs(value.numerator))) - 1}"
