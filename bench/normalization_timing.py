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
    assert all(r.holds for r in results), [r.text() for r in results]
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


# ---------------------------------------------------------------- the bench table (python -m bench)

# the evaluation row's size: a batch of 256 with 1024 features, a typical hidden layer
EVALUATION_SIZE = (256, 1024)


def _derive_and_prove_kind(kind: str) -> str:
    from derive.normalization import derive_normalization, prove_all
    results = prove_all(derive_normalization(kind))
    assert all(r.holds for r in results), [r.text() for r in results]
    return ""


def _derive_kind(kind: str) -> str:
    from derive.normalization import derive_normalization
    derive_normalization(kind)
    return ""


def _end_to_end(layer: str) -> float:
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "derive", "derive", "--layer", layer, "--out", folder],
                       capture_output=True, check=True)
        return time.perf_counter() - started


def _evaluation_medians(kind: str, rounds: int) -> tuple[float, float]:
    """(derived matrix form, hand-written staged backward) seconds per call at EVALUATION_SIZE."""
    import numpy as np

    from bench.harness import interleaved_medians
    from checks.handwritten import normalization as norm_reference
    from derive.normalization import derive_normalization, evaluate_gradients

    gradients = derive_normalization(kind)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(EVALUATION_SIZE)
    gamma, beta = rng.standard_normal(EVALUATION_SIZE[1]), rng.standard_normal(EVALUATION_SIZE[1])
    dout = rng.standard_normal(EVALUATION_SIZE)
    _, cache = norm_reference.forward(kind, x, gamma, beta)
    medians = interleaved_medians({
        # both compute the statistics from x: the derived route inside evaluate_gradients, the
        # hand-written one in its forward, which caches what the backward reads
        "derived": lambda: evaluate_gradients(gradients, x, gamma, dout),
        "hand": lambda: norm_reference.backward(dout, norm_reference.forward(kind, x, gamma, beta)[1])}, rounds)
    return medians["derived"], medians["hand"]


# ---------------------------------------------------------------- a peer: tensorgrad (optional)

def _tensorgrad_dx(kind: str):
    """tensorgrad 0.3.0's dJ/dx for the same layer, J = sum(G * y), built from its primitives."""
    from fractions import Fraction

    import sympy
    import tensorgrad as tg
    import tensorgrad.functions as F

    N, D = sympy.symbols("N D", positive=True, integer=True)
    x, G = tg.Variable("x", n=N, d=D), tg.Variable("G", n=N, d=D)
    gamma, beta, eps = tg.Variable("gamma", d=D), tg.Variable("beta", d=D), tg.Variable("eps")
    axis = "n" if kind == "batch" else "d"
    centred = x - F.mean(x, axis, keepdims=True)
    variance = F.mean(centred * centred, axis, keepdims=True)
    y = gamma * centred * F.pow(variance + eps, Fraction(-1, 2)) + beta
    return F.sum(G * y).grad(x).full_simplify()


def _import_tensorgrad():
    import tensorgrad  # noqa: F401  (torch comes with it: a second or more, outside the clock)
    _import()


def _tensorgrad_terms(kind: str) -> str:
    dx = _tensorgrad_dx(kind)
    from tensorgrad.extras.to_latex import to_latex
    return f"{len(getattr(dx, 'terms', (dx,)))} terms, {len(to_latex(dx))} LaTeX characters"


def _ours_terms(kind: str) -> str:
    from derive.normalization import derive_normalization
    dX = derive_normalization(kind).dX
    return f"{sum(1 for p in dX.paths if not p.vanishes)} terms, {len(dX.latex())} LaTeX characters"


def tensorgrad_rows() -> list[list[str]]:
    """Rows comparing our derivation with tensorgrad's, or one row saying it is not installed."""
    from bench.harness import format_seconds, in_fresh_process

    try:
        from importlib.metadata import version
        peer = f"tensorgrad {version('tensorgrad')}"
        import tensorgrad  # noqa: F401
    except Exception:  # not installed: `pip install tensorgrad==0.3.0` (pulls in torch)
        return [["tensorgrad (peer)", "not installed", "not installed"]]
    kinds = ("batch", "layer")
    timed = [in_fresh_process(_tensorgrad_terms, kind, warmup=_import_tensorgrad) for kind in kinds]
    return [[f"{peer}: dJ/dx by grad + full_simplify (fresh process, imports outside the clock)"]
            + [format_seconds(m.seconds) for m in timed],
            [f"{peer}: size of its dJ/dx"] + [m.detail or "failed" for m in timed],
            ["ours: size of the derived dJ/dX"] + [_ours_terms(kind) for kind in kinds]]


def run(quick: bool) -> str:
    """The normalisation rows of `python -m bench`, as a Markdown table."""
    from bench.harness import format_seconds, in_fresh_process, markdown_table

    rows = []
    kinds = (("batch", "batchnorm"), ("layer", "layernorm"))
    first = [in_fresh_process(_derive_kind, kind, warmup=_import).seconds for kind, _ in kinds]
    rows.append(["derive dX, dgamma, dbeta (fresh process)"] + [format_seconds(s) for s in first])
    proved = [in_fresh_process(_derive_and_prove_kind, kind, warmup=_import).seconds for kind, _ in kinds]
    rows.append(["derive + entrywise 3x2 + randomized GF(p) 64x32 + index level (fresh process)"]
                + [format_seconds(s) for s in proved])
    runs = 1 if quick else 3
    cold = [statistics.median(_end_to_end(layer) for _ in range(runs)) for _, layer in kinds]
    rows.append([f"`backprop derive --layer` end to end, cold process, with the PDF when pdflatex is "
                 f"installed (median of {runs})"] + [format_seconds(s) for s in cold])
    evaluations = [_evaluation_medians(kind, 5 if quick else 21) for kind, _ in kinds]
    size = f"{EVALUATION_SIZE[0]} x {EVALUATION_SIZE[1]}"
    rows.append([f"derived formula evaluated in NumPy, forward statistics included, {size}"]
                + [format_seconds(d) for d, _ in evaluations])
    rows.append([f"hand-written staged forward + backward (checks/handwritten/normalization.py), {size}"]
                + [format_seconds(h) for _, h in evaluations])
    rows += tensorgrad_rows()
    return ("## Normalisation layers: derive, prove, write up, evaluate\n\n"
            + markdown_table(["job", "batch norm", "layer norm"], rows)
            + "\n\ntensorgrad builds the same layer from its primitives (mean, pow) and differentiates the "
              "whole cost; its simplified dJ/dx is written in raw x and the statistics' expressions "
              "(no x_hat), with more terms than the three-term form. Its result is not checked numerically here: its evaluator needs "
              "PyTorch's named tensors, which the installed PyTorch no longer has. Optional: "
              "`pip install tensorgrad==0.3.0`.")


if __name__ == "__main__":
    main()
