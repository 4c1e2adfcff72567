"""A time limit on a call of a person's function: SIGALRM in the main thread."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class TimeUp(BaseException):
    """The body ran past its time limit.

    BaseException, not Exception: a bare `except Exception` in the user's code does not swallow it.
    """


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raises TimeUp in the main thread when the body runs longer than `seconds`.

    A thread cannot be stopped from outside, and a subprocess would need the function to be
    importable by name (a lambda or closure is not): so SIGALRM. Its limits: POSIX only, the main
    thread only (elsewhere, and with seconds None, there is no limit), and the alarm is seen
    between Python bytecodes, so one long C call (a huge matrix product) finishes first. It repeats
    every second after the first, so a function that catches it once still ends.
    """
    if seconds is None or not hasattr(signal, "setitimer") \
            or threading.current_thread() is not threading.main_thread():
        yield
        return
    running = [True]

    def on_alarm(signum, frame):
        if running[0]:  # an alarm arriving while the limit is being lifted is ignored
            raise TimeUp()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        running[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
