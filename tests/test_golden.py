"""The committed write-ups under output/ are what the code writes now, byte for byte.

After a deliberate change: `python tools/refresh_golden.py`, look at the diff, commit it.
"""

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _refresh_module():
    location = ROOT / "tools" / "refresh_golden.py"
    spec = importlib.util.spec_from_file_location("refresh_golden", location)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFRESH = _refresh_module()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("golden")
    # the pages inline dot's drawings: without dot they are not regenerated (their tests skip)
    formats = tuple(f for f in REFRESH.TEXT_FORMATS if f != "html" or shutil.which("dot"))
    REFRESH.refresh(out, formats)
    return out


SUFFIXES = [pytest.param(suffix, marks=pytest.mark.needs_dot) if suffix == "html" else suffix
            for suffix in REFRESH.TEXT_FORMATS]


@pytest.mark.parametrize("name", [name for name, _ in REFRESH.GOLDEN])
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_golden_file_is_regenerated_byte_for_byte(regenerated, name, suffix):
    committed = ROOT / "output" / name / f"derivation.{suffix}"
    fresh = regenerated / name / f"derivation.{suffix}"
    assert committed.exists(), f"{committed} is missing: run python tools/refresh_golden.py"
    assert fresh.read_bytes() == committed.read_bytes(), \
        f"{committed.relative_to(ROOT)} differs from what the code writes: if the change is deliberate, " \
        "run python tools/refresh_golden.py and commit the diff"
