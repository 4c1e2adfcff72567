"""The write-up as a standalone LaTeX document (article class, amsmath), ready for pdflatex.

Only packages from texlive-latex-base and texlive-latex-recommended are used (amsmath, amssymb,
geometry, array, booktabs), so the Debian packages CI installs are enough.
"""

from __future__ import annotations

import re
from functools import singledispatch

from derive.writeup.document import Document, Equation, Items, Section, Table, Text

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{array,booktabs}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.6em}
\allowdisplaybreaks
% no timestamps or IDs in the PDF, so the same .tex gives the same file
\ifdefined\pdftrailerid \pdftrailerid{} \fi
\ifdefined\pdfinfoomitdate \pdfinfoomitdate=1 \fi
"""

_INLINE = re.compile(r"(\$[^$]+\$|`[^`]+`|\*\*[^*]+\*\*)")
_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "$": r"\$"}


def escape(text: str) -> str:
    """Plain text made safe for LaTeX: every special character escaped."""
    return "".join(_SPECIAL.get(character, character) for character in text)


def inline(text: str) -> str:
    """Prose with $math$, `code` and **bold** as LaTeX."""
    parts = []
    for piece in _INLINE.split(text):
        if piece.startswith("$") and piece.endswith("$") and len(piece) > 1:
            parts.append(piece)
        elif piece.startswith("`") and piece.endswith("`") and len(piece) > 1:
            parts.append(r"\texttt{" + escape(piece[1:-1]) + "}")
        elif piece.startswith("**") and piece.endswith("**") and len(piece) > 3:
            parts.append(r"\textbf{" + escape(piece[2:-2]) + "}")
        else:
            parts.append(escape(piece))
    return "".join(parts)


@singledispatch
def _block(block) -> str:
    raise TypeError(f"unknown block {type(block).__name__}")


@_block.register
def _(block: Text):
    return inline(block.text) + "\n"


@_block.register
def _(block: Equation):
    if len(block.lines) == 1 and "&" not in block.lines[0]:
        return "\\[\n" + block.lines[0] + "\n\\]\n"
    return "\\begin{align*}\n" + " \\\\\n".join(block.lines) + "\n\\end{align*}\n"


@_block.register
def _(block: Items):
    return "\\begin{itemize}\n" + "".join(f"\\item {inline(item)}\n" for item in block.items) + "\\end{itemize}\n"


@_block.register
def _(block: Table):
    columns = block.columns.replace("p{", r">{\raggedright\arraybackslash}p{")
    lines = [r"\begin{center}", r"\small", r"\begin{tabular}{" + columns + "}", r"\toprule",
             " & ".join(inline(cell) for cell in block.header) + r" \\", r"\midrule"]
    lines += [" & ".join(inline(cell) for cell in row) + r" \\" for row in block.rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{center}"]
    return "\n".join(lines) + "\n"


def _section(section: Section) -> str:
    return f"\\section{{{escape(section.title)}}}\n\n" + "\n".join(_block(block) for block in section.blocks)


def document_latex(document: Document) -> str:
    """The document as LaTeX source: same input, same bytes (no date, stable order)."""
    title = ("\\begin{center}\n{\\LARGE\\bfseries " + escape(document.title) + "\\par}\n\\vspace{0.8em}\n"
             + inline(document.summary) + "\n\\end{center}\n")
    body = "\n".join(_section(section) for section in document.sections)
    return PREAMBLE + "\n\\begin{document}\n\n" + title + "\n" + body + "\n\\end{document}\n"
