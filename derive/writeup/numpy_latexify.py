"""The hand-written NumPy backprop as math, through latexify-py, with @, * and .T kept apart.

latexify-py 0.4.4 prints `A @ B` and `A * B` alike and `A.T` literally (KNOWN.md). Before it
sees a function, an `ast` rewrite turns `*` into `%` (the same Python precedence, printed as
\\mathbin{\\%}), `.T` into a power of a marker name, and wraps a product of one kind inside a
product of the other in an explicit parenthesis call (latexify drops those parentheses, and
the right operand's of equal precedence); the printed LaTeX is then post-processed: \\% becomes
\\odot, the marker ^{\\top}, and `@` stays a product written by juxtaposition.

A function written for every spec (`if spec.convention == "row"`) is first specialized to one
spec: `spec.<field>` becomes a constant, constant tests pick their branch, a private helper that
reduces to one return is inlined, and assignments are substituted into the return.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import re
import textwrap
from dataclasses import dataclass
from typing import Callable, Mapping

import latexify

from derive.formulas.function_source import define_function
from derive.network.naming import LatexNotation

_PAREN, _TRANSPOSE, _HSTACK = "PARENMARK", "TRANSPOSEMARK", "VERBATIM"
_NAME, _SLICE, _FUNCTION = "NAMEMARK", "SLICEMARK", "FUNCTIONMARK"
_PRODUCTS = (ast.Mod, ast.MatMult)  # after the rewrite: % is the Hadamard product, @ the matrix one

# How the parameters of checks.handwritten.network's layer functions read in a write-up: each
# function works on one layer l, so W is W^{(l)} and delta_next is delta^{(l+1)}.
LAYER_NAMES = {"a": "a^{(l)}", "W": "W^{(l)}", "b": "b^{(l)}", "z": "z^{(l)}",
               "delta_next": r"\delta^{(l+1)}", "X": "X", "Y": "Y"}

_counter = itertools.count()


class _Specializer(ast.NodeTransformer):
    """Folds spec fields and known None-ness into constants and prunes the dead branches."""

    def __init__(self, spec, none: Mapping[str, bool], namespace: Mapping):
        self.spec, self.none, self.namespace = spec, none, namespace

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "spec":
            value = getattr(self.spec, node.attr, None)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                return ast.copy_location(ast.Constant(value), node)
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) != 1:
            return node
        left, op, right = node.left, node.ops[0], node.comparators[0]
        if isinstance(op, (ast.Is, ast.IsNot)) and isinstance(left, ast.Name) \
                and isinstance(right, ast.Constant) and right.value is None and left.id in self.none:
            return ast.Constant(self.none[left.id] == isinstance(op, ast.Is))
        if isinstance(left, ast.Constant) and isinstance(right, ast.Constant) and isinstance(op, (ast.Eq, ast.NotEq)):
            return ast.Constant((left.value == right.value) == isinstance(op, ast.Eq))
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node

    def visit_If(self, node):
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return (node.body if node.test.value else node.orelse) or None
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        helper = self.namespace.get(node.func.id) if isinstance(node.func, ast.Name) else None
        if helper is None or not node.func.id.startswith("_") or not inspect.isfunction(helper):
            return node
        inlined = _single_return(helper, self.spec, self.none)
        if inlined is None:
            return node
        parameters, expression = inlined
        values = dict(zip(parameters, node.args))
        return _Substitute(values).visit(expression)


class _Substitute(ast.NodeTransformer):
    def __init__(self, values: Mapping[str, ast.expr]):
        self.values = values

    def visit_Name(self, node):
        return self.values.get(node.id, node)


def _parse(function: Callable) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]


def _specialized(function: Callable, spec, none: Mapping[str, bool]) -> ast.FunctionDef:
    """The function's AST for one spec, reduced to parameters and a single return."""
    tree = _Specializer(spec, none, function.__globals__).visit(_parse(function))
    body = [s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    values: dict[str, ast.expr] = {}
    for statement in body:  # substitute each assignment into what follows it
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            values[statement.targets[0].id] = _Substitute(dict(values)).visit(statement.value)
        elif isinstance(statement, ast.Return):
            tree.body = [ast.Return(_Substitute(values).visit(statement.value))]
            break
        else:
            raise ValueError(f"{function.__name__}: cannot render a {type(statement).__name__} statement")
    return tree


def _without_unused_parameters(tree: ast.FunctionDef, also_used: set[str]) -> ast.FunctionDef:
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | also_used
    tree.args.args = [argument for argument in tree.args.args if argument.arg in used]
    tree.args.defaults, tree.returns, tree.decorator_list = [], None, []
    for argument in tree.args.args:
        argument.annotation = None
    return tree


def _single_return(function: Callable, spec, none: Mapping[str, bool]):
    try:
        tree = _specialized(function, spec, none)
    except ValueError:
        return None
    return [argument.arg for argument in _parse(function).args.args], tree.body[0].value


@dataclass
class _Markers:
    """LaTeX for the placeholder names the rewrite introduced."""

    names: dict[str, str]
    slices: dict[str, str]
    verbatim: dict[str, str]
    functions: dict[str, str]
    used: set[str]  # variables that a verbatim piece of LaTeX stands for


class _NotationRewrite(ast.NodeTransformer):
    """* -> %, .T -> ** marker, slices and known calls -> markers."""

    def __init__(self, markers: _Markers, names: Mapping[str, str], derivative: str, activation: str):
        self.markers, self.names, self.derivative, self.activation = markers, names, derivative, activation

    def _marker(self, table: dict, prefix: str, latex: str) -> str:
        return _marker(table, prefix, latex)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Mod):
            raise ValueError("cannot render %: it marks the Hadamard product in the rewrite")
        if isinstance(node.op, ast.Mult):
            node.op = ast.Mod()
        if isinstance(node.op, _PRODUCTS):
            # latexify drops the parentheses of a product of the other kind, and of a right operand
            node.left = self._parenthesized(node.left, node.op, right=False)
            node.right = self._parenthesized(node.right, node.op, right=True)
        return node

    @staticmethod
    def _parenthesized(operand, op, right: bool):
        if isinstance(operand, ast.BinOp) and isinstance(operand.op, (ast.Add, ast.Sub, *_PRODUCTS)) \
                and (right or type(operand.op) is not type(op)):
            return ast.Call(ast.Name(_PAREN, ast.Load()), [operand], [])
        return operand

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if node.attr == "T":
            return ast.BinOp(node.value, ast.Pow(), ast.Name(_TRANSPOSE, ast.Load()))
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = ",".join(ast.unparse(part).replace(" ", "") for part in parts)
        key = self._marker(self.markers.slices, _SLICE, r"_{[" + index.replace(",", r",\,") + "]}")
        return ast.BinOp(node.value, ast.Pow(), ast.Name(key, ast.Load()))

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("derivative", "f"):
            # ACTIVATIONS[name].derivative(z) is f'(z); .f(z, axis) is f(z)
            latex = self.derivative if func.attr == "derivative" else self.activation
            key = self._marker(self.markers.functions, _FUNCTION, latex)
            return ast.Call(ast.Name(key, ast.Load()), node.args[:1], [])
        name = ast.unparse(func)
        if name in ("np.hstack", "np.vstack") and node.args and isinstance(node.args[0], ast.List):
            parts = [r"\mathbf{1}" if ast.unparse(e).startswith("np.ones") else self._name_latex(e)
                     for e in node.args[0].elts]
            self.markers.used.update(e.id for e in node.args[0].elts if isinstance(e, ast.Name))
            latex = (r"\left[" + r",\ ".join(parts) + r"\right]" if name == "np.hstack"
                     else r"\begin{bmatrix} " + r" \\ ".join(parts) + r" \end{bmatrix}")
            return ast.Name(self._marker(self.markers.verbatim, _HSTACK, latex), ast.Load())
        if name == "np.sum":
            axis = next((ast.unparse(k.value) for k in node.keywords if k.arg == "axis"), "")
            latex = r"\operatorname{sum}_{\mathrm{axis}=" + axis + "}" if axis else r"\operatorname{sum}"
            key = self._marker(self.markers.functions, _FUNCTION, latex)
            return ast.Call(ast.Name(key, ast.Load()), node.args[:1], [])
        return node

    def _name_latex(self, node) -> str:
        return self.names.get(node.id, node.id) if isinstance(node, ast.Name) else ast.unparse(node)


