"""`python -m bench.normalization_timing`: batch norm derive + three proofs, first call and warm.

One figure is the whole job: derive dX, dgamma, dbeta from the forward pass, then prove them
entrywise (SymPy diff at N x D = 3 x 2), randomized in GF(2^61 - 1) (64 x 32, 2 trials) and at
index level (symbolic N, D). Three ways to count:
- first call: a fresh interpreter, imports done outside the clock;
- warm: repeated calls in one process (SymPy's own cache holds earlier intermediate results);
- warm, SymPy cache cleared before each call: the work itself, without SymPy's memo.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _import():
    import derive.normalization  # noqa: F401


def derive_and_prove() -> str:
    from derive.normalization import derive_normalization, prove_all
    results = prove_all(derive_normalization("batch"))
    assert all(r.ok for r in results), [r.text() for r in results]
    return "; ".join(r.text() for r in results)


def _median(function, rounds: int, before=None) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds): on a shared machine the CPU figure is steadier."""
    wall, cpu = [], []
    for _ in range(rounds):
        if before:
            before()
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    from sympy.core.cache import clear_cache

    from bench.harness import in_fresh_process
    first = [in_fresh_process(derive_and_prove, warmup=_import).seconds for _ in range(3)]
    _import()
    derive_and_prove()
    warm = _median(derive_and_prove, 7)
    uncached = _median(derive_and_prove, 5, before=clear_cache)
    load = os.getloadavg()[0]
    print(f"batch norm, derive + entrywise 3x2 + randomized 64x32 + index level "
          f"({os.cpu_count()} cores, load average {load:.1f}):")
    print(f"  first call in a fresh process (median of 3, wall): {statistics.median(first):.3f} s")
    print(f"  warm (median of 7):                      {warm[0]:.3f} s wall, {warm[1]:.3f} s CPU")
    print(f"  warm, SymPy cache cleared (median of 5): {uncached[0]:.3f} s wall, {uncached[1]:.3f} s CPU")


if __name__ == "__main__":
    main()
