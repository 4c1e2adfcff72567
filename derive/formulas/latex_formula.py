"""Gradient notation in LaTeX, read into the formula tree the NumPy parser builds; nothing is run.

`\\delta^{(2)} = \\left(\\delta^{(3)} W^{(2)\\top}\\right) \\odot \\sigma'(z^{(2)})` is parsed by a small
Lark grammar (GRAMMAR: the shape of the notation only) and then read, node by node, into the same
`FormulaNode` tree `derive.formulas.expression_parser.parse_tree` makes of `delta3 @ W2.T * sigmoid_prime(z2)`,
so one checker serves both. The reading is a set of tables (BASES, FUNCTIONS, TRANSPOSE_MARKS); a
token or a construct that none of them covers is refused with its character position (1-based),
never skipped: the whole text is read or none of it.

Notation read (layer l a number; Ng, Nielsen, cs231n and seed 000 alike):
  names       \\delta^{(l)}, \\delta^l, \\delta_l; z, a, W, b the same; \\Theta^{(l)} (Ng) = W(l);
              w^l, b^l without parentheses are Nielsen's numbering, the weights INTO layer l, = W(l-1);
              X, x, a^{(1)}; y, Y; \\hat{y}, \\hat{Y}; m; \\lambda; \\bar{W}^{(l)} (W(l) without Ng's
              bias weights); \\mathbf{1}, \\mathbf{0} (a column of ones/zeros, sized by what it meets)
  transpose   ^T, ^\\top, ^\\intercal, ^{(2)\\top}
  products    \\odot, \\circ, * entry by entry; juxtaposition and \\cdot resolved by shapes (a matrix
              product when only that fits, entrywise when only that fits, asked for when both fit)
  functions   \\sigma, \\tanh, \\exp, \\log, \\ln, \\operatorname{ReLU}, f, g (the net's activation),
              each with ' or ^{\\prime} for the derivative
  other       \\frac{a}{b}, a / b, \\sum_{n} over examples, [ ... ]_{ij} built entry by entry,
              [A, B] side by side, \\frac{\\partial J}{\\partial W^{(l)}}, \\partial J / \\partial W,
              \\nabla_{W} J, dW^{(l)} (cs231n), \\frac{\\partial J}{\\partial z^{(l)}} = \\delta^{(l)}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Mapping

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from derive.formulas.expression_parser import MAX_DEPTH, MAX_LENGTH, FormulaError, FormulaNode, check_limits
from derive.network.activations import ACTIVATION_TABLE
from derive.network.costs import scalar_losses

# The grammar says only how the notation nests; what a token means is decided by the tables below.
# Juxtaposition binds tighter than \odot, as the books write it: \delta W^T \odot \sigma'(z) is
# (\delta W^T) \odot \sigma'(z).
GRAMMAR = r"""
start: expr (EQ expr)*
?expr: expr PLUS hterm -> add
     | expr MINUS hterm -> sub
     | MINUS hterm -> neg
     | hterm
?hterm: hterm HADAMARD pterm -> hadamard
      | pterm
?pterm: pterm CDOT factor -> dot
      | pterm SLASH factor -> slash
      | pterm factor -> juxt
      | factor
?factor: factor "^" script -> sup
       | factor "_" script -> sub_script
       | factor PRIME -> prime
       | atom
?atom: NUMBER -> number
     | LETTER -> letter
     | COMMAND -> command
     | LPAREN expr RPAREN -> paren
     | "{" expr "}" -> paren
     | LBRACKET expr ("," expr)* RBRACKET -> bracket
     | FRAC "{" expr "}" "{" expr "}" -> frac
     | PARTIAL factor -> partial
     | ACCENT atom -> accent
     | SUM ("_" script)? ("^" script)? factor -> sum
script: SCRIPT_GROUP | DIGIT | LETTER | COMMAND

