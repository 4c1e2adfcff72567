"""The write-up as one self-contained HTML page: MathML equations, inline SVG, no script, no fetch.

The page prints the same Document as derive.writeup.latex and derive.writeup.markdown, and adds
what a browser can do that paper cannot: every section folds, each formula carries a badge per
proof that checked it, and every candidate the matrix-form search rejected is one click away.
Math is converted to MathML at build time (derive.writeup.mathml); a Content-Security-Policy in the page
itself forbids every request, so the page opens offline and can never phone home.
"""

from __future__ import annotations

import html
import re
from functools import singledispatch

from derive.backward.derivation import Derivation
from derive.writeup.pictures import Picture
from derive.writeup.mathml import display_math, inline_math
from derive.network.naming import LatexNotation
from derive.writeup.context import Context, rejected_items
from derive.writeup.document import Document, Equation, Items, Table, Text, fraction

# No request of any kind: styles inline, pictures inline (SVG markup, or data: images).
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_INLINE = re.compile(r"(\$[^$]+\$|`[^`]+`|\*\*[^*]+\*\*)")
_STYLE = """
body { font-family: system-ui, sans-serif; line-height: 1.5; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; background: #ffffff; }
h1 { font-size: 1.7rem; } h2 { display: inline; font-size: 1.3rem; }
summary { cursor: pointer; margin: 0.8rem 0; } details.section { border-top: 1px solid #d0d7de; }
details.step summary { font-weight: 600; margin: 0.3rem 0; }
math[display="block"] { margin: 0.7rem 0; overflow-x: auto; overflow-y: hidden; }
div.aligned { display: grid; grid-template-columns: max-content max-content; justify-content: center;
              align-items: baseline; row-gap: 0.45rem; margin: 0.7rem 0; padding: 0.2rem 0;
              overflow-x: auto; overflow-y: hidden; }
div.aligned .left-side { text-align: right; } div.aligned .right-side { text-align: left; padding-left: 0.25em; }
table { border-collapse: collapse; margin: 0.7rem 0; font-size: 0.92rem; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
code { background: #f6f8fa; padding: 0 0.2rem; border-radius: 3px; }
.badge { display: inline-block; font-size: 0.8rem; border-radius: 1rem; padding: 0 0.6rem; margin: 0.1rem;
         border: 1px solid; white-space: nowrap; }
.badge.holds { color: #1a7f37; border-color: #1a7f37; background: #dafbe1; }
.badge.fails { color: #cf222e; border-color: #cf222e; background: #ffebe9; }
.formula { margin: 0.5rem 0 1rem; } .formula math { margin: 0.2rem 0; }
figure { margin: 1rem 0; } .drawing { overflow-x: auto; }  /* dot draws at a readable size: scroll, not shrink */
figcaption { font-size: 0.9rem; color: #59636e; } .note { color: #9a6700; font-style: italic; }
"""


def inline(text: str) -> str:
    """Prose with $math$, `code` and **bold** as HTML; everything else escaped.

    >>> inline("the `W` of **layer** $l$")
    'the <code>W</code> of <strong>layer</strong> <math><mrow><mi>l</mi></mrow></math>'
    """
    parts = []
    for piece in _INLINE.split(text):
        if piece.startswith("$") and piece.endswith("$") and len(piece) > 1:
            parts.append(inline_math(piece[1:-1]))
        elif piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
            parts.append(f"<code>{html.escape(piece[1:-1])}</code>")
        elif piece.startswith("**") and piece.endswith("**") and len(piece) > 3:
            parts.append(f"<strong>{html.escape(piece[2:-2])}</strong>")
        else:
            parts.append(html.escape(piece))
    return "".join(parts)


@singledispatch
def _block(block) -> str:
    raise TypeError(f"unknown block {type(block).__name__}")


@_block.register
def _(block: Text):
    return f"<p>{inline(block.text)}</p>"


@_block.register
def _(block: Equation):
    return display_math(block.lines)


@_block.register
def _(block: Items):
    return "<ul>" + "".join(f"<li>{inline(item)}</li>" for item in block.items) + "</ul>"


