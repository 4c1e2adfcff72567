"""The report of one network: derive and prove, check by three routes, write the document.

One library function, `write_derivation`, called by `backprop derive` and by
tools/refresh_golden.py alike, so the golden files are what the command writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import checks.handwritten.network as hand_written
from checks.inputs.data import xor_data
from checks.routes.three_routes import verify
from derive.api import derive
from derive.backward.derivation import Derivation
from derive.network.naming import LatexNotation
from derive.network.spec import NetworkSpec
from derive.writeup.document import NumericTable, Reference
from derive.writeup.build import build_document
from derive.writeup.description import describe
from derive.writeup.files import write_document
from derive.writeup.html import document_html
from derive.writeup.numpy_latexify import reference_functions
from derive.writeup.output_files import CompileResult
from derive.writeup.pictures import missing_pictures_line, pictures as html_pictures

# Printed thresholds (the figures below them vary across machines, the files must not):
# two analytic routes differ by rounding, ~1e-15 relative (checks.routes.three_routes measures 2e-15 at worst);
ANALYTIC_SHOWN_BELOW = 1e-12
# central differences at h ~ 6e-6 agree to ~1e-9 relative here, up to ~1e-7 on small entries.
DIFFERENCE_SHOWN_BELOW = 1e-6
_PAIRS = (("derived", "hand_written"), ("derived", "finite_differences"), ("hand_written", "finite_differences"))
_TITLES = {"derived": "derived", "hand_written": "hand-written", "finite_differences": "finite differences"}


def numeric_table(spec: NetworkSpec) -> tuple[NumericTable | None, str]:
    """The three routes compared by checks.routes.three_routes, or None with the reason when they cannot run."""
    if "f" in spec.activations:
        return None, "the generic activation f has no numeric values"
    xor = spec.sizes[0] == 2 and spec.sizes[-1] == 1 and spec.m == 4 and spec.output_activation != "softmax"
    data = xor_data(spec.convention) if xor else None
    point = ("seed 000's four XOR examples with weights drawn with seed 0" if xor
             else f"{spec.m} random example{'s' if spec.m != 1 else ''} and weights drawn with seed 0")
    columns = tuple(f"{_TITLES[a]} vs {_TITLES[b]}" for a, b in _PAIRS)
    thresholds = tuple(DIFFERENCE_SHOWN_BELOW if "finite_differences" in pair else ANALYTIC_SHOWN_BELOW
                       for pair in _PAIRS)
    verdict = verify(spec, data=data, seed=0)
    rows, errors = [], []
    for parameter in verdict.parameters:
        pairs = {(pair.first, pair.second): pair.relative_error for pair in parameter.pairs}
        rows.append(parameter.name)
        errors.append(tuple(pairs.get(pair) for pair in _PAIRS))
    return NumericTable(point, columns, thresholds, tuple(rows), tuple(errors), verdict.agree), ""


def reference(spec: NetworkSpec, notation: LatexNotation) -> Reference:
    """The hand-written route's layer functions for `spec`, rendered by latexify-py."""
    return Reference(reference_functions(hand_written, spec, notation))


@dataclass(frozen=True)
class Report:
    """What one `backprop derive` found and wrote."""

    derivation: Derivation
    numeric: NumericTable | None
    numeric_reason: str
    written: tuple[Path, ...]
    pdf: CompileResult | None

    @property
    def ok(self) -> bool:
        """Every proof holds, the routes agree, and a PDF asked for was built."""
        return (self.derivation.proved
                and (self.numeric is None or self.numeric.agree)
                and (self.pdf is None or not self.pdf.failed))

    def text(self) -> str:
        """The summary `backprop derive` prints."""
        derivation = self.derivation
        names = [name for name, _ in derivation.deltas()] + [f"dJ/d{name}" for name, _ in derivation.gradients]
        lines = [describe(derivation.spec),
                 f"  derived: {', '.join(names)} (each matrix form found by candidate search)"]
        proofs = ", ".join(f"{proof.strategy} {'holds' if proof.holds else 'FAILS'} ({len(proof.checks)} "
                           f"check{'' if len(proof.checks) == 1 else 's'})" for proof in derivation.proofs)
        lines.append(f"  proofs: {proofs}")
        if self.numeric is None:
            lines.append(f"  numeric: not run ({self.numeric_reason})")
        else:
            worst = max((e for row in self.numeric.errors for e in row if e is not None), default=0.0)
            verdict = "agree" if self.numeric.agree else "DISAGREE"
            lines.append(f"  numeric: derived, hand-written and finite differences {verdict} "
                         f"(worst relative error {'< 1e-6' if worst < DIFFERENCE_SHOWN_BELOW else f'{worst:.1e}'})")
        if self.pdf is not None and self.pdf.pdf is None:
            lines.append(f"  pdf: {self.pdf.message}")
        if missing_pictures_line(self.written):
            lines.append(f"  {missing_pictures_line(self.written)}")
        if self.written:
            folder = self.written[0].parent
            lines.append(f"  wrote: {', '.join(str(folder / p.name) for p in self.written)}")
        return "\n".join(lines)


def write_derivation(spec: NetworkSpec, folder: Path, formats: tuple[str, ...],
                     notation: LatexNotation = LatexNotation(),
                     size_limit_factor: float = 1.0) -> Report:
    """Derives, proves and checks `spec`, then writes the chosen formats into `folder`.

    The files of the document (.tex, .md, .html, .pdf) are written together: all or none of them
    change. Without Graphviz the HTML page says so where each picture would be.
    """
    derivation = derive(spec, size_limit_factor=size_limit_factor)
    numeric, reason = numeric_table(spec)
    document = build_document(derivation, numeric, reference(spec, notation), notation)
    written, pdf = write_document(
        folder, document, formats,
        lambda: document_html(document, derivation, html_pictures(spec), notation))
    return Report(derivation, numeric, reason, tuple(written), pdf)