EQ: "="
PLUS: "+"
MINUS: "-"
SLASH: "/"
PRIME: "'"
NUMBER: /[0-9]+(\.[0-9]+)?/
DIGIT: /[0-9]/
LETTER: /[A-Za-z]/
COMMAND: /\\[A-Za-z]+/
FRAC.3: /\\[dt]?frac(?![A-Za-z])/
PARTIAL.3: /\\partial(?![A-Za-z])/
HADAMARD.3: /\\odot(?![A-Za-z])|\\circ(?![A-Za-z])|\*/
CDOT.3: /\\cdot(?![A-Za-z])|\\times(?![A-Za-z])/
SUM.3: /\\sum(?![A-Za-z])/
ACCENT.3: /\\(hat|widehat|bar|overline|mathbf|boldsymbol|bm|mathrm|mathit|mathsf|vec|operatorname|text)(?![A-Za-z])/
LPAREN.3: /\\left\(|\\[bB]igg?l?\(|\(/
RPAREN.3: /\\right\)|\\[bB]igg?r?\)|\)/
LBRACKET.3: /\\left\[|\\[bB]igg?l?\[|\[/
RBRACKET.3: /\\right\]|\\[bB]igg?r?\]|\]/
SCRIPT_GROUP: /\{([^{}]|\{[^{}]*\})*\}/
SPACE: /\s+|\\[,;:! ]|\\q?quad(?![A-Za-z])|\\displaystyle(?![A-Za-z])|&/
%ignore SPACE
"""

# base symbol -> (kind, what it names); kind "layered" takes a layer number, "plain" does not.
BASES: Mapping[str, tuple[str, str]] = {
    r"\delta": ("layered", "delta"), "z": ("layered", "z"), "a": ("layered", "a"),
    "W": ("layered", "W"), r"\Theta": ("layered", "W"), "b": ("layered", "b"),
    "w": ("layered", "W"), "X": ("plain", "X"), "x": ("plain", "X"), "y": ("plain", "y"),
    "Y": ("plain", "y"), "m": ("plain", "m"), r"\lambda": ("plain", "l2"),
}
COSTS = frozenset({"J", "C", "L", "E"})
# LaTeX function -> the formula's function; "activation" is the net's own at that layer.
# The activations' names are the activation table's formula_names; the generic f's (f, g) stand for
# the net's own activation at that layer.
FUNCTIONS: Mapping[str, str] = {
    r"\exp": "exp", r"\log": "log", r"\ln": "log",
    **{written: ("activation" if entry.is_generic else name)
       for name, entry in ACTIVATION_TABLE.items() for written in entry.formula_names},
    **{name: name for name in scalar_losses()},  # a cost's rho: \operatorname{huber}'(\hat{y} - y)
}
TRANSPOSE_MARKS = frozenset({"T", r"\top", r"\intercal", r"\mathsf{T}", r"\mathrm{T}", r"\textsf{T}"})
PRIME_MARKS = frozenset({r"\prime", "'"})


class LatexError(FormulaError):
    """LaTeX the reader refuses; the message gives the character position (1-based)."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


class GeneralFormula(LatexError):
    """A formula for a general layer l (W^{(l)}): a rule, not one formula of this net."""


class NoLayer(LatexError):
    """A name without a layer (W_{ji} in a formula for any sizes): a rule for no particular layer."""


class UnknownName(LatexError):
    """A name the network does not have (W^{(7)} in a 2-3-1 net)."""


class NotADefinition(LatexError):
    """A left side that reads, but names neither a delta nor a gradient (z^{(2)}, (A B)^\top)."""


class EntryFormula(LatexError):
    """A left side that names one entry (W^{(2)}_{01}) rather than a whole matrix."""


