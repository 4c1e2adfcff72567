"""One document written as files: .tex, .md, .html and .pdf rendered first, then written together."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from derive.writeup.latex import document_latex
from derive.writeup.markdown import document_markdown
from derive.writeup.output_files import CompileResult, typeset, write_files

FORMATS = ("tex", "md", "html", "pdf")
STEM = "derivation"


def write_document(folder: Path, document, formats: tuple[str, ...],
                   html_page: Callable[[], str]) -> tuple[list[Path], CompileResult | None]:
    """Renders `document` in the chosen formats and writes them into `folder` together.

    html_page renders the page (only called when html is chosen). Returns the files written and
    the PDF's compile result (None when pdf was not chosen).
    """
    tex = document_latex(document)
    files = {}
    if "tex" in formats:
        files[f"{STEM}.tex"] = tex.encode("utf-8")
    if "md" in formats:
        files[f"{STEM}.md"] = document_markdown(document).encode("utf-8")
    if "html" in formats:
        files[f"{STEM}.html"] = html_page().encode("utf-8")
    pdf = None
    if "pdf" in formats:  # typeset first, so the PDF is renamed into place with the others
        content, pdf = typeset(tex, STEM)
        if content is not None:
            files[f"{STEM}.pdf"] = content
    written = write_files(folder, files) if files else []
    if pdf is not None and f"{STEM}.pdf" in files:
        pdf = replace(pdf, pdf=Path(folder) / f"{STEM}.pdf")
    return written, pdf
