"""`python -m bench --only verify-scale`: `backprop verify` at the sizes issue 14 names, against its goals.

Each case runs `python -m derive verify FILE.py:FUNCTION ...` (the `backprop` command's module) in a
fresh process, as a user would: interpreter start, imports, derivation, the calls of the function
and the diagnosis are all inside the time. Wall time is taken around the process; peak memory is
the child's own ru_maxrss as os.wait4 returns it for that one process (getrusage(RUSAGE_CHILDREN)
would report the largest of every child so far, so a small case after a large one would inherit
its peak). CPU time (user + system) is shown next to the wall time: with 2 cores shared with other
processes, wall time alone can double.

The goals (issue 14): cs231n's two-layer net at its real size, passing, under 5 s and 1 GB; any
passing check of a net with 200,000 parameters under 10 s; a failing one diagnosed (the mistake
named) within 30 s. The user code is cs231n's TwoLayerNet.loss: tests/fixtures/published/
cs231n_two_layer.py at 3072-50-10, and bench/fixtures/cs231n_scale.py (the same code, with three
planted mistakes) at 784-250-10, 198,760 parameters.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import format_seconds, markdown_table

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = "tests/fixtures/published/cs231n_two_layer.py"
PLANTED = "bench/fixtures/cs231n_scale.py"

# cs231n's conventions (tests/test_published_code.py's CS231N): integer labels from 0, (loss, grads),
# the penalty reg * sum(W * W) with reg = 0.05 (the fixtures' default argument)
CS231N_OPTIONS = ("--labels", "0", "--activation", "relu", "--output-activation", "softmax",
                  "--cost", "categorical_cross_entropy", "--reduction", "mean", "--bias", "vector",
                  "--l2", "0.05", "--returns", "cost,gradients", "--l2-convention", "full")

GIGABYTE = 10 ** 9  # the "1 GB", in bytes
RUNS = 3  # each full case runs this many times; the goal is judged on the slowest run
LIMIT_FACTOR = 4  # a run is stopped at this many times its goal: the row then says so


@dataclass(frozen=True)
class VerifyCase:
    """One `backprop verify` run and the issue's goal for it.

    named: a phrase the report must contain when the function fails (the mistake, as the tool
        names it); None for a passing function.
    """

    title: str
    target: str  # FILE.py:FUNCTION, relative to the repository
    layers: str
    m: int
    goal_seconds: float
    expected_exit: int
    named: str | None = None
    goal_bytes: int | None = None
    catalogued: bool = True  # False: a mistake no catalogue entry is; `named` is then the report's "no mistake" line

    def arguments(self) -> list[str]:
        return ["verify", self.target, "--layers", self.layers, "-m", str(self.m), *CS231N_OPTIONS]

    @property
    def parameters(self) -> int:
        sizes = [int(size) for size in self.layers.split("-")]
        return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))  # weights and bias vectors


REG_WITHOUT_TWO = "cs231n's `reg * W` where `2 * reg * W` belongs"
MEAN_MISSING = "1/m missing: the data term summed over the"
RELU_MASK_MISSING = "f' missing: delta2 = delta3 @ W2.T (relu_prime(z2) left out)"
# the search through every catalogue mistake, alone and up to 3 together, ran to its end: the slowest diagnosis
NOT_IN_CATALOGUE = "no mistake in the catalogue, alone or up to 3 together, reproduces the numbers"


def cases(layers: str, m: int, cs231n_layers: str, many_classes: str) -> list[VerifyCase]:
    """The table's cases: cs231n's net at cs231n_layers, the rest at `layers` (about 200,000
    parameters in the full table, a few hundred in the quick one and the tests), and a correct net
    of about as many parameters with many classes at `many_classes` (the softmax's K^2 partials per
    example are the derivation's dearest part)."""
    return [
        VerifyCase("cs231n TwoLayerNet.loss, correct", f"{PUBLISHED}:loss", cs231n_layers, m, 5.0, 0,
                   goal_bytes=GIGABYTE),
        VerifyCase("cs231n TwoLayerNet.loss, `reg * W` planted", f"{PUBLISHED}:loss_reg_without_two",
                   cs231n_layers, m, 30.0, 1, REG_WITHOUT_TWO),
        VerifyCase("the same code, correct", f"{PLANTED}:loss", layers, m, 10.0, 0),
        VerifyCase("the same code, correct, with many classes", f"{PLANTED}:loss", many_classes, m, 10.0, 0),
        VerifyCase("`reg * W` for `2 * reg * W` (an L2 mistake)", f"{PLANTED}:loss_reg_without_two", layers, m,
                   30.0, 1, REG_WITHOUT_TWO),
        VerifyCase("`dscores /= N` left out (1/m missing)", f"{PLANTED}:loss_without_mean", layers, m, 30.0, 1,
                   MEAN_MISSING),
        VerifyCase("`dhidden[hidden <= 0] = 0` left out (ReLU's f' missing)", f"{PLANTED}:loss_without_relu_mask",
                   layers, m, 30.0, 1, RELU_MASK_MISSING),
        VerifyCase("ReLU mask read off `X.dot(W1)` without `b1` (in no catalogue entry)",
                   f"{PLANTED}:loss_mask_without_bias", layers, m, 30.0, 1, NOT_IN_CATALOGUE, catalogued=False),
    ]


FULL_CASES = cases("784-250-10", 200, "3072-50-10", "1000-190-100")
QUICK_CASES = cases("30-8-10", 5, "30-8-10", "30-8-20")


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    peak_bytes: int
    exit_code: int | None  # None: stopped at the limit
    stdout: str


def run_case(case: VerifyCase, limit: float) -> Run:
    """One cold `python -m derive verify` of the case, its time, CPU time, peak memory and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # files, not pipes: os.wait4 below does not read a pipe, and a full pipe would block the child
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "derive", *case.arguments()], cwd=ROOT,
                                   stdout=out, stderr=err, env=dict(os.environ))
        stopped = threading.Event()

        def stop():
            stopped.set()
            process.kill()

        timer = threading.Timer(limit, stop)
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    # ru_maxrss is in KiB on Linux
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024,
               None if stopped.is_set() else process.returncode, stdout)


def diagnosis_of(stdout: str) -> str:
    """What the report names: its catalogue line, else its note or first hint, else its verdict."""
    lines = stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("diagnosis:"):
            follow = lines[index + 1].strip() if index + 1 < len(lines) else ""
            return follow[2:] if follow.startswith("- ") else line[len("diagnosis: "):]
    verdict = next((line for line in lines if line.startswith("verdict:")), "no verdict")
    return verdict


def _row(case: VerifyCase, runs: list[Run]) -> list[str]:
    seconds = [r.seconds for r in runs]
    slowest = max(runs, key=lambda r: r.seconds)
    peak = max(r.peak_bytes for r in runs)
    exits = sorted({r.exit_code for r in runs}, key=str)
    named = [case.named in r.stdout for r in runs] if case.named else []
    stopped = any(r.exit_code is None for r in runs)
    met_time = not stopped and slowest.seconds < case.goal_seconds
    met_memory = case.goal_bytes is None or peak < case.goal_bytes
    met_exit = exits == [case.expected_exit]
    met_named = all(named)
    goal = f"< {case.goal_seconds:.0f} s" + (f", < {case.goal_bytes / GIGABYTE:.0f} GB" if case.goal_bytes else "")
    if not case.catalogued:
        goal += " to the report (nothing to name: the whole search runs)"
    time_text = format_seconds(statistics.median(seconds))
    if len(runs) > 1:
        time_text += f" ({format_seconds(min(seconds))} to {format_seconds(max(seconds))})"
    if stopped:
        time_text += " (stopped at the limit)"
    what = diagnosis_of(slowest.stdout) if case.expected_exit else "PASS" if slowest.exit_code == 0 else \
        diagnosis_of(slowest.stdout)
    if case.named and case.catalogued:
        what = ("named: " if met_named else "NOT named: ") + what
    elif case.named:  # the mistake is in no catalogue entry: the report localizes it, if it can
        hint = next((line for line in slowest.stdout.splitlines() if "the mistake is in" in line), "")
        what = f"not named ({what}); {hint}" if hint else f"not named ({what})"
    verdict = "yes" if met_time and met_memory and met_exit and met_named else "NO"
    return [case.title, f"`{case.target.split(':')[1]}`", f"{case.layers} ({case.parameters:,}), m = {case.m}", goal,
            time_text, format_seconds(statistics.median(r.cpu_seconds for r in runs)),
            f"{peak / 2 ** 20:,.0f} MiB", f"{', '.join(map(str, exits))} (expected {case.expected_exit})",
            what.replace("|", "\\|"), verdict]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def run(quick: bool) -> str:
    chosen, runs = (QUICK_CASES, 1) if quick else (FULL_CASES, RUNS)
    load_before = _load()
    rows = []
    for case in chosen:
        rows.append(_row(case, [run_case(case, LIMIT_FACTOR * case.goal_seconds) for _ in range(runs)]))
    header = ["case", "function", "network (parameters), batch", "goal",
              f"wall time (median of {runs}, range)" if runs > 1 else "wall time", "CPU time", "peak RSS",
              "exit code", "what the report says", "goal met"]
    example = chosen[-1]
    notes = [
        f"Each row: `python -m derive {' '.join(example.arguments())}` (its file, function, layers and m), "
        f"{runs} cold process{'es' if runs > 1 else ''}, the goal judged on the slowest; "
        "peak RSS is the largest ru_maxrss of the process itself (os.wait4), not of earlier children.",
        f"Load average (1, 5, 15 min) before: {load_before}; after: {_load()}; {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, one BLAS thread (OPENBLAS_NUM_THREADS="
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}). Another process on the machine shows as "
        "wall time above CPU time.",
        "A failing row's goal counts only when the exit code is 1 and the report names the planted mistake "
        "(\"named\") in every run. The last row's mistake is in no catalogue entry, so nothing can name it at any "
        "size: it times the slowest diagnosis, every catalogue mistake alone and up to 3 together "
        "(checks/diagnose/mistakes.py, the combined search stops after 4 s).",
    ]
    return "## `backprop verify` at scale (issue 14)\n\n" + markdown_table(header, rows) + "\n\n" + "\n\n".join(notes)
