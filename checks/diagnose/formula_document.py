"""verify-formula --latex and --file: LaTeX formulas, alone or found in a Markdown or LaTeX write-up."""

# A LaTeX formula is read by derive/formulas/latex_formula.py into the tree the NumPy parser makes, and
# checked by checks/formula_check.check_tree, so both notations meet one checker. A document is
# searched for its displayed formulas (```math fences and $$ in Markdown; \[ \], $$, equation and
# align environments in LaTeX), each split at its line breaks (\\); a line whose left side is a
# delta or a gradient (\delta^{(2)}, \frac{\partial J}{\partial W^{(1)}}, dW_1, ...) is checked,
# and a line `&= ...` continues the left side above it.

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from checks.diagnose import formula_program
from checks.diagnose.user_formula import FormulaVerdict, check_tree, matrix_grammar, resolve_target
from derive.formulas.expression_parser import FormulaError
from derive.formulas.latex_formula import (EntryFormula, GeneralFormula, LatexError, NoLayer, NotADefinition, parse_every_layer,
                                  parse_latex, parse_target)
from derive.network.spec import NetworkSpec

# A write-up of a net is tens of KiB (ours: 12-20 KiB of Markdown); 4 MiB is far above any and
# keeps a mistaken path (a data file, /dev/zero) from being read whole.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
DOCUMENT_SUFFIXES = (".md", ".markdown", ".tex")
# a left side that claims to be a delta or a gradient of the cost
_DEFINITION = re.compile(r"\\delta|\\partial\s*[JCLE]\b|\\nabla|^\s*d\s*[Wbz]")
_ENVIRONMENTS = r"(?:equation|align|aligned|gather|multline|eqnarray)\*?"
# a label in text before a formula, as in `\text{derived:} \quad & \delta^{(2)} = ...`
_LABEL = re.compile(r"^\\text\{[^{}]*\}\s*(\\q?quad)?\s*&?")
_LAYOUT = re.compile(r"\\(?:begin|end)\{(?:" + _ENVIRONMENTS + r"|split)\}")
_BLOCKS = {
    ".md": re.compile(r"^```math[ \t]*\n(?P<body>.*?)^```|\$\$(?P<body2>.*?)\$\$", re.S | re.M),
    ".tex": re.compile(r"\\\[(?P<body>.*?)\\\]|\$\$(?P<body2>.*?)\$\$|\\begin\{(?P<env>" + _ENVIRONMENTS +
                       r")\}(?P<body3>.*?)\\end\{(?P=env)\}", re.S),
}


def check_latex(text: str, target: str | None, spec: NetworkSpec) -> tuple[tuple[int | None, FormulaVerdict], ...]:
    r"""Checks a LaTeX formula for one derived quantity of `spec`; a formula for a general layer l
    is checked at every l of the net where all its names exist.

    Args:
        text: e.g. r"\delta^{(2)} = \left(\delta^{(3)} W^{(2)\top}\right) \odot \sigma'(z^{(2)})".
        target: what it claims to be when it has no left side (as --for); with a left side, None
            or the same quantity.
        spec: the network.

    Returns:
        (l, verdict) per right side and layer; l is None for a formula of one layer.

    Raises:
        LatexError: LaTeX outside the notation (with its character position).
        ValueError: no target, or a --for that disagrees with the left side.
    """
    names = matrix_grammar(spec).names
    try:
        equations = ((None, parse_latex(text, names, spec)),)
    except GeneralFormula:
        equations = parse_every_layer(text, names, spec)
    derivation = formula_program.cached_derivation(spec)
    checked = []
    for layer, equation in equations:
        if equation.target is None and target is None:
            raise ValueError("the formula has no left side: say what it is with --for (delta2, W1, ...) or "
                             "write it as \\delta^{(2)} = ...")
        name = resolve_target(equation.target or target, derivation)[0]
        if target is not None and equation.target is not None and resolve_target(target, derivation)[0] != name:
            raise ValueError(f"--for {target} disagrees with the formula's left side, which defines {name}")
        checked += [(layer, check_tree(side, text, name, spec)) for side in equation.sides]
    return tuple(checked)


@dataclass(frozen=True)
class DisplayedLine:
    """One line of a displayed formula: its line number in the file (1-based) and its LaTeX."""

    line: int
    text: str


