"""The test suite's environment, declared in one place.

Markers:
    needs_dot      Graphviz's ``dot`` draws the pictures.
    needs_pdflatex a real TeX engine compiles the write-ups.
    needs_browser  a headless Chromium loads the HTML pages.
    slow           larger symbolic cases; deselected unless BACKPROP_RUN_SLOW=1 or --run-slow.

On a machine without one of those programs its tests are skipped, and the summary says what to
install. CI (``.ci/run``) installs them all and sets BACKPROP_REQUIRE_TOOLS=1, which turns such a
skip into a failure: a real TeX, ``dot`` or browser test can never be skipped silently there.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class ExternalTool:
    """A program some tests need, and how a person gets it."""

    description: str
    programs: tuple[str, ...]
    install: str

    def found(self) -> str | None:
        """The path of the first of programs on PATH, or None."""
        return next((path for path in map(shutil.which, self.programs) if path), None)


TOOLS = {
    "needs_dot": ExternalTool("Graphviz's dot", ("dot",), "apt-get install graphviz"),
    "needs_pdflatex": ExternalTool(
        "pdflatex", ("pdflatex",),
        "apt-get install texlive-latex-base texlive-latex-recommended texlive-fonts-recommended"),
    "needs_browser": ExternalTool("a headless Chromium", ("chromium", "chromium-browser", "google-chrome"),
                                  "apt-get install chromium"),
}

REQUIRE_TOOLS = os.environ.get("BACKPROP_REQUIRE_TOOLS") == "1"

_skipped_for: dict[str, int] = {}


def browser_path() -> str | None:
    """The headless browser the HTML tests drive, or None where there is none."""
    return TOOLS["needs_browser"].found()


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (as BACKPROP_RUN_SLOW=1 does)")


def pytest_configure(config):
    for marker, tool in TOOLS.items():
        config.addinivalue_line("markers", f"{marker}: needs {tool.description} ({tool.install})")
    config.addinivalue_line("markers", "slow: larger symbolic cases, run with --run-slow or BACKPROP_RUN_SLOW=1")


def _run_slow(config) -> bool:
    return config.getoption("--run-slow") or os.environ.get("BACKPROP_RUN_SLOW") == "1"


def pytest_collection_modifyitems(config, items):
    if _run_slow(config):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


def pytest_runtest_setup(item):
    for marker, tool in TOOLS.items():
        if item.get_closest_marker(marker) is None or tool.found():
            continue
        message = f"{tool.description} is not installed ({tool.install})"
        if REQUIRE_TOOLS:
            # in CI the tool was installed on purpose: its absence is a broken machine, not a skip
            pytest.fail(f"BACKPROP_REQUIRE_TOOLS=1 but {message}", pytrace=False)
        _skipped_for[marker] = _skipped_for.get(marker, 0) + 1
        pytest.skip(message)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _skipped_for:
        terminalreporter.section("tests skipped for a missing program")
        for marker, count in sorted(_skipped_for.items()):
            tool = TOOLS[marker]
            terminalreporter.write_line(f"{count} skipped: {tool.description} is not installed; "
                                        f"to run them: {tool.install}")
    if not _run_slow(config):
        terminalreporter.write_line("tests marked slow were deselected; run them with --run-slow "
                                    "(CI sets BACKPROP_RUN_SLOW=1)")
