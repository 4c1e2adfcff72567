"""`--net TEXT`: a network with normalisation layers, written as a line of layer names.

The grammar (a regex tokenizer and a recursive-descent parser; nothing is evaluated):

    net     := layer (separator layer)*          separator: spaces, or "->" between spaces
    layer   := "dense" "(" WIDTH ")"             WIDTH a positive integer
             | "batchnorm" | "layernorm"
             | ACTIVATION                        a hidden activation of the table: sigmoid, tanh, relu, identity
             | "softmax"                         the last layer only

For example `dense(3) batchnorm relu dense(2) softmax`. The input width D comes from `--inputs D`
(or the data), the batch size N from `-m`. A net holds at least one dense layer; after the last
dense layer at most norms and one activation follow (the output activation; identity if none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from derive.network.activations import ACTIVATION_TABLE

NORM_NAMES = ("batchnorm", "layernorm")
OUTPUT_ONLY = ("softmax",)
# the generic f has no formula to check numbers with, so a net names a concrete activation
ACTIVATION_NAMES = tuple(name for name, entry in ACTIVATION_TABLE.items()
                         if entry.is_elementwise and entry.function is not None)
KNOWN_NAMES = ("dense(N)",) + NORM_NAMES + ACTIVATION_NAMES + OUTPUT_ONLY
MAX_WIDTH = 1000  # a symbolic proof and a write-up per net: keep it small enough to read
MAX_LAYERS = 32
MAX_TEXT = 1000

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<number>[0-9]+)|(?P<punct>->|[(),]))")


class NetTextError(ValueError):
    """--net text that does not describe a network of the grammar."""


@dataclass(frozen=True)
class LayerText:
    """One layer as written: its name and, for dense, its width."""

    name: str
    width: int | None = None

    @property
    def text(self) -> str:
        return f"{self.name}({self.width})" if self.width is not None else self.name


@dataclass(frozen=True)
class NetText:
    layers: tuple[LayerText, ...]

    @property
    def text(self) -> str:
        return " ".join(layer.text for layer in self.layers)


def tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, value, column) for each token; anything unreadable is refused with its column."""
    found, position, end = [], 0, len(text.rstrip())
    while position < end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            column = position + len(text[position:]) - len(text[position:].lstrip())
            raise NetTextError(f"--net: cannot read {text[column:column + 10]!r} at column {column + 1} of "
                               f"{text!r}: write layers like 'dense(3) batchnorm relu dense(2) softmax'")
        kind = match.lastgroup
        found.append((kind, match.group(kind), match.start(kind)))
        position = match.end()
    return found


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokens(text)
        self.index = 0

    def peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self):
        token = self.peek()
        self.index += 1
        return token

    def fail(self, what: str, token) -> NetTextError:
        where = f"at column {token[2] + 1}" if token is not None else "at the end"
        return NetTextError(f"--net: {what} {where} of {self.text!r}")

    def net(self) -> NetText:
        layers = [self.layer()]
        while self.peek() is not None:
            if self.peek() == ("punct", "->", self.peek()[2]):
                self.take()
            layers.append(self.layer())
        return NetText(tuple(layers))

    def layer(self) -> LayerText:
        token = self.take()
        if token is None or token[0] != "name":
            raise self.fail("expected a layer name", token)
        name = token[1]
        if name == "dense":
            return LayerText(name, self.width(name))
        if name not in KNOWN_NAMES:
            raise NetTextError(f"--net: unknown layer {name!r}: the known layers are {', '.join(KNOWN_NAMES)}")
        following = self.peek()
        if following is not None and following[1] == "(":
            raise self.fail(f"{name} takes no width (only dense(N) does)", following)
        return LayerText(name)

    def width(self, name: str) -> int:
        opening, number, closing = self.take(), self.take(), self.take()
        if opening is None or opening[1] != "(":
            raise self.fail(f"{name} needs its width, as {name}(3):", opening)
        if number is None or number[0] != "number":
            raise self.fail(f"expected a positive integer width in {name}(...)", number)
        if closing is None or closing[1] != ")":
            raise self.fail(f"expected ')' after {name}({number[1]}", closing)
        width = int(number[1])
        if not 1 <= width <= MAX_WIDTH:
            raise NetTextError(f"--net: {name}({width}): a width is from 1 to {MAX_WIDTH}")
        return width


def parse_net(text: str) -> NetText:
    """The layers of --net TEXT, in order, checked against the grammar and its rules.

    Raises:
        NetTextError: unreadable text, an unknown name (the message lists the known ones), softmax
            before the end, no dense layer, more than one activation after the last dense layer.
    """
    if not text.strip():
        raise NetTextError("--net is empty: write layers like 'dense(3) batchnorm relu dense(2) softmax'")
    if len(text) > MAX_TEXT:
        raise NetTextError(f"--net is {len(text)} characters long; at most {MAX_TEXT}")
    net = _Parser(text).net()
    names = [layer.name for layer in net.layers]
    if len(names) > MAX_LAYERS:
        raise NetTextError(f"--net has {len(names)} layers; at most {MAX_LAYERS}")
    if "dense" not in names:
        raise NetTextError("--net has no dense(N) layer: a network needs at least one")
    for position, name in enumerate(names[:-1]):
        if name in OUTPUT_ONLY:
            raise NetTextError(f"--net: {name} is an output layer: it may only come last, "
                               f"but layer {position + 1} of {len(names)} is {name}")
    last_dense = max(i for i, name in enumerate(names) if name == "dense")
    activations = [name for name in names[last_dense + 1:] if name not in NORM_NAMES]
    if len(activations) > 1:
        raise NetTextError(f"--net: after the last dense layer at most one activation follows (the output's), "
                           f"got {', '.join(activations)}")
    if activations and names[-1] not in activations:
        raise NetTextError(f"--net: the output activation {activations[0]} must be the last layer")
    return net