def _marker(table: dict, prefix: str, latex: str) -> str:
    """A fresh placeholder identifier that the post-processing replaces by `latex`."""
    key = f"{prefix}{len(table)}"
    table[key] = latex
    return key


class _Rename(ast.NodeTransformer):
    """Names -> placeholders, printed as their LaTeX afterwards (latexify only knows identifiers)."""

    def __init__(self, markers: _Markers, names: Mapping[str, str]):
        self.markers, self.names = markers, names

    def visit_Name(self, node):
        if node.id in self.names:
            return ast.Name(_marker(self.markers.names, _NAME, self.names[node.id]), node.ctx)
        return node

    def visit_arg(self, node):
        if node.arg in self.names:
            node.arg = _marker(self.markers.names, _NAME, self.names[node.arg])
        return node


def _function_of(tree: ast.FunctionDef) -> Callable:
    """A function whose source is `tree`, registered with linecache so latexify can read it."""
    source = ast.unparse(ast.fix_missing_locations(ast.Module([tree], []))) + "\n"
    return define_function(source, f"<numpy_latexify-{next(_counter)}>", tree.name, {})


def _postprocess(latex: str, markers: _Markers, notation: LatexNotation) -> str:
    latex = latex.replace(r"\mathbin{\%}", notation.hadamard_symbol)
    latex = latex.replace(r" \cdot ", " ")  # every remaining product is @: juxtaposition
    latex = latex.replace(r"\mathrm{" + _PAREN + "} ", "")
    latex = latex.replace("^{\\mathrm{" + _TRANSPOSE + "}}", "^{" + notation.transpose_symbol + "}")
    for key, value in markers.slices.items():
        latex = latex.replace("^{\\mathrm{" + key + "}}", value)
    for table in (markers.names, markers.verbatim, markers.functions):
        for key, value in table.items():
            latex = re.sub(r"\\mathrm\{" + key + r"\}", lambda _: value, latex)
    # W^{(l)} transposed prints W^{(l)}^{\top}: merge the two superscripts
    return re.sub(r"\^\{(\([^{}]*\))\}\^\{", r"^{\1", latex)