@dataclass(frozen=True)
class FormulaResult:
    """The verdict on one displayed line: "correct", "wrong", "unread" or "skipped"."""

    line: int
    text: str
    status: str
    target: str = ""
    detail: str = ""

    def __str__(self) -> str:
        what = f" {self.target}" if self.target else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"line {self.line}:{what} {self.status.upper()}{detail}"


@dataclass(frozen=True)
class DocumentReport:
    """Every delta or gradient a document defines, with a verdict per line."""

    path: str
    results: tuple[FormulaResult, ...]

    @property
    def passed(self) -> bool:
        return any(r.status == "correct" for r in self.results) and \
            not any(r.status in ("wrong", "unread") for r in self.results)

    def text(self) -> str:
        counts = {status: sum(r.status == status for r in self.results)
                  for status in ("correct", "wrong", "unread", "skipped")}
        lines = [str(r) for r in self.results]
        lines.append(f"{self.path}: {counts['correct']} correct, {counts['wrong']} wrong, {counts['unread']} "
                     f"not read, {counts['skipped']} skipped (an entry, a name without a layer or a left side "
                     f"not read)")
        lines.append("verdict: " + ("CORRECT" if self.passed else "WRONG"))
        return "\n".join(lines)


def read_document(path: Path) -> str:
    """The document's text.

    Raises:
        ValueError: not a .md or .tex file, missing, too large or not UTF-8.
    """
    if path.suffix.lower() not in DOCUMENT_SUFFIXES:
        raise ValueError(f"{path}: --file reads Markdown (.md) or LaTeX (.tex), not {path.suffix or 'no suffix'}")
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    with path.open("rb") as stream:
        data = stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{path} is over {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; a write-up is far smaller")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start})") from None


def displayed_lines(text: str, suffix: str) -> list[DisplayedLine]:
    """Every line of every displayed formula, split at \\\\, with its line number in the file."""
    pattern = _BLOCKS[".md" if suffix.lower() in (".md", ".markdown") else ".tex"]
    found = []
    for match in pattern.finditer(text):
        group = next(g for g in ("body", "body2", "body3") if g in match.groupdict() and match.group(g) is not None)
        # layout commands become spaces of their length, so offsets and line numbers stay true
        body, start = _LAYOUT.sub(lambda m: " " * len(m.group()), match.group(group)), match.start(group)
        offset = 0
        for piece in re.split(r"(\\\\)", body):
            if piece != "\\\\":
                line = text.count("\n", 0, start + offset) + 1
                leading = len(piece) - len(piece.lstrip())
                line += piece[:leading].count("\n")
                cleaned = _LABEL.sub("", piece.strip()).strip().rstrip(".,;").strip()
                if cleaned:
                    found.append(DisplayedLine(line, cleaned))
            offset += len(piece)
    return found


def _split_left(text: str) -> tuple[str, str] | None:
    """(left side, the rest) at the first '=' outside braces, or None without one."""
    depth = 0
    for index, character in enumerate(text):
        depth += {"{": 1, "}": -1}.get(character, 0)
        if character == "=" and depth == 0:
            return text[:index].replace("&", " ").strip(), text[index + 1:]
    return None


def check_document(text: str, suffix: str, spec: NetworkSpec, path: str = "document") -> DocumentReport:
    """Checks every displayed formula of a write-up that defines a delta or a gradient.

    Args:
        text: the document's text.
        suffix: ".md" or ".tex".
        spec: the network the document derives.
        path: its name, for the report.

    Returns:
        The DocumentReport: a FormulaResult per line that defines a delta or a gradient.
    """
    names = matrix_grammar(spec).names
    results = []
    left = None
    for displayed in displayed_lines(text, suffix):
        split = _split_left(displayed.text)
        if split is None:
            left = None
            continue
        side, rest = split
        if side:
            left = side
        if left is None or not _DEFINITION.search(left):
            continue
        result = _check_line(displayed, left, "" if side else left + " ", names, spec)
        if result is not None:
            results.append(result)
    return DocumentReport(path, tuple(results))


