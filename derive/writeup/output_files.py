"""Writing the write-ups: every file to a temporary name first, then renamed; PDFs from pdflatex.

A crash or a full disk leaves either the old files or the new ones, never half of one and never
a mix: all files of one run are written to temporary names in the target folder before any is
renamed, and a rename that fails puts back the files renamed before it.
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
# One rule for every --name (derive's folder, graph's files): a plain name on any file system,
# no separators, no spaces or control characters, no leading dot (hidden) or dash (an option),
# and short enough that a folder and its file fit well inside NAME_MAX (255 bytes).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
NAME_RULE = "up to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
# Linux's PATH_MAX; the whole path of every file written must fit in it.
MAX_PATH_BYTES = 4096


class OutputError(ValueError):
    """An output name, folder or format that cannot be written; raised before any work starts."""


def check_name(name: str, option: str = "--name") -> str:
    """A plain file or folder name (NAME_RULE); raises OutputError otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise OutputError(f"{option} {name!r} is not accepted: use {NAME_RULE}")
    return name


def check_writable_folder(folder: str | os.PathLike, longest_file_name: str = "", option: str = "--out") -> Path:
    """Checks, before any work, that `folder` can be created (or is) a writable folder.

    Walks up to the nearest existing ancestor: it must be a folder we may write into, and no
    part of the way may be an existing file. The whole path must fit in MAX_PATH_BYTES.

    Raises:
        OutputError: with what is in the way.
    """
    folder = Path(folder)
    full = Path(os.path.abspath(folder / longest_file_name))
    if len(os.fsencode(str(full))) >= MAX_PATH_BYTES:
        raise OutputError(f"{option}: the path {str(full)[:60]}... is {len(os.fsencode(str(full)))} bytes, "
                          f"over the file system's limit of {MAX_PATH_BYTES}")
    for part in full.relative_to(full.anchor).parts:
        if len(os.fsencode(part)) > 255:
            raise OutputError(f"{option}: the name {part[:40]}... is {len(os.fsencode(part))} bytes, over the "
                              "file system's limit of 255")
    existing = folder
    while not existing.exists():
        if existing.is_symlink():
            raise OutputError(f"{option} {str(folder)!r}: {str(existing)!r} is a broken link")
        existing = existing.parent  # Path("a").parent is Path("."), which exists
    if not existing.is_dir():
        raise OutputError(f"{option} {str(folder)!r}: {str(existing)!r} exists and is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {str(folder)!r}: the folder {str(existing)!r} is not writable")
    return folder
# pdflatex on a two-page document takes about a second; a minute means something is stuck.
COMPILE_TIMEOUT_SECONDS = 120
# No timestamps in the PDF: pdfTeX reads these (together with \pdftrailerid{} in the preamble).
_REPRODUCIBLE = {"SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}


def write_files(folder: str | os.PathLike, files: Mapping[str, bytes]) -> list[Path]:
    """Writes each file of `files` (name -> content) into `folder`, all of them or none.

    Every file is staged under a temporary name first; an old file about to be replaced is kept
    under a second name (a hard link) until every rename has succeeded, so a rename that fails
    halfway puts the files already renamed back as they were.

    Raises:
        OSError: the folder cannot be created or written; no file is left half-written, no file
            of the set is changed, and no temporary file is left behind.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    temporary: list[tuple[str, Path]] = []
    try:
        for name, content in files.items():
            temporary.append((name, _stage(folder, name, content)))
    except BaseException:
        for _, path in temporary:
            path.unlink(missing_ok=True)
        raise
    backups: dict[str, Path | None] = {}  # name -> the old file kept aside, None: there was none
    written: list[Path] = []
    try:
        for name, _ in temporary:
            backups[name] = _keep_old(folder / name)
        for name, path in temporary:
            os.replace(path, folder / name)
            written.append(folder / name)
    except BaseException:
        for target in written:  # undo the renames done so far
            old = backups.get(target.name)
            if old is None:
                target.unlink(missing_ok=True)
            else:
                os.replace(old, target)
        raise
    finally:  # no temporary or backup is left behind, whatever happened
        for _, path in temporary:
            path.unlink(missing_ok=True)
        for old in backups.values():
            if old is not None:
                old.unlink(missing_ok=True)
    return written


def _stage(folder: Path, name: str, content: bytes) -> Path:
    handle, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        os.chmod(path, 0o666 & ~_umask())
    except BaseException:
        os.unlink(path)
        raise
    return Path(path)


def _keep_old(target: Path) -> Path | None:
    """A second name for the file at `target` (None when there is none), to restore it from."""
    if not target.is_file() or target.is_symlink():
        return None
    handle, path = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
    os.close(handle)
    os.unlink(path)
    try:
        os.link(target, path)  # the same file under a second name: nothing is copied
    except OSError:  # a file system without hard links
        shutil.copy2(target, path)
    return Path(path)


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


def tex_engine(engine: str = "") -> str | None:
    """The path of the TeX engine (pdflatex unless named), or None when it is not installed."""
    return shutil.which(engine or TEX_ENGINE)


def typeset(tex_source: str, stem: str, engine: str = "") -> tuple[bytes | None, CompileResult]:
    """Compiles `tex_source` in a scratch folder; returns the PDF's bytes (or None) and what happened.

    Nothing is written outside the scratch folder, which is removed with its .aux and .log.
    """
    engine = engine or TEX_ENGINE
    executable = tex_engine(engine)
    if executable is None:
        return None, CompileResult(None, f"no TeX engine found ({engine} is not on PATH): wrote the .tex only; "
                                         "install texlive-latex-base and texlive-latex-recommended for the PDF")
    with tempfile.TemporaryDirectory(prefix="backprop-tex-") as scratch:
        source = Path(scratch) / f"{stem}.tex"
        source.write_text(tex_source, encoding="utf-8")
        command = [executable, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", source.name]
        try:
            subprocess.run(command, cwd=scratch, env={**os.environ, **_REPRODUCIBLE}, capture_output=True,
                           timeout=COMPILE_TIMEOUT_SECONDS, check=True)
        except subprocess.TimeoutExpired:
            return None, CompileResult(None, f"{engine} did not finish in {COMPILE_TIMEOUT_SECONDS} s",
                                       failed=True)
        except subprocess.CalledProcessError:
            return None, CompileResult(None, f"{engine} failed: {first_error(Path(scratch) / f'{stem}.log')}",
                                       failed=True)
        return (Path(scratch) / f"{stem}.pdf").read_bytes(), CompileResult(None, f"compiled with {engine}")


def compile_pdf(tex_source: str, folder: str | os.PathLike, stem: str, engine: str = TEX_ENGINE) -> CompileResult:
    """Compiles `tex_source` with pdflatex in a scratch folder and writes `stem`.pdf into `folder`.

    The auxiliary files (.aux, .log) stay in the scratch folder and are removed with it.
    """
    pdf, result = typeset(tex_source, stem, engine)
    if pdf is None:
        return result
    [path] = write_files(folder, {f"{stem}.pdf": pdf})
    return CompileResult(path, result.message)


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
