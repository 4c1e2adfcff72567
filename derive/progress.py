"""Progress bars for long work, on stderr, and only when stderr is a terminal.

A pipe, a file or a test capturing stderr gets nothing at all, so JSON output and logs stay clean;
at a terminal the bar waits SHOW_AFTER_SECONDS before it draws, so quick runs never flicker.
The bar itself is tqdm's: it handles terminal width, rates and the time left.
"""

from __future__ import annotations

import sys
from typing import Iterable, TextIO, TypeVar

from tqdm import tqdm

Item = TypeVar("Item")

# Issue 18: anything that can take more than about two seconds shows progress; work that ends
# sooner shows nothing.
SHOW_AFTER_SECONDS = 2.0


def progress(iterable: Iterable[Item], description: str, total: int | None = None,
             stream: TextIO | None = None) -> Iterable[Item]:
    """`iterable` itself, or wrapped in a tqdm bar on `stream` (stderr) when that is a terminal.

    Args:
        iterable: the work, one item per step.
        description: a few words shown before the bar, e.g. "finite differences".
        total: the number of items when len(iterable) does not give it.
        stream: where the bar goes; sys.stderr at call time by default.

    >>> items = [1, 2, 3]
    >>> progress(items, "counting", stream=open("/dev/null", "w")) is items  # not a terminal
    True
    """
    stream = sys.stderr if stream is None else stream
    if not _is_terminal(stream):
        return iterable
    return tqdm(iterable, desc=description, total=total, file=stream, delay=SHOW_AFTER_SECONDS,
                leave=False, dynamic_ncols=True)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream: not a terminal
        return False