@_block.register
def _(block: Table):
    head = "".join(f"<th>{inline(cell)}</th>" for cell in block.header)
    rows = "".join("<tr>" + "".join(f"<td>{inline(cell)}</td>" for cell in row) + "</tr>"
                   for row in block.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _section(number: int | None, title: str, body: str, anchor: str) -> str:
    # every section folds; all start open, so the page reads top to bottom like the PDF. The
    # document's sections keep the numbers they have in the PDF and the Markdown; what only the
    # page has is unnumbered.
    heading = html.escape(title) if number is None else f"{number}. {html.escape(title)}"
    return (f'<details class="section" id="{anchor}" open><summary><h2>{heading}</h2>'
            f"</summary>\n{body}\n</details>")


def _badge(strategy: str, check) -> str:
    """strategy · entries · verdict; hovering shows what it was compared with, or the failure."""
    verdict = "holds" if check.holds else "fails"
    title = html.escape(check.failure or f"compared with {check.compared_with}")
    return (f'<span class="badge {verdict}" title="{title}">{html.escape(strategy)} · {check.entries} '
            f'entr{"y" if check.entries == 1 else "ies"} · {verdict}</span>')


def _formula_math(ctx: Context, quantity: str) -> str:
    """The formula a proof check names, as math: dJ/dW1 -> the gradient, delta2 -> the delta."""
    if quantity.startswith("dJ/d") and quantity[4:] in dict(ctx.derivation.gradients):
        name = quantity[4:]
        return display_math((f"{fraction('J', ctx.matrix(name))} = {ctx.tex(ctx.derivation.gradient(name))}",))
    if ctx.has_step(quantity):
        return display_math((f"{ctx.matrix(quantity)} = {ctx.tex(ctx.step(quantity).formula)}",))
    simplified = ctx.derivation.simplified_output_delta
    if simplified is not None and quantity == f"delta{ctx.L} = {simplified.formula}":  # proof_randomized's name
        return display_math((f"{ctx.matrix(f'delta{ctx.L}')} = {ctx.tex(simplified.formula)}",))
    return f"<p>The rule <code>{html.escape(quantity)}</code></p>"  # an activation's derivative


def proof_badges(ctx: Context) -> str:
    """Each proved formula once, with a badge per proof that checked it: strategy, entries, verdict."""
    by_quantity: dict[str, list[str]] = {}
    for proof in ctx.derivation.proofs:
        for check in proof.checks:
            by_quantity.setdefault(check.quantity, []).append(
                _badge(proof.strategy, check))
    if not by_quantity:
        return "<p>No proofs were run.</p>"
    return "\n".join(f'<div class="formula">{_formula_math(ctx, quantity)}<div>{"".join(badges)}</div></div>'
                     for quantity, badges in by_quantity.items())


def rejected_candidates(ctx: Context) -> str:
    """Every step's rejected candidates, one fold per step, with the reason for each."""
    folds = []
    for step in ctx.derivation.steps:
        items = rejected_items(ctx, step)
        if not items:
            continue
        tried = len(step.form.candidates)
        folds.append(f'<details class="step"><summary>{inline(f"${_step_name(ctx, step.name)}$")}: '
                     f"{len(items)} of {tried} candidates rejected</summary><ul>"
                     + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul></details>")
    if not folds:
        return "<p>The search accepted its first candidate at every step.</p>"
    return "\n".join(folds)


def _step_name(ctx: Context, name: str) -> str:
    if name == "dJ_dyhat":
        return fraction("J", r"\hat{Y}")
    if name.startswith("dJ_d"):
        return fraction("J", ctx.matrix(name[4:]))
    return ctx.matrix(name)


def _figure(picture: Picture) -> str:
    body = f'<div class="drawing">{picture.svg}</div>' if picture.svg is not None \
        else f'<p class="note">{inline(picture.note)}</p>'
    return f"<figure>{body}<figcaption>{html.escape(picture.caption)}</figcaption></figure>"


def document_html(document: Document, derivation: Derivation, pictures: tuple[Picture, ...] = (),
                  notation: LatexNotation = LatexNotation()) -> str:
    """The page: title, proofs at a glance, pictures, the document's sections, rejected candidates.

    Same input, same bytes: nothing in the page depends on the time, the machine or a random draw.
    """
    ctx = Context(derivation, notation)
    parts = [_section(None, "Formulas and their proofs", proof_badges(ctx), "proofs")]
    if pictures:
        parts.append(_section(None, "Pictures", "\n".join(_figure(p) for p in pictures), "pictures"))
    for number, section in enumerate(document.sections, start=1):
        body = "\n".join(_block(block) for block in section.blocks)
        parts.append(_section(number, section.title, body, f"section-{number}"))
    parts.append(_section(None, "All rejected candidates", rejected_candidates(ctx), "rejected"))
    title = html.escape(document.title)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n<p>{inline(document.summary)}</p>\n" + "\n".join(parts) + "\n</body>\n</html>\n")


def page_html(document: Document, pictures: tuple = ()) -> str:
    """A layer family's document as one self-contained page: this module's blocks, style and policy,
    without the network page's badges and rejected candidates.

    pictures: derive.writeup.pictures.Picture objects (the staged graph), shown before the sections.
    """
    parts = []
    if pictures:
        parts.append(_section(None, "Pictures", "\n".join(_figure(p) for p in pictures),
                                          "pictures"))
    for number, section in enumerate(document.sections, start=1):
        body = "\n".join(_block(block) for block in section.blocks)
        parts.append(_section(number, section.title, body, f"section-{number}"))
    title = html.escape(document.title)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n<p>{inline(document.summary)}</p>\n" + "\n".join(parts)
            + "\n</body>\n</html>\n")
