"""Writing the write-ups: every file to a temporary name first, then renamed; PDFs from pdflatex.

A crash or a full disk leaves either the old file or the new one, never half of one: all files
of one run are written to temporary names in the target folder before any is renamed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

TEX_ENGINE = "pdflatex"
# pdflatex on a two-page document takes about a second; a minute means something is stuck.
COMPILE_TIMEOUT_SECONDS = 120
# No timestamps in the PDF: pdfTeX reads these (together with \pdftrailerid{} in the preamble).
_REPRODUCIBLE = {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}


def write_files(folder: str | os.PathLike, files: Mapping[str, bytes]) -> list[Path]:
    """Writes each file of `files` (name -> content) into `folder`, atomically as a set of renames.

    Raises:
        OSError: the folder cannot be created or written; no file is left half-written and no
            temporary file is left behind.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    temporary: list[tuple[str, Path]] = []
    try:
        for name, content in files.items():
            handle, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            temporary.append((name, Path(path)))
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
            # mkstemp makes the file private (0600); give it the mode a plain open() would
            os.chmod(path, 0o666 & ~_umask())
    except BaseException:
        for _, path in temporary:
            path.unlink(missing_ok=True)
        raise
    written = []
    try:
        for name, path in temporary:
            target = folder / name
            os.replace(path, target)
            written.append(target)
    finally:  # a failed rename (a full disk, a read-only target) leaves no temporary behind
        for _, path in temporary:
            path.unlink(missing_ok=True)
    return written


def write_file(path: str | os.PathLike, content: bytes) -> Path:
    """Writes one file atomically (see write_files)."""
    path = Path(path)
    return write_files(path.parent, {path.name: content})[0]


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


@dataclass(frozen=True)
class CompileResult:
    """What became of the PDF: its path, or why there is none."""

    pdf: Path | None
    message: str
    failed: bool = False  # True when a TeX engine ran and reported an error


def compile_pdf(tex_source: str, folder: str | os.PathLike, stem: str, engine: str = TEX_ENGINE) -> CompileResult:
    """Compiles `tex_source` with pdflatex in a scratch folder and writes `stem`.pdf into `folder`.

    The auxiliary files (.aux, .log) stay in the scratch folder and are removed with it.
    """
    executable = shutil.which(engine)
    if executable is None:
        return CompileResult(None, f"no TeX engine found ({engine} is not on PATH): wrote the .tex only; "
                                   "install texlive-latex-base and texlive-latex-recommended for the PDF")
    with tempfile.TemporaryDirectory(prefix="backprop-tex-") as scratch:
        source = Path(scratch) / f"{stem}.tex"
        source.write_text(tex_source, encoding="utf-8")
        command = [executable, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", source.name]
        try:
            subprocess.run(command, cwd=scratch, env={**os.environ, **_REPRODUCIBLE}, capture_output=True,
                           timeout=COMPILE_TIMEOUT_SECONDS, check=True)
        except subprocess.TimeoutExpired:
            return CompileResult(None, f"{engine} did not finish in {COMPILE_TIMEOUT_SECONDS} s", failed=True)
        except subprocess.CalledProcessError:
            return CompileResult(None, f"{engine} failed: {first_error(Path(scratch) / f'{stem}.log')}",
                                 failed=True)
        pdf = (Path(scratch) / f"{stem}.pdf").read_bytes()
    [path] = write_files(folder, {f"{stem}.pdf": pdf})
    return CompileResult(path, f"compiled with {engine}")


def first_error(log: Path) -> str:
    """The first TeX error of a log ("! Undefined control sequence. ..."), on one line."""
    if not log.exists():
        return "no log written"
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    for index, line in enumerate(lines):
        if line.startswith("!"):
            context = " ".join(part.strip() for part in lines[index:index + 3])
            return re.sub(r"\s+", " ", context)
    return "see the log"
