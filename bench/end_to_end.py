"""Table 4: `backprop derive` on its default, in a cold process, PDF included."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from bench.harness import format_seconds, markdown_table

RUNS = 3


def run(quick: bool) -> str:
    rows = []
    for attempt in range(1 if quick else RUNS):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "derive", "derive", "--out", folder],
                                    capture_output=True, text=True, env=dict(os.environ))
            seconds = time.perf_counter() - started
            pdf = any(name.endswith(".pdf") for _, _, files in os.walk(folder) for name in files)
        rows.append([str(attempt + 1), format_seconds(seconds), str(result.returncode), "yes" if pdf else "no"])
    return "## End to end: `backprop derive`, cold process\n\n" + markdown_table(
        ["run", "wall time", "exit code", "PDF written"], rows)
