"""`backprop derive`: derive, prove and check a network, and write its derivation as LaTeX, PDF, Markdown and HTML.

The main job: with no options it derives seed 000's XOR net and writes output/xor-2-3-1/.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from derive.api import derive
from derive.cli.spec_options import add_spec_options, spec_from_args
from derive.backward.derivation import Derivation
from derive.writeup.pictures import pictures as html_pictures
from derive.network.naming import LatexNotation
from derive.writeup import output_files
from derive.writeup.output_files import CompileResult, OutputError, check_name, check_writable_folder, typeset, write_files
from derive.writeup.html import document_html
from derive.writeup.latex import document_latex
from derive.writeup.markdown import document_markdown
from derive.network.spec import XOR_SPEC, NetworkSpec
from derive.network.activations import activation as activation_entry
from derive.network.costs import cost as cost_entry
from derive.writeup.document import NumericTable, Reference, build_document, describe

FORMATS = ("tex", "md", "html", "pdf")
STEM = "derivation"
EXIT_OK, EXIT_FAILED_CHECK = 0, 1

# Printed thresholds (the figures below them vary across machines, the files must not):
# two analytic routes differ by rounding, ~1e-15 relative (checks.routes.three_routes measures 2e-15 at worst);
ANALYTIC_SHOWN_BELOW = 1e-12
# central differences at h ~ 6e-6 agree to ~1e-9 relative here, up to ~1e-7 on small entries.
DIFFERENCE_SHOWN_BELOW = 1e-6
_PAIRS = (("derived", "hand_written"), ("derived", "finite_differences"), ("hand_written", "finite_differences"))
_TITLES = {"derived": "derived", "hand_written": "hand-written", "finite_differences": "finite differences"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "derive", help="derive, prove and check backprop; write LaTeX, PDF, Markdown and HTML",
        description="Derive the delta rule of a network, prove every formula, check it numerically "
                    "against a hand-written NumPy backprop and finite differences, and write the "
                    "derivation as a document (default: seed 000's XOR net into output/xor-2-3-1/).")
    add_spec_options(parser)
    group = parser.add_argument_group("output")
    group.add_argument("--out", default="output", help="output folder (default: output)")
    group.add_argument("--name", default=None, help="subfolder name (default: from the spec, xor-2-3-1 for the default)")
    group.add_argument("--formats", default=None,
                       help="comma-separated: tex, md, html, pdf (default: all, the PDF when pdflatex is installed; "
                            "pdf asked for by name without pdflatex is an error)")
    group.add_argument("--hadamard", choices=("odot", "circ"), default="odot", help="Hadamard product symbol")
    group.add_argument("--transpose", choices=("top", "T"), default="top", help="transpose as ^{\\top} or ^{T}")
    group.add_argument("--layer-index", choices=("superscript", "subscript"), default="superscript",
                       help="W^{(1)} or W_1")
    parser.set_defaults(handler=run)


def parse_formats(text: str) -> tuple[str, ...]:
    """"tex,md" -> ("tex", "md"), in FORMATS order; raises ValueError for anything else."""
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(chosen - set(FORMATS))
    if unknown or not chosen:
        raise ValueError(f"unknown format {', '.join(unknown) or '(none given)'}; accepted: {', '.join(FORMATS)}")
    return tuple(name for name in FORMATS if name in chosen)


def default_name(spec: NetworkSpec) -> str:
    """A folder name from the spec: xor-2-3-1 for seed 000's net, e.g. 2-3-1-sigmoid-bce-column otherwise.

    A deep net's sizes would make a name longer than a file system takes (and than --name
    accepts): past MAX_DEFAULT_NAME characters the sizes are cut to the first, the last, the
    depth and a short hash of all of them, e.g. 2-200-layers-1-9f3a61c2-sigmoid-sse-row-m4.
    """
    if spec == XOR_SPEC:
        return f"xor-{spec.slug}"
    activations = "-".join(dict.fromkeys(activation_entry(name).folder_name for name in spec.activations))
    parts = [spec.slug, activations, cost_entry(spec.cost).short, spec.convention]
    parts += [f"bias-{spec.bias}"] if spec.bias != "none" else []
    parts += ["mean"] if spec.reduction == "mean" else []
    parts += [f"l2-{spec.l2:g}"] if spec.l2 else []
    parts += [f"m{spec.m}"]
    if len("-".join(parts)) > MAX_DEFAULT_NAME:
        digest = hashlib.sha256(spec.slug.encode()).hexdigest()[:8]
        parts[0] = f"{spec.sizes[0]}-{spec.layer_count}-layers-{spec.sizes[-1]}-{digest}"
    return "-".join(parts)


# The limit of a --name (derive.writeup.output_files.NAME_RULE).
MAX_DEFAULT_NAME = 100


def numeric_table(spec: NetworkSpec) -> tuple[NumericTable | None, str]:
    """The three routes compared by checks.routes.three_routes, or None with the reason when they cannot run."""
    from checks.inputs.data import xor_data

    if "f" in spec.activations:
        return None, "the generic activation f has no numeric values"
    xor = spec.sizes[0] == 2 and spec.sizes[-1] == 1 and spec.m == 4 and spec.output_activation != "softmax"
    data = xor_data(spec.convention) if xor else None
    point = ("seed 000's four XOR examples with weights drawn with seed 0" if xor
             else f"{spec.m} random example{'s' if spec.m != 1 else ''} and weights drawn with seed 0")
    columns = tuple(f"{_TITLES[a]} vs {_TITLES[b]}" for a, b in _PAIRS)
    thresholds = tuple(DIFFERENCE_SHOWN_BELOW if "finite_differences" in pair else ANALYTIC_SHOWN_BELOW
                       for pair in _PAIRS)
    try:
        from checks.routes.three_routes import verify
    except ImportError:  # until the three-route verdict lands: hand-written against finite differences
        rows, errors, agree = _two_routes(spec, data)
        return NumericTable(point, columns, thresholds, rows, errors, agree), ""
    verdict = verify(spec, data=data, seed=0)
    rows, errors = [], []
    for parameter in verdict.parameters:
        pairs = {(pair.first, pair.second): pair.relative_error for pair in parameter.pairs}
        rows.append(parameter.name)
        errors.append(tuple(pairs.get(pair) for pair in _PAIRS))
    return NumericTable(point, columns, thresholds, tuple(rows), tuple(errors), verdict.agree), ""


def _two_routes(spec: NetworkSpec, data):
    """Hand-written backprop against central differences only; the derived pairs print "not run"."""
    import numpy as np

    from checks.routes import finite_differences as fd
    from checks.inputs.data import random_data, random_params
    from checks.handwritten.network import backprop, cost

    rng = np.random.default_rng(0)  # the order checks.routes.three_routes draws in: parameters, then data
    params = random_params(spec, rng)
    X, Y = random_data(spec, rng=rng) if data is None else data
    analytic = backprop(spec, params, X, Y).gradients
    numeric = fd.finite_difference_gradient(lambda p: cost(spec, p, X, Y), params)
    comparison = fd.compare_gradients(analytic, numeric)
    rows = tuple(comparison.parameters)
    errors = tuple((None, None, comparison.parameters[name].worst_relative_error) for name in rows)
    return rows, errors, comparison.agree


def reference(spec: NetworkSpec, notation: LatexNotation) -> Reference:
    from derive.writeup.numpy_latexify import reference_functions

    return Reference(reference_functions(spec, notation))


@dataclass(frozen=True)
class Result:
    """What one run wrote and found."""

    derivation: Derivation
    numeric: NumericTable | None
    numeric_reason: str
    written: tuple[Path, ...]
    pdf: CompileResult | None


def write_derivation(spec: NetworkSpec, folder: Path, formats: tuple[str, ...],
                     notation: LatexNotation = LatexNotation(),
                     size_limit_factor: float = 1.0) -> Result:
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
    return Result(derivation, numeric, reason, tuple(written), pdf)


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


def summary(result: Result) -> list[str]:
    derivation = result.derivation
    names = [name for name, _ in derivation.deltas()] + [f"dJ/d{name}" for name, _ in derivation.gradients]
    lines = [describe(derivation.spec),
             f"  derived: {', '.join(names)} (each matrix form found by candidate search)"]
    proofs = ", ".join(f"{proof.strategy} {'holds' if proof.holds else 'FAILS'} ({len(proof.checks)} "
                       f"check{'' if len(proof.checks) == 1 else 's'})" for proof in derivation.proofs)
    lines.append(f"  proofs: {proofs}")
    if result.numeric is None:
        lines.append(f"  numeric: not run ({result.numeric_reason})")
    else:
        worst = max((e for row in result.numeric.errors for e in row if e is not None), default=0.0)
        verdict = "agree" if result.numeric.agree else "DISAGREE"
        lines.append(f"  numeric: derived, hand-written and finite differences {verdict} "
                     f"(worst relative error {'< 1e-6' if worst < DIFFERENCE_SHOWN_BELOW else f'{worst:.1e}'})")
    if result.pdf is not None and result.pdf.pdf is None:
        lines.append(f"  pdf: {result.pdf.message}")
    if result.written:
        folder = result.written[0].parent
        lines.append(f"  wrote: {', '.join(str(folder / p.name) for p in result.written)}")
    return lines


def run(args: argparse.Namespace) -> int:
    """The handler of `backprop derive`; bad input raises ValueError (one line, exit 2 in derive.cli).

    Everything that can be refused is refused before the derivation starts: the spec and its
    size, the formats (pdf asked for by name needs pdflatex), the name and the output folder.
    """
    spec = spec_from_args(args)
    formats = parse_formats(args.formats if args.formats is not None else ",".join(FORMATS))
    if args.formats is not None and "pdf" in formats and output_files.tex_engine() is None:
        raise OutputError(f"--formats pdf needs {output_files.TEX_ENGINE}, which is not on PATH: install "
                          "texlive-latex-base and texlive-latex-recommended, or leave pdf out of --formats")
    notation = LatexNotation(layer_index=args.layer_index, hadamard=args.hadamard, transpose=args.transpose)
    name = check_name(args.name if args.name is not None else default_name(spec))
    folder = check_writable_folder(Path(args.out) / name, f"{STEM}.tex")
    result = write_derivation(spec, folder, formats, notation, size_limit_factor=args.size_limit_factor)
    for line in summary(result):
        print(line)
    failed = not result.derivation.proved or (result.numeric is not None and not result.numeric.agree) \
        or (result.pdf is not None and result.pdf.failed)
    return EXIT_FAILED_CHECK if failed else EXIT_OK