def _check_line(displayed: DisplayedLine, left: str, prefix: str, names, spec: NetworkSpec) -> FormulaResult | None:
    """The verdict on one line; None when its left side reads but defines no delta or gradient.

    `prefix` is the left side carried from the line above for a line `&= ...` (else ""); the
    character positions reported count from the start of the line itself.
    """
    line = displayed.line
    try:
        parse_target(left, names, spec)
    except NotADefinition:
        return None
    except GeneralFormula:
        return _check_every_layer(displayed, prefix, names, spec)
    except (EntryFormula, NoLayer) as error:
        return FormulaResult(line, displayed.text, "skipped", detail=_without_position(str(error)))
    except LatexError as error:  # not known to define anything: shown, not held against the document
        return FormulaResult(line, displayed.text, "skipped", detail=f"left side not read: {error}")
    try:
        # '&' only aligns: a space of the same width keeps every character position
        equation = parse_latex(prefix + displayed.text.replace("&", " "), names, spec)
        name = resolve_target(equation.target, formula_program.cached_derivation(spec))[0]
        verdicts = [check_tree(side, displayed.text, name, spec) for side in equation.sides]
    except (EntryFormula, GeneralFormula) as error:
        return FormulaResult(line, displayed.text, "skipped", detail=_without_position(str(error)))
    except LatexError as error:
        return FormulaResult(line, displayed.text, "unread", detail=_on_the_line(error, len(prefix)))
    except FormulaError as error:  # e.g. a product both readings fit
        return FormulaResult(line, displayed.text, "unread", detail=str(error))
    wrong = [v for v in verdicts if not v.passed]
    if not wrong:
        return FormulaResult(line, displayed.text, "correct", name)
    data_term = _data_term(wrong, name, spec)
    if data_term:
        return FormulaResult(line, displayed.text, "correct", name, data_term)
    first = wrong[0].text().splitlines()
    reasons = [l.strip() for l in first if l.startswith(("shape error", "symbolic", "diagnosis", "fix", "  - "))]
    return FormulaResult(line, displayed.text, "wrong", name, "; ".join(reasons) or first[-1])


def _check_every_layer(displayed: DisplayedLine, prefix: str, names, spec: NetworkSpec) -> FormulaResult:
    """A line for a general layer l, checked at every l where its names exist."""
    line = displayed.line
    try:
        equations = parse_every_layer(prefix + displayed.text.replace("&", " "), names, spec)
    except (EntryFormula, NoLayer, GeneralFormula) as error:
        return FormulaResult(line, displayed.text, "skipped", detail=_without_position(str(error)))
    except LatexError as error:
        return FormulaResult(line, displayed.text, "unread", detail=_on_the_line(error, len(prefix)))
    derivation = formula_program.cached_derivation(spec)
    layers = ", ".join(str(layer) for layer, _ in equations)
    for layer, equation in equations:
        name = resolve_target(equation.target, derivation)[0]
        for side in equation.sides:
            verdict = check_tree(side, displayed.text, name, spec)
            if not verdict.passed and not _data_term([verdict], name, spec):
                reasons = [l.strip() for l in verdict.text().splitlines()
                           if l.startswith(("shape error", "symbolic", "diagnosis", "fix", "  - "))]
                return FormulaResult(line, displayed.text, "wrong", f"l = {layer}: {name}", "; ".join(reasons))
    return FormulaResult(line, displayed.text, "correct", "l = " + layers, f"the rule, at every layer l = {layers}")


def _data_term(wrong: list[FormulaVerdict], name: str, spec: NetworkSpec) -> str:
    """A weight gradient written without its L2 term, as a write-up does before adding it."""
    step = f"dJ_d{name}"
    if spec.l2 == 0 or not name.startswith("W"):
        return ""
    steps = {s.name for s in formula_program.cached_derivation(spec).steps}
    if step not in steps:
        return ""
    if all(check_tree(v.tree, v.source, name, spec, derived_step=step).passed for v in wrong):
        return f"the cost's data term {step}, without the L2 term"
    return ""


def _on_the_line(error: LatexError, carried: int) -> str:
    """The message with its position counted on the line, past a left side carried from above."""
    if not carried or error.position < carried:
        return str(error)
    return str(error).replace(f"at character {error.position + 1}", f"at character {error.position + 1 - carried}", 1)


def _without_position(message: str) -> str:
    return re.sub(r" at character \d+ \(.*\)$", "", message)
