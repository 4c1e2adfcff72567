"""Running one measurement in a fresh process, with a time limit and its peak memory."""

from __future__ import annotations

import json
import multiprocessing
import random
import resource
import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Measurement:
    seconds: float | None  # None: stopped at the time limit
    peak_mib: float | None
    detail: str = ""


def _child(target: Callable, arguments: tuple, queue, warmup: Callable | None = None) -> None:
    if warmup is not None:
        warmup()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    detail = target(*arguments)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "base_mib": before / 1024,
                          "detail": detail or ""}))


def in_fresh_process(target: Callable, *arguments, limit: float = 60.0,
                     warmup: Callable | None = None) -> Measurement:
    """Runs target(*arguments) in a new interpreter; warmup() runs first, outside the clock."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, arguments, queue, warmup))
    process.start()
    process.join(limit + 15)  # the child's imports and warm-up are outside the measured time
    if process.is_alive():
        process.kill()
        process.join()
        return Measurement(None, None, f"stopped at the {limit:.0f} s limit")
    if queue.empty():
        return Measurement(None, None, f"failed (exit code {process.exitcode})")
    data = json.loads(queue.get())
    if data["seconds"] > limit:
        return Measurement(None, data["peak_mib"], f"over the {limit:.0f} s limit ({data['seconds']:.1f} s)")
    return Measurement(data["seconds"], data["peak_mib"], data["detail"])


def interleaved_medians(functions: dict[str, Callable[[], object]], rounds: int,
                        calls: int = 1) -> dict[str, float]:
    """Median seconds per call of each function, taking turns so drift hits all alike.

    Each sample times `calls` calls in a row (the first call after another route runs on cold
    caches: at 2-3-1 that alone tripled a 16 µs figure), and the turn order is shuffled every
    round (seeded), so that no function always follows the same one: in a fixed cycle, the lean
    reference (always right after JAX's compiled call) measured 25 % slower than alone.
    """
    samples: dict[str, list[float]] = {name: [] for name in functions}
    names = list(functions)
    _take_turns(functions, names, rounds, calls, samples)
    return {name: statistics.median(values) for name, values in samples.items()}


def _take_turns(functions, names, rounds, calls, samples) -> None:
    order = random.Random(0)
    for _ in range(rounds):
        for name in order.sample(names, len(names)):
            function = functions[name]
            started = time.perf_counter()
            for _ in range(calls):
                function()
            samples[name].append((time.perf_counter() - started) / calls)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
