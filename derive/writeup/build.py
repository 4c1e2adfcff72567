"""The write-up of a network's derivation, built: a Derivation (and, optionally, the numeric
table and the latexified NumPy reference that the report computes) in, a frozen Document out.

derive.writeup.latex, .markdown and .html print the same Document.
"""

from __future__ import annotations

from derive.backward.derivation import Derivation
from derive.network.naming import LatexNotation
from derive.writeup import layers, sections
from derive.writeup.context import Context
from derive.writeup.description import describe
from derive.writeup.document import Document, NumericTable, Reference
from derive.writeup.html import document_html
from derive.writeup.latex import document_latex
from derive.writeup.markdown import document_markdown
from derive.writeup.pictures import Picture


def build_document(derivation: Derivation, numeric: NumericTable | None = None,
                   reference: Reference | None = None,
                   notation: LatexNotation = LatexNotation()) -> Document:
    """The whole write-up of `derivation`, in the order of issue 4.

    Args:
        derivation: what derive(spec) returned, proofs attached.
        numeric: the numeric agreement of the three routes, or None to leave the table out.
        reference: the latexified hand-written NumPy, or None to leave that section out.
        notation: Hadamard and transpose symbols, layer index style.
    """
    ctx = Context(derivation, notation)
    parts = [sections.notation_section(ctx), sections.forward_section(ctx), layers.output_section(ctx)]
    if ctx.L > 2:
        parts.append(layers.hidden_section(ctx))
    parts.append(layers.convention_section(ctx))
    extra = sections.bias_regularization_section(ctx)
    if extra is not None:
        parts.append(extra)
    parts.append(sections.update_section(ctx))
    parts.append(sections.verification_section(ctx, numeric))
    if reference is not None and reference.functions:
        parts.append(sections.reference_section(ctx, reference))
    title = f"Backpropagation for the {derivation.spec.slug} network, derived and proved"
    return Document(title, describe(derivation.spec), tuple(parts))


def derivation_latex(derivation: Derivation, numeric: NumericTable | None = None,
                     reference: Reference | None = None, notation: LatexNotation = LatexNotation()) -> str:
    """The standalone LaTeX write-up of a derivation (see build_document)."""
    return document_latex(build_document(derivation, numeric, reference, notation))


def derivation_markdown(derivation: Derivation, numeric: NumericTable | None = None,
                        reference: Reference | None = None, notation: LatexNotation = LatexNotation()) -> str:
    """The full Markdown write-up of a derivation (see build_document)."""
    return document_markdown(build_document(derivation, numeric, reference, notation))


def derivation_html(derivation: Derivation, numeric: NumericTable | None = None, reference: Reference | None = None,
                    notation: LatexNotation = LatexNotation(), pictures: tuple[Picture, ...] = ()) -> str:
    """The HTML page of a derivation (see build_document and derive.writeup.pictures)."""
    return document_html(build_document(derivation, numeric, reference, notation), derivation, pictures, notation)
