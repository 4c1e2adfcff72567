"""`backprop derive`: derive, prove and check a network, and write its derivation as LaTeX, PDF, Markdown and HTML.

The main job: with no options it derives seed 000's XOR net and writes output/xor-2-3-1/.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from derive.cli.spec_options import add_spec_options, spec_from_args
from derive.network.naming import LatexNotation
from derive.network.spec import XOR_SPEC, NetworkSpec
from derive.network.activations import activation as activation_entry
from derive.network.costs import cost as cost_entry
from derive.writeup import output_files
from derive.writeup.files import FORMATS, STEM
from derive.writeup.output_files import OutputError, check_name, check_writable_folder

EXIT_OK, EXIT_FAILED_CHECK = 0, 1


def write_derivation(*args, **kwargs):
    """checks.report.write_derivation, imported when a derivation is written: building the parser for
    any other command does not load the numeric routes."""
    from checks.report import write_derivation as write

    return write(*args, **kwargs)


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
    report = write_derivation(spec, folder, formats, notation, size_limit_factor=args.size_limit_factor)
    print(report.text())
    return EXIT_OK if report.ok else EXIT_FAILED_CHECK