@dataclass(frozen=True)
class Equation:
    """A parsed LaTeX formula: the quantity its left side defines (None without one) and its
    right sides, each a FormulaNode (a chain a = b = c gives two)."""

    target: str | None
    sides: tuple[FormulaNode, ...]


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse_latex(text: str, names: frozenset[str], spec, layer: int | None = None) -> Equation:
    """Reads a LaTeX formula for `spec` into formula trees over `names`.

    Args:
        text: e.g. r"\\delta^{(2)} = \\left(\\delta^{(3)} W^{(2)\\top}\\right) \\odot \\sigma'(z^{(2)})".
        names: the names a formula may use (checks.diagnose.user_formula.matrix_grammar(spec).names).
        spec: the network (its convention, bias layout and activations decide \\bar{W}, f and g).
        layer: the value of a general layer l (l, l+1, l-1), or None to refuse one.

    Returns:
        The Equation: the target its left side names, if any, and its right sides.

    Raises:
        LatexError: a token or construct outside the notation, with its character position;
            GeneralFormula for a layer l, EntryFormula for a left side naming an entry.

    >>> from derive.network.spec import XOR_SPEC
    >>> parse_latex(r"\\delta^{(3)} = \\left(a^{(3)} - Y\\right) \\odot \\sigma'(z^{(3)})",
    ...             frozenset({"a3", "y", "z3", "delta3"}), XOR_SPEC).target
    'delta3'
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > 4 * MAX_LENGTH:  # LaTeX spends about four characters where NumPy spends one
        raise FormulaError(f"the formula is {len(text)} characters long; the limit is {4 * MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("the formula is empty")
    _check_nesting(text)
    tree = _parse(text, 0)
    reader = _Reader(text, names, spec, layer)
    sides = list(tree.children[::2])  # the EQ tokens sit between them
    target = None if len(sides) == 1 else reader.target(sides[0])
    formulas = tuple(reader.formula(side) for side in (sides if len(sides) == 1 else sides[1:]))
    for formula in formulas:  # the NumPy parser's limits: size, nesting, exponents, x / 0
        check_limits(formula)
    return Equation(target, formulas)


# Brackets nested deeper than this are refused before parsing: the reader recurses a few Python
# frames per level, and MAX_DEPTH levels of operators are all a formula may use anyway.
MAX_BRACKETS = 2 * MAX_DEPTH


def _check_nesting(text: str) -> None:
    level = 0
    for position, character in enumerate(text):
        level += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(character, 0)
        if level > MAX_BRACKETS:
            raise LatexError(f"brackets nested over {MAX_BRACKETS} deep at character {position + 1}", position)


def parse_target(text: str, names: frozenset[str], spec, layer: int | None = None) -> str:
    """The quantity a left side alone names: "delta2", "W1", "dJ_da2", "dJ_dyhat".

    Raises:
        NotADefinition: it reads, but is no delta or gradient; EntryFormula, GeneralFormula and
            LatexError as parse_latex.
    """
    tree = _parse(text, 0)
    if len(tree.children) != 1:
        raise LatexError("a left side with '=' in it", 0)
    return _Reader(text, names, spec, layer).target(tree.children[0])


def parse_every_layer(text: str, names: frozenset[str], spec) -> tuple[tuple[int, Equation], ...]:
    """A formula for a general layer l, read once for each l of the net where all its names exist.

    Raises:
        GeneralFormula: no layer of this net has every name it uses; the other LatexErrors as
            parse_latex.
    """
    found = []
    for layer in range(1, len(spec.sizes) + 1):
        try:
            found.append((layer, parse_latex(text, names, spec, layer)))
        except (UnknownName, NotADefinition):
            continue  # W^{(l)} with l = L, a^{(l)} with l = 1 as a derivative: l does not apply
    if not found:
        raise GeneralFormula(f"no layer l of this {len(spec.sizes)}-layer net has every name the formula uses", 0)
    return tuple(found)


def _parse(text: str, offset: int) -> Tree:
    try:
        return _parser().parse(text)
    except UnexpectedInput as error:
        position = getattr(error, "pos_in_stream", None)
        if isinstance(error, UnexpectedToken) and error.token is not None and error.token.type == "$END":
            position = len(text)
        if position is None:
            position = len(text)
        if isinstance(error, UnexpectedCharacters):
            what = f"the character {text[position]!r}"
        elif isinstance(error, UnexpectedEOF) or position >= len(text):
            what = "the end of the formula (something is missing)"
        else:
            what = f"{str(error.token)!r}"
        raise LatexError(f"cannot read the LaTeX at character {offset + position + 1} ({what}): "
                         f"{_around(text, position)}; see `backprop verify-formula --help` for the "
                         f"notation read", offset + position) from None


def _around(text: str, position: int) -> str:
    start = max(0, position - 15)
    return f"...{text[start:position]}<here>{text[position:position + 15]}..."


@dataclass(frozen=True)
class _Function:
    """A function's name not yet applied: \\sigma, \\sigma' (primes = 1)."""

    name: str
    primes: int
    position: int


@dataclass(frozen=True)
class _Derivative:
    """dJ/dX: what it names as a target ("W2", "delta3", "dJ_da2", "dJ_dyhat")."""

    target: str
    position: int


class _Reader:
    """Turns the Lark tree into FormulaNodes, refusing what no table covers."""

    def __init__(self, text: str, names: frozenset[str], spec, layer: int | None = None):
        self.layer_value = layer  # what a general layer l stands for, when it is given
        self.text = text
        self.names = names
        self.spec = spec
        self.indices: tuple[str, ...] = ()  # inside [ ... ]_{ij}: the index letters
        self.example_index: str | None = None  # inside \sum_{n}: the example index

    # --- positions and refusals

    def start(self, item) -> int:
        if isinstance(item, Token):
            return item.start_pos
        return item.meta.start_pos if not item.meta.empty else 0

    def source(self, item) -> str:
        if isinstance(item, Token):
            return str(item)
        return self.text[item.meta.start_pos:item.meta.end_pos]

    def refuse(self, item, what: str, kind=LatexError) -> LatexError:
        position = self.start(item)
        return kind(f"{what} at character {position + 1} ({self.source(item)[:40]!r})", position)

    def node(self, kind: str, head: str, args, item) -> FormulaNode:
        return FormulaNode(kind, head, tuple(args), text=f"{self.source(item)} (at character {self.start(item) + 1})")

    # --- the two sides

    def target(self, side) -> str:
        """The quantity the left side defines: a delta, a gradient, dJ/da or dJ/dyhat."""
        value = self.read(side)
        if isinstance(value, _Derivative):
            return value.target
        if isinstance(value, FormulaNode) and value.kind == "name" and value.head.startswith("delta"):
            return value.head
        raise self.refuse(side, "the left side is not a delta or a gradient (accepted: \\delta^{(l)}, "
                                "\\frac{\\partial J}{\\partial W^{(l)}}, dW^{(l)}, \\nabla_{W} J, ...)", NotADefinition)

    def formula(self, side) -> FormulaNode:
        value = self.read(side)
        return self.as_formula(value, side)

    def as_formula(self, value, item) -> FormulaNode:
        if isinstance(value, FormulaNode):
            return value
        if isinstance(value, _Derivative) and value.target.startswith("delta"):
            return FormulaNode("name", value.target, text=value.target)
        if isinstance(value, _Derivative):
            raise self.refuse(item, "a derivative on the right side (only dJ/dz, a delta, is read there)")
        if isinstance(value, _Function):
            raise self.refuse(item, f"the function {self.source(item)} without an argument; write it as "
                                    f"{self.source(item)}(...)")
        raise self.refuse(item, "this construct")

    # --- the tree, node by node

    def read(self, item):
        if isinstance(item, Token):
            return self.token(item)
        method = getattr(self, f"read_{item.data}", None)
        if method is None:
            raise self.refuse(item, f"the construct {item.data}")
        return method(item)

    def token(self, token: Token):
        if token.type == "NUMBER":
            value = Fraction(str(token))
            return FormulaNode("number", str(token), value=value, text=str(token))
        return self.symbol(token, str(token), None, None, token)

    def read_number(self, item):
        return self.token(item.children[0])

    def read_letter(self, item):
        return self.symbol(item.children[0], str(item.children[0]), None, None, item)

    read_command = read_letter

    def read_paren(self, item):
        inner = [c for c in item.children if not isinstance(c, Token) or c.type not in ("LPAREN", "RPAREN")]
        return self.read(inner[0])

    def read_add(self, item):
        return self.binary("add", item)

    def read_sub(self, item):
        return self.binary("sub", item)

    def read_hadamard(self, item):
        return self.binary("mul", item)

    def read_slash(self, item):
        derivative = self.derivative(item.children[0], item.children[2])
        if derivative is not None:
            return derivative
        left, right = self.read(item.children[0]), self.read(item.children[2])
        return self.node("operator", "div", (self.as_formula(left, item.children[0]),
                                             self.as_formula(right, item.children[2])), item)

    def read_dot(self, item):
        left = self.as_formula(self.read(item.children[0]), item.children[0])
        right = self.as_formula(self.read(item.children[2]), item.children[2])
        return self.node("operator", "product", (left, right), item)

    def binary(self, head: str, item):
        left = self.as_formula(self.read(item.children[0]), item.children[0])
        right = self.as_formula(self.read(item.children[-1]), item.children[-1])
        return self.node("operator", head, (left, right), item)

    def read_neg(self, item):
        return self.node("operator", "neg", (self.as_formula(self.read(item.children[1]), item.children[1]),), item)

    def read_frac(self, item):
        numerator, denominator = item.children[1], item.children[2]
        derivative = self.derivative(numerator, denominator)
        if derivative is not None:
            return derivative
        return self.node("operator", "div", (self.formula(numerator), self.formula(denominator)), item)

    def read_partial(self, item):
        raise self.refuse(item, "\\partial outside a derivative dJ/dX")

    def derivative(self, numerator, denominator) -> _Derivative | None:
        """\\partial J over \\partial X, or None when the fraction is not a derivative."""
        is_partial = lambda t: isinstance(t, Tree) and t.data == "partial"
        if not (is_partial(numerator) or is_partial(denominator)):
            return None
        if not (is_partial(numerator) and is_partial(denominator)):
            raise self.refuse(numerator, "a fraction with \\partial on one side only")
        cost = self.source(numerator.children[1]).strip()
        if cost not in COSTS:
            raise self.refuse(numerator, f"the derivative of {cost} (accepted: the cost J, C, L or E)")
        return self.derivative_of(denominator.children[1])

    def derivative_of(self, item) -> _Derivative:
        value = self.read(item)
        if not (isinstance(value, FormulaNode) and value.kind == "name") and not (
                isinstance(value, FormulaNode) and value.head == "yhat_entry"):
            raise self.refuse(item, "a derivative with respect to this (accepted: W, b, z, a, \\hat{y})")
        name = value.head
        layered = re.match(r"^(W|b|z|a)(\d+)$", name)
        if name == "yhat" or name == f"a{len(self.spec.sizes)}":
            return _Derivative("dJ_dyhat", self.start(item))
        if layered and layered.group(1) == "z":
            return _Derivative(f"delta{layered.group(2)}", self.start(item))
        if layered and layered.group(1) == "a":
            return _Derivative(f"dJ_d{name}", self.start(item))
        if layered:
            return _Derivative(name, self.start(item))
        raise self.refuse(item, f"a derivative with respect to {name} (accepted: W, b, z, a, \\hat{{y}})",
                          NotADefinition)

    def read_accent(self, item):
        accent, inner = str(item.children[0])[1:], item.children[1]
        body = self.source(inner).strip("{} ")
        if accent in ("hat", "widehat"):
            if body in ("y", "Y"):
                return FormulaNode("name", self.known("yhat", item), text="yhat")
            raise self.refuse(item, f"\\{accent} over {body} (accepted: \\hat{{y}}, \\hat{{Y}})")
        if accent in ("operatorname", "text", "mathrm") and body in FUNCTIONS:
            return _Function(FUNCTIONS[body], 0, self.start(item))
        if accent in ("mathbf", "boldsymbol", "bm") and body in ("1", "0"):
            head = "ones_block" if body == "1" else "zeros_block"
            return self.node("operator", head, (), item)
        if accent in ("bar", "overline"):
            return self.symbol(item, None, None, None, item, bar=True)
        if accent in ("mathbf", "boldsymbol", "bm", "mathrm", "mathit", "vec"):
            return self.read(inner)
        raise self.refuse(item, f"\\{accent}{{{body}}}")

    def read_bracket(self, item):
        parts = [c for c in item.children if not isinstance(c, Token)]
        if len(parts) == 1:
            return self.read(parts[0])
        return self.node("operator", "hstack", [self.formula(p) for p in parts], item)

    def read_sum(self, item):
        scripts = [c for c in item.children if isinstance(c, Tree) and c.data == "script"]
        body = item.children[-1]
        if len(scripts) < 1:
            raise self.refuse(item, "\\sum without its index (write \\sum_{n})")
        index = re.match(r"^\{?\s*([A-Za-z])\s*(=\s*[0-9]+\s*)?\}?$", self.source(scripts[0]))
        if index is None:
            raise self.refuse(scripts[0], "a sum's index other than one letter (\\sum_{n} or \\sum_{n=0})")
        outer = self.example_index
        self.example_index = index.group(1)
        try:
            inner = self.formula(body)
        finally:
            self.example_index = outer
        head = "sum_axis0" if self.spec.convention == "row" else "sum_axis1"
        return self.node("operator", head, (inner,), item)

    def read_juxt(self, item):
        factors = self.flatten(item)
        values = []
        index = 0
        while index < len(factors):
            factor = factors[index]
            following = factors[index + 1] if index + 1 < len(factors) else None
            if self.is_letter(factor, "d") and following is not None:
                values.append((self.derivative_of(following), factor))
                index += 2
                continue
            nabla = self.nabla(factor, following)
            if nabla is not None:
                values.append((nabla, factor))
                index += 2
                continue
            value = self.read(factor)
            if isinstance(value, _Function):
                if following is None or not (isinstance(following, Tree) and following.data == "paren"):
                    raise self.refuse(factor, f"the function {self.source(factor)} without parentheses; write "
                                              f"{self.source(factor)}(...)")
                value = self.call(value, following, factor)
                index += 1
            values.append((value, factor))
            index += 1
        if len(values) == 1:
            return values[0][0]
        result, first = values[0]
        result = self.as_formula(result, first)
        for value, factor in values[1:]:
            result = FormulaNode("operator", "product", (result, self.as_formula(value, factor)),
                                 text=f"{self.source(item)} (at character {self.start(item) + 1})")
        return result

    def flatten(self, item) -> list:
        if isinstance(item, Tree) and item.data == "juxt":
            return self.flatten(item.children[0]) + [item.children[1]]
        return [item]

    def is_letter(self, item, letter: str) -> bool:
        return isinstance(item, Tree) and item.data == "letter" and str(item.children[0]) == letter

    def nabla(self, factor, following) -> _Derivative | None:
        if not (isinstance(factor, Tree) and factor.data == "sub_script" and
                self.source(factor.children[0]) == r"\nabla"):
            return None
        if following is None or self.source(following).strip() not in COSTS:
            raise self.refuse(factor, "\\nabla_{X} without the cost after it (write \\nabla_{W^{(1)}} J)")
        script = factor.children[1]
        body = self.source(script)
        inner = body[1:-1] if body.startswith("{") else body
        tree = _parse(inner, self.start(script) + (1 if body.startswith("{") else 0))
        reader = _Reader(inner, self.names, self.spec, self.layer_value)
        value = reader.derivative_of(tree.children[0])
        if value.target == f"dJ_da{len(self.spec.sizes)}":
            return _Derivative("dJ_dyhat", value.position)
        return value

    def call(self, function: _Function, argument_item, item) -> FormulaNode:
        argument = self.formula(argument_item)
        name = function.name
        if name == "activation":
            layer = re.match(r"^[za](\d+)$", argument.head) if argument.kind == "name" else None
            name = self.spec.activation(int(layer.group(1))) if layer else self.spec.activations[0]
        if function.primes > 1:
            raise self.refuse(item, "a second derivative")
        if name == "softmax":
            raise self.refuse(item, "softmax, which is not entrywise")
        head = name + ("_prime" if function.primes else "")
        return FormulaNode("call", head, (argument,), text=f"{self.source(item)}(...)")

    def read_prime(self, item):
        value = self.read(item.children[0])
        if not isinstance(value, _Function):
            raise self.refuse(item, "a prime on something that is not a function")
        return _Function(value.name, value.primes + 1, value.position)

    def read_sup(self, item):
        return self.scripted(item)

    def read_sub_script(self, item):
        return self.scripted(item)

    # --- names with their scripts

    def scripted(self, item):
        """A base with its ^ and _ scripts: a name with layer and indices, a transpose, a power."""
        base, sups, subs = item, [], []
        while isinstance(base, Tree) and base.data in ("sup", "sub_script"):
            (sups if base.data == "sup" else subs).insert(0, base.children[1])
            base = base.children[0]
        if isinstance(base, Tree) and base.data == "bracket" and len(subs) == 1:
            return self.built_entrywise(base, subs[0], sups, item)
        base_text = self.base_text(base)
        if base_text in FUNCTIONS and not subs:
            value = _Function(FUNCTIONS[base_text], 0, self.start(item))
            for script in sups:
                if self.script_text(script) in PRIME_MARKS:
                    value = _Function(value.name, value.primes + 1, value.position)
                else:
                    raise self.refuse(script, "a superscript on a function other than ^{\\prime}")
            return value
        if base_text is not None and (base_text in BASES or base_text in ("\\hat", "\\bar")) or self.is_bar(base):
            return self.symbol(base, base_text, sups, subs, item, bar=self.is_bar(base))
        value = self.as_formula(self.read(base), base)
        if subs:
            raise self.refuse(subs[0], "a subscript on this")
        for script in sups:
            text = self.script_text(script)
            if text in TRANSPOSE_MARKS:
                value = self.node("operator", "transpose", (value,), item)
            elif re.fullmatch(r"-?[0-9]+", text):
                power = FormulaNode("number", text, value=Fraction(int(text)), text=text)
                value = self.node("operator", "pow", (value, power), item)
            else:
                raise self.refuse(script, "a superscript other than a transpose or a whole power")
        return value

    def built_entrywise(self, bracket, script, sups, item) -> FormulaNode:
        """[ E ]_{ij}: the matrix whose entry ij is E, with y_{ij} in E standing for y's entry."""
        parts = [c for c in bracket.children if not isinstance(c, Token)]
        letters = tuple(re.sub(r"[,\s]", "", self.script_text(script)))
        if len(parts) != 1 or len(letters) != 2 or not all(l.isalpha() for l in letters):
            raise self.refuse(script, "a bracket with a subscript other than [ E ]_{ij} (two index letters)")
        outer = self.indices
        self.indices = letters
        try:
            value = self.formula(parts[0])
        finally:
            self.indices = outer
        for sup in sups:
            if self.script_text(sup) not in TRANSPOSE_MARKS:
                raise self.refuse(sup, "a superscript other than a transpose")
            value = self.node("operator", "transpose", (value,), item)
        return value

    def is_bar(self, base) -> bool:
        return isinstance(base, Tree) and base.data == "accent" and str(base.children[0])[1:] in ("bar", "overline")

    def base_text(self, base) -> str | None:
        """The symbol at the bottom of accents that only dress it (\\mathbf{W}, \\boldsymbol{\\delta})."""
        while isinstance(base, Tree) and (base.data == "paren" and len(base.children) == 1 or
                                          base.data == "accent" and str(base.children[0])[1:] in
                                          ("mathbf", "boldsymbol", "bm", "mathit", "vec", "bar", "overline")):
            base = base.children[-1]
        if isinstance(base, Tree) and base.data in ("letter", "command"):
            return str(base.children[0])
        if isinstance(base, Tree) and base.data == "accent" and str(base.children[0])[1:] in ("hat", "widehat"):
            return "\\hat"
        return None

    def script_text(self, script) -> str:
        text = self.source(script)
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        return re.sub(r"\s+", "", text)

    def known(self, name: str, item) -> str:
        if name not in self.names:
            raise self.refuse(item, f"{name}, which this network does not have", UnknownName)
        return name

    def symbol(self, base, base_text, sups, subs, item, bar: bool = False):
        """A name with its layer, transpose marks and (inside [ ]_{ij} or \\sum_n) its indices."""
        sups, subs = sups or [], subs or []
        if base_text is None:
            base_text = self.base_text(base)
        if base_text == "\\hat":
            value = self.read(base)
            name, kind, what = value.head, "plain", "yhat"
        elif base_text in FUNCTIONS and not sups and not subs:
            return _Function(FUNCTIONS[base_text], 0, self.start(item))
        elif base_text in BASES:
            kind, what = BASES[base_text]
            name = None
        elif base_text in COSTS:
            raise self.refuse(item, f"the cost {base_text} outside a derivative")
        else:
            raise self.refuse(item, f"the symbol {self.source(base) if base_text is None else base_text}")
        layer, transposed, nielsen = None, False, False
        for script in sups:
            text = self.script_text(script)
            if text in TRANSPOSE_MARKS:
                transposed = not transposed
                continue
            if layer is not None or kind == "plain":
                raise self.refuse(script, "a second superscript")
            match = re.fullmatch(r"\((?P<layer>[^()]*)\)(?P<mark>.*)|(?P<bare>[0-9]+|[A-Za-z])(?P<mark2>.*)", text)
            mark = (match.group("mark") if match and match.group("layer") is not None else
                    match.group("mark2") if match else None)
            if match is None or (mark and mark not in TRANSPOSE_MARKS):
                raise self.refuse(script, "a superscript other than a layer (l) and a transpose")
            layer = match.group("layer") if match.group("layer") is not None else match.group("bare")
            # Nielsen writes w^l and b^l, without parentheses, for the weights into layer l
            nielsen = base_text in ("w", "b") and match.group("layer") is None
            transposed = transposed != bool(mark)
        indices = []
        for script in subs:
            text = self.script_text(script)
            if layer is None and kind != "plain" and re.fullmatch(r"[1-9][0-9]*", text) and len(subs) == 1:
                layer = text  # cs231n's W_1, b_2
            else:
                indices.append((script, text))
        if name is None:
            if kind == "plain":
                name = what
            else:
                if layer is None:
                    if base_text == "a" and not indices:
                        raise self.refuse(item, "a without a layer (write a^{(l)})")
                    raise self.refuse(item, f"{base_text} without a layer number (a formula for any layer)",
                                      NoLayer)
                number = self.layer_number(layer.replace(" ", ""), item) - (1 if nielsen else 0)
                name = "X" if what == "a" and number == 1 else f"{what}{number}"
        node = FormulaNode("name", self.known(name, item), text=name)
        if bar:
            node = self.without_bias(node, item)
        for script, text in indices:
            node = self.indexed(node, script, text, item)
        if transposed:
            node = self.node("operator", "transpose", (node,), item)
        return node

    def layer_number(self, layer: str, item) -> int:
        """2 for "2"; the output layer for "L"; l + k for "l+k" when l is given, else GeneralFormula."""
        if re.fullmatch(r"[0-9]+", layer):
            return int(layer)
        if layer == "L":
            return len(self.spec.sizes)
        general = re.fullmatch(r"([a-z])([+-][0-9]+)?", layer)
        if general is None:
            raise self.refuse(item, f"the layer {layer} (accepted: a number, L, or l, l+1, l-1)")
        if self.layer_value is None:
            raise self.refuse(item, f"the general layer {layer}", GeneralFormula)
        return self.layer_value + int(general.group(2) or 0)

    def without_bias(self, node: FormulaNode, item) -> FormulaNode:
        if self.spec.bias != "unit" or not node.head.startswith("W"):
            raise self.refuse(item, "\\bar on anything but the weights of a net with Ng's bias unit (--bias unit)")
        one = FormulaNode("number", "1", value=Fraction(1), text="1")
        empty = FormulaNode("empty", "", text="")
        bounds = (empty, empty, one, empty) if self.spec.convention == "column" else (one, empty, empty, empty)
        return FormulaNode("operator", "slice", (node, *bounds), text=f"{node.head} without its bias weights")

    def indexed(self, node: FormulaNode, script, text: str, item) -> FormulaNode:
        """y_{ij} inside [ ... ]_{ij} is y itself; \\delta_n inside \\sum_n likewise."""
        letters = tuple(re.sub(r"[,\s]", "", text))
        if self.indices and letters == self.indices:
            return node
        if self.example_index and letters == (self.example_index,):
            return node
        raise self.refuse(script, f"the entry {node.head}_{{{text}}} (an entry is read only inside "
                                  f"[ ... ]_{{ij}} with the same indices, or under \\sum_{{n}} over examples)",
                          EntryFormula)
