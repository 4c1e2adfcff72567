"""The report of a net with norms: chain the derived pieces, prove, check by three routes, write the document."""

from __future__ import annotations

from pathlib import Path

from checks.normalization.network_check import PAIRS, check_network, random_point
from derive.normalization.network_proof import prove_network
from derive.normalization.network_writeup import build_network_document
from derive.writeup.html import page_html
from derive.program.norm_net import NormNet
from derive.writeup.document import Table, format_error
from derive.writeup.files import write_document

# printed as "< bound" below these (the figures vary across machines at the 1e-16 level; the file must not)
SHOWN_BELOW = (1e-12, 1e-8, 1e-8)


def numeric_table(verdict) -> Table:
    rows = tuple((f"${_parameter_latex(c.name)}$",) + tuple(format_error(e, bound) for e, bound in zip(c.errors, SHOWN_BELOW))
                 for c in verdict.comparisons)
    return Table(("parameter",) + tuple(f"{a} vs {b}" for a, b in PAIRS), rows, "llll")


def _parameter_latex(name: str) -> str:
    """W1 -> W^{(1)}, gamma1 -> \\gamma^{(1)}."""
    letters = name.rstrip("0123456789")
    symbol = {"gamma": r"\gamma", "beta": r"\beta"}.get(letters, letters)
    return f"{symbol}^{{({name[len(letters):]})}}"


def write_network_derivation(net: NormNet, folder: Path, formats: tuple[str, ...], seed: int = 0):
    """Returns (written, proof, verdict, pdf); `backprop derive --net` and the golden refresh call it."""
    proof = prove_network(net)
    verdict = check_network(net, *random_point(net, seed))
    document = build_network_document(net, proof, numeric_table(verdict), verdict.agree)
    written, pdf = write_document(folder, document, formats, lambda: page_html(document))
    return tuple(written), proof, verdict, pdf