def render(function: Callable, spec=None, none: Mapping[str, bool] | None = None,
           names: Mapping[str, str] = LAYER_NAMES, derivative: str = "f'", activation: str = "f",
           notation: LatexNotation = LatexNotation()) -> str:
    """latexify-py's LaTeX for a NumPy function, with @ a product, * a Hadamard product, .T a transpose.

    Args:
        function: a function of arrays whose source is available.
        spec: when given, `spec.<field>` is folded to its value and dead branches are dropped.
        none: parameter name -> whether it is None for this spec (b is None without biases).
        names: how variable names print (LaTeX); the others print as latexify prints them.
        derivative, activation: LaTeX for `TABLE[...].derivative(z)` and `TABLE[...].f(z, axis)`.
        notation: the Hadamard and transpose symbols.

    Returns:
        One line of LaTeX: `name(args) = expression`.

    Raises:
        ValueError: the function uses % or a statement other than assignments and one return.

    >>> def product(A, B, C):
    ...     return (A @ B.T) * C
    >>> render(product, names={})
    '\\\\mathrm{product}(A, B, C) = \\\\mathopen{}\\\\left( A B^{\\\\top} \\\\mathclose{}\\\\right) \\\\odot C'
    """
    tree = _specialized(function, spec, none or {}) if spec is not None else _parse(function)
    markers = _Markers({}, {}, {}, {}, set())
    tree = _NotationRewrite(markers, names, derivative, activation).visit(tree)
    tree = _Rename(markers, names).visit(_without_unused_parameters(tree, markers.used))
    latex = latexify.get_latex(_function_of(tree), use_math_symbols=True)
    return _postprocess(latex, markers, notation)


def reference_functions(hand_written, spec, notation: LatexNotation = LatexNotation()) -> tuple[tuple[str, str], ...]:
    """The hand-written route's layer functions for `spec`, rendered: (function name, LaTeX).

    hand_written is the module of the route (checks.handwritten.network), handed in by the report:
    the write-up shows it but never depends on it.
    """
    from derive.network.activations import activation as activation_entry

    hidden = sorted(set(spec.activations[:-1]))
    symbol = activation_entry(hidden[0]).latex if len(hidden) == 1 else "f"
    none = {"b": spec.bias != "vector"}
    names = ["pre_activation", "hidden_delta", "weight_gradient"] if len(spec.sizes) > 2 \
        else ["pre_activation", "weight_gradient"]
    if spec.bias == "vector":
        names.append("bias_gradient")
    return tuple((name, render(getattr(hand_written, name), spec, none, derivative=symbol + "'",
                               activation=symbol, notation=notation)) for name in names)
