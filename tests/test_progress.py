"""Progress shows on stderr at a terminal and nowhere else, so pipes and JSON stay clean."""

import fcntl
import io
import os
import pty
import struct
import termios
import subprocess
import sys
from pathlib import Path

import numpy as np

from checks.routes.finite_differences import finite_difference_gradient
from derive.progress import progress

ROOT = Path(__file__).resolve().parent.parent
# A loop long enough for the bar to appear: SHOW_AFTER_SECONDS is overridden to 0 below.
_SCRIPT = """
import derive.progress as p
p.SHOW_AFTER_SECONDS = 0
for _ in p.progress(range(3), "counting"):
    pass
print("done")
"""


def test_progress_returns_the_iterable_untouched_when_the_stream_is_not_a_terminal():
    items = [1, 2, 3]
    stream = io.StringIO()
    assert progress(items, "counting", stream=stream) is items
    assert stream.getvalue() == ""


def test_nothing_reaches_stderr_when_it_is_a_pipe():
    run = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout == "done\n" and run.stderr == ""


def test_a_bar_is_drawn_on_stderr_when_it_is_a_terminal():
    leader, follower = pty.openpty()
    # a new pseudo-terminal is 0 columns wide, and tqdm draws nothing in 0 columns
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        run = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=follower, text=True, check=True)
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert run.stdout == "done\n"
    assert b"counting" in drawn and b"0/3" in drawn


def test_finite_differences_pass_every_entry_through_the_progress_hook():
    seen = []

    def record(entries, description, total):
        seen.append((description, total))
        return entries

    gradient = finite_difference_gradient(lambda p: float(np.sum(p["W1"] ** 2)), {"W1": np.ones((2, 3))},
                                          progress=record)
    assert seen == [("finite differences", 6)]
    assert np.allclose(gradient["W1"], 2.0)
