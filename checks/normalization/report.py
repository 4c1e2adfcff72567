"""The report of one normalisation layer: derive and prove, check by three routes, write the document."""

from __future__ import annotations

from pathlib import Path

from checks.normalization.check import PAIRS, ROUTE_TITLES, check_layer, cs231n_point
from derive.normalization import derive_normalization, prove_all
from derive.normalization.graph import staged_picture
from derive.normalization.writeup import build_document, number_latex
from derive.writeup.html import page_html
from derive.writeup.document import NumericTable
from derive.writeup.files import write_document

# the entrywise proof expands SymPy's diff of the whole cost: 3 x 2 is where it is quick
ENTRYWISE_SIZE = (3, 2)


def write_layer_derivation(kind: str, folder: Path, formats: tuple[str, ...], examples: int = 4, features: int = 5,
                           unbiased: bool = False, epsilon: float = 1e-5):
    """Derives, proves and checks one layer ("batch" or "layer") and writes its document.

    Returns (written, proofs, numeric verdict, pdf); `backprop derive --layer` and the golden refresh call it.
    """
    gradients = derive_normalization(kind, unbiased)
    proofs = prove_all(gradients, *ENTRYWISE_SIZE)
    verdict = check_layer(kind, cs231n_point(examples, features, epsilon), unbiased)
    numeric = NumericTable(
        f"cs231n's gradient-check point ($N \\times D = {examples} \\times {features}$, $x = 5\\,$randn$ + 12$, "
        f"$\\gamma, \\beta, G$ randn, seed 0, $\\epsilon = {number_latex(epsilon)}$)",
        tuple(f"{ROUTE_TITLES[a]} vs {ROUTE_TITLES[b]}" for a, b in PAIRS),
        (1e-12, 1e-8, 1e-8),  # shown as "< bound": the figures vary across machines, the file must not
        tuple(c.name for c in verdict.comparisons), tuple(c.errors for c in verdict.comparisons), verdict.agree)
    document = build_document(gradients, proofs, numeric)
    written, pdf = write_document(folder, document, formats,
                                  lambda: page_html(document, (staged_picture(kind),)))
    return tuple(written), proofs, verdict, pdf
