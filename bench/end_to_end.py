"""Table 4: `backprop derive` end to end in a cold process: the default net, and 784-100-10 (issue 10)."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from bench.harness import format_seconds, markdown_table

RUNS = 3
# issue 10's case: MNIST-sized relu/softmax net, column form, one example; goal under 5 s
MNIST_ARGUMENTS = ["--layers", "784-100-10", "--activation", "relu", "--output-activation", "softmax",
                   "--cost", "categorical_cross_entropy", "--reduction", "mean", "--bias", "vector",
                   "--convention", "column", "-m", "1", "--formats", "tex,md"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(arguments: list[str]) -> tuple[float, float, int, bool]:
    """(wall seconds, CPU seconds, exit code, PDF written) of one cold `backprop derive`."""
    with tempfile.TemporaryDirectory() as folder:
        cpu_before, started = _children_cpu(), time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "derive", "derive", *arguments, "--out", folder],
                                capture_output=True, text=True, env=dict(os.environ))
        seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
        pdf = any(name.endswith(".pdf") for _, _, files in os.walk(folder) for name in files)
    return seconds, cpu, result.returncode, pdf


def _table(title: str, arguments: list[str], runs: int) -> str:
    rows, walls, cpus = [], [], []
    for attempt in range(runs):
        seconds, cpu, code, pdf = _run(arguments)
        walls.append(seconds)
        cpus.append(cpu)
        rows.append([str(attempt + 1), format_seconds(seconds), format_seconds(cpu), str(code), "yes" if pdf else "no"])
    rows.append(["median", format_seconds(statistics.median(walls)), format_seconds(statistics.median(cpus)), "", ""])
    return f"## {title}\n\n" + markdown_table(["run", "wall time", "CPU time", "exit code", "PDF written"], rows)


def run(quick: bool) -> str:
    runs = 1 if quick else RUNS
    note = ("Wall-clock and CPU time (user + system) of the whole process, imports included, on 2 cores "
            "shared with other processes: when they compete, wall time runs up to twice the CPU time.")
    return "\n\n".join([
        _table("End to end: `backprop derive`, cold process", [], runs),
        _table("End to end: `backprop derive " + " ".join(MNIST_ARGUMENTS) + "`, cold process (no PDF)",
               MNIST_ARGUMENTS, runs),
        note])
