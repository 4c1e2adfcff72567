"""Regenerates the golden write-ups under output/ on purpose: `python tools/refresh_golden.py`.

tests/test_golden.py regenerates the same specs into a temporary folder and byte-compares the .tex,
.md and .html with the committed ones (the pages hold Graphviz's drawings, so refreshing them, and
comparing them, needs `dot`: Debian's graphviz, as CI installs it); run this after a deliberate change to the write-ups, look at the
diff, and commit it. The PDFs are rebuilt too when pdflatex is installed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.report import write_derivation  # noqa: E402
from derive.network.spec import XOR_SPEC, NetworkSpec  # noqa: E402

# (folder name, spec): seed 000's net, Ng's column form, softmax, three hidden layers, no hidden layer.
GOLDEN = (
    ("xor-2-3-1", XOR_SPEC),
    ("ng-2-3-1-column-bias-unit-bce-l2", NetworkSpec(
        (2, 3, 1), ("sigmoid", "sigmoid"), cost="binary_cross_entropy", reduction="mean", bias="unit",
        convention="column", m=4, l2=1.0)),
    ("softmax-2-3-3-cce", NetworkSpec((2, 3, 3), ("sigmoid", "softmax"), cost="categorical_cross_entropy", m=4)),
    ("deep-2-3-3-3-1", NetworkSpec((2, 3, 3, 3, 1), ("sigmoid",) * 4, m=4)),
    ("single-layer-3-2", NetworkSpec((3, 2), ("sigmoid",), m=1)),
)
TEXT_FORMATS = ("tex", "md", "html")
# One-layer write-ups (each family in derive/cli/layers.py): output/<folder>/ from `backprop derive --layer`.
from derive.cli.layers import families  # noqa: E402

GOLDEN_LAYERS = tuple(folder for family in families() for folder, _ in family.goldens)
# A network with batch norm (`backprop derive --net ...`): (folder, net text, inputs D, examples N).
GOLDEN_NETS = (("bnnet-2-3-bn-relu-2-softmax", "dense(3) batchnorm relu dense(2) softmax", 2, 3),)


def refresh(out: Path = ROOT / "output", formats: tuple[str, ...] = TEXT_FORMATS + ("pdf",)) -> list[Path]:
    """Writes every golden write-up into `out`/<name>/; returns the files written."""
    _require_dot(formats)
    written = []
    for name, spec in GOLDEN:
        result = write_derivation(spec, out / name, formats)
        written += result.written
        if result.pdf is not None and result.pdf.pdf is None:
            print(f"{name}: {result.pdf.message}", file=sys.stderr)
    written += refresh_layers(out, formats)
    written += refresh_nets(out, formats)
    return written


def refresh_nets(out: Path = ROOT / "output", formats: tuple[str, ...] = TEXT_FORMATS + ("pdf",)) -> list[Path]:
    """Writes the write-ups of the nets with norms (GOLDEN_NETS)."""
    from checks.normalization.network_report import write_network_derivation
    from derive.program.norm_net import build_net

    written = []
    for folder, text, inputs, examples in GOLDEN_NETS:
        written += write_network_derivation(build_net(text, inputs, examples), out / folder, formats)[0]
    return written


def refresh_layers(out: Path = ROOT / "output", formats: tuple[str, ...] = TEXT_FORMATS + ("pdf",)) -> list[Path]:
    """Writes the normalisation layers' write-ups (the staged graph drawn by dot in the page, as above)."""
    _require_dot(formats)
    written = []
    for family in families():
        for folder, layer in family.goldens:
            result = family.write_golden(layer, out / folder, formats)
            written += result.written
            for line in result.summary:
                print(f"{folder}: {line}", file=sys.stderr)
    return written


def _require_dot(formats: tuple[str, ...]) -> None:
    # the golden pages hold dot's drawings, as `backprop derive` writes them where Graphviz is
    # installed; a page written without dot would carry a note instead and differ
    if "html" in formats and shutil.which("dot") is None:
        raise OSError("the golden HTML pages hold Graphviz's pictures: install graphviz (apt-get install "
                      "graphviz), or leave html out of the formats")


if __name__ == "__main__":
    for path in refresh():
        print(path.relative_to(ROOT))
