"""The write-up as Markdown with math GitHub renders ($...$ inline, ```math blocks), and a short
summary for Jupyter (Derivation._repr_markdown_), whose MathJax reads $...$ and $$...$$."""

from __future__ import annotations

from functools import singledispatch

import sympy as sp

from derive.backward.derivation import Derivation
from derive.writeup.document import Document, Equation, Items, Section, Table, Text


def _math_block(lines: tuple[str, ...]) -> str:
    if len(lines) == 1 and "&" not in lines[0]:
        body = lines[0]
    else:
        body = "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    return "```math\n" + body + "\n```\n"


def _cell(text: str) -> str:
    return text.replace("|", r"\|")


@singledispatch
def _block(block) -> str:
    raise TypeError(f"unknown block {type(block).__name__}")


@_block.register
def _(block: Text):
    return block.text + "\n"


@_block.register
def _(block: Equation):
    return _math_block(block.lines)


@_block.register
def _(block: Items):
    return "".join(f"- {item}\n" for item in block.items)


@_block.register
def _(block: Table):
    lines = ["| " + " | ".join(_cell(c) for c in block.header) + " |",
             "|" + "|".join("---" for _ in block.header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
    return "\n".join(lines) + "\n"


def _section(number: int, section: Section) -> str:
    return f"## {number}. {section.title}\n\n" + "\n".join(_block(block) for block in section.blocks)


def document_markdown(document: Document) -> str:
    """The document as GitHub Markdown: same input, same bytes."""
    body = "\n".join(_section(number, section) for number, section in enumerate(document.sections, start=1))
    return f"# {document.title}\n\n{document.summary}\n\n{body}"
