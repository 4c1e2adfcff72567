"""Each golden HTML page in a real headless Chromium, with the network blocked: no console
message, no LaTeX left unrendered, and a screenshot that is not blank."""

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import browser_path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_PAGES = sorted(ROOT.glob("output/*/derivation.html"))
# Chromium starts in about a second here; a page that takes a minute is stuck.
BROWSER_TIMEOUT_SECONDS = 60
# A blank page is one colour; text, formulas and rules make thousands of non-white pixels.
MIN_INKED_PIXELS = 5000
_FLAGS = ("--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--mute-audio",
          # every host name fails to resolve: the page can fetch nothing even if it tried
          "--host-resolver-rules=MAP * ~NOTFOUND", "--no-first-run", "--disable-extensions",
          "--disable-background-networking", "--disable-component-update", "--window-size=1200,1600",
          # console messages go to stderr as INFO:CONSOLE lines
          "--enable-logging=stderr", "--v=0")


def _chromium(page: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [browser_path(), *_FLAGS, f"--user-data-dir={cwd / 'profile'}", *arguments, page.as_uri()]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_SECONDS)


class _VisibleText(HTMLParser):
    """The text a reader sees (or unfolds): everything outside <style> and <title>."""

    def __init__(self):
        super().__init__()
        self.skipping, self.text, self.math = 0, [], 0

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in ("style", "title")
        self.math += tag == "math"

    def handle_endtag(self, tag):
        self.skipping -= tag in ("style", "title")

    def handle_data(self, data):
        if not self.skipping:
            self.text.append(data)


def test_every_golden_write_up_has_an_html_page():
    for tex in ROOT.glob("output/*/derivation.tex"):
        assert tex.with_suffix(".html").exists(), f"{tex.with_suffix('.html')} is missing"


def _check_loads_cleanly(page: Path, tmp_path: Path) -> None:
    loaded = _chromium(page, "--dump-dom", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    console = [line for line in loaded.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "\n".join(console)
    text = _VisibleText()
    text.feed(loaded.stdout)
    visible = "".join(text.text)
    assert text.math == page.read_text(encoding="utf-8").count("<math"), "the browser dropped formulas"
    leftover = re.findall(r"\\[A-Za-z]{2,}|\$", visible)
    assert leftover == [], f"raw LaTeX in the visible text: {sorted(set(leftover))}"


@pytest.mark.needs_browser
@pytest.mark.parametrize("page", GOLDEN_PAGES, ids=lambda p: p.parent.name)
def test_golden_page_loads_offline_without_console_messages_and_renders_every_formula(page, tmp_path):
    _check_loads_cleanly(page, tmp_path)


@pytest.mark.needs_browser
@pytest.mark.needs_dot
def test_page_with_its_graphviz_pictures_loads_offline_without_console_messages(tmp_path):
    # the golden pages leave the pictures out (see derive/writeup/pictures.py); this one has both
    from derive import XOR_SPEC, derive
    from derive.writeup.pictures import pictures
    from derive.writeup.build import derivation_html

    page = tmp_path / "derivation.html"
    page.write_text(derivation_html(derive(XOR_SPEC), pictures=pictures(XOR_SPEC)), encoding="utf-8")
    assert page.read_text(encoding="utf-8").count("<svg") == 2
    _check_loads_cleanly(page, tmp_path)


@pytest.mark.needs_browser
@pytest.mark.parametrize("page", GOLDEN_PAGES, ids=lambda p: p.parent.name)
def test_golden_page_screenshot_is_not_blank(page, tmp_path):
    from PIL import Image

    shot = tmp_path / "page.png"
    taken = _chromium(page, f"--screenshot={shot}", cwd=tmp_path)
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    console = [line for line in taken.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "\n".join(console)
    with Image.open(shot) as image:
        grey = image.convert("L")
        inked = sum(count for value, count in enumerate(grey.histogram()) if value < 200)
    assert inked > MIN_INKED_PIXELS, f"only {inked} inked pixels: the page looks blank"
