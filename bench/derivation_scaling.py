"""Table 1: derive + prove time against network size, next to differentiating the whole cost."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from bench.harness import format_seconds, in_fresh_process, markdown_table

# (layers, bias, m): the sizes issue 7 names
FULL_SIZES = [("2-3-1", "none", 4), ("2-2-2", "vector", 4), ("2-3-3-1", "none", 4), ("2-4-4-4-1", "none", 4),
              ("8-8-8-8-4", "none", 4), ("16-32-16", "none", 4), ("64-64-10", "none", 4),
              ("784-30-10", "none", 4), ("784-100-10", "none", 1)]
QUICK_SIZES = FULL_SIZES[:5]
NAIVE_LIMIT = 30.0  # seconds; the whole-cost route past this is reported as stopped
# Two cores shared with other processes: one run can be twice another. Each figure in the ratio
# column is the median of this many fresh processes; the other columns are single runs.
REPEATS = 3
PEER_REPEATS = 5


def _spec(layers: str, bias: str, m: int):
    from derive.network.spec import parse_spec

    return parse_spec(layers, bias=bias, m=m)


def derive_and_prove(layers: str, bias: str, m: int, proofs: str = "auto") -> str:
    from derive.api import derive

    derivation = derive(_spec(layers, bias, m), proofs=proofs)
    if proofs == "none":
        return "no proof run"
    strategies = ", ".join(p.strategy for p in derivation.proofs if p.holds)
    return f"proved: {strategies}" if derivation.proved else "NOT PROVED"


def derive_only(layers: str, bias: str, m: int) -> str:
    from derive.backward.derivation import derive_rule

    derive_rule(_spec(layers, bias, m))
    return ""


def whole_cost_route(layers: str, bias: str, m: int) -> str:
    """What a SymPy user does: build J with the activations written out, diff it by every weight."""
    import sympy as sp

    from derive.network.symbols import symbolic_network

    network = symbolic_network(_spec(layers, bias, m))
    cost = network.full_cost(concrete=True)
    for quantity in network.parameters():
        for position in quantity.positions():
            sp.diff(cost, quantity.entry(*position))
    return ""


CPU_SEPARATOR = "\x1f"  # between a target's detail and its CPU seconds, in the harness's detail text


def with_cpu_time(target, *arguments) -> str:
    """target(*arguments)'s detail, followed by the CPU seconds it took in its process."""
    started = time.process_time()
    detail = target(*arguments) or ""
    return f"{detail}{CPU_SEPARATOR}{time.process_time() - started:.6f}"


@dataclass(frozen=True)
class Timing:
    """Median wall-clock and CPU seconds of several fresh-process runs (None: stopped)."""

    seconds: float | None
    cpu_seconds: float | None
    peak_mib: float | None
    detail: str


def median_in_fresh_processes(repeats: int, target, *arguments, **options) -> Timing:
    """The medians of `repeats` fresh-process runs; stopped (None) if any run was stopped.

    CPU time is reported beside wall time: with other processes on the 2 cores, a long run
    (the whole-cost route) waits for the CPU more than a short one, so a ratio of wall times
    drifts with the machine's load, and a ratio of CPU times much less.
    """
    runs = [in_fresh_process(with_cpu_time, target, *arguments, **options) for _ in range(repeats)]
    stopped = [run for run in runs if run.seconds is None]
    if stopped:
        return Timing(None, None, stopped[0].peak_mib, stopped[0].detail)
    details = [run.detail.rpartition(CPU_SEPARATOR) for run in runs]
    return Timing(statistics.median(run.seconds for run in runs),
                  statistics.median(float(cpu) for _, _, cpu in details),
                  max(run.peak_mib or 0 for run in runs), details[0][0])


def tensorgrad_two_layer_mlp() -> str:
    """tensorgrad 0.3.0: dJ/dW1 and dJ/dW2 of J = 1/2 ||sigmoid(sigmoid(X W1) W2) - Y||^2 at
    symbolic sizes, each simplified until it no longer changes (its full_simplify)."""
    import sympy as sp
    import tensorgrad as tg
    import tensorgrad.functions as F

    b, x, h, y = sp.symbols("b x h y")
    X, Y = tg.Variable("X", b, x), tg.Variable("Y", b, y)
    W1, W2 = tg.Variable("W1", x, h), tg.Variable("W2", h, y)
    cost = F.frobenius2(F.sigmoid(F.sigmoid(X @ W1) @ W2) - Y) / 2
    gradients = [cost.grad(W).full_simplify() for W in (W1, W2)]
    return f"{sum(len(str(g)) for g in gradients)} characters of expression"


def import_tensorgrad() -> None:
    import tensorgrad  # noqa: F401  (import time is not derivation time)


def import_derive() -> None:
    from derive.api import derive  # noqa: F401


def warm_up() -> None:
    """Derives a 1-1 net in each convention: imports, SymPy's first-use caches, and the
    size-independent index-level argument are paid once per process, not per network."""
    from derive.api import derive
    from derive.network.spec import parse_spec

    for convention in ("row", "column"):
        derive(parse_spec("1-1", convention=convention), proofs="randomized")


def run(quick: bool) -> str:
    rows = []
    for layers, bias, m in (QUICK_SIZES if quick else FULL_SIZES):
        spec = _spec(layers, bias, m)
        proved = median_in_fresh_processes(REPEATS, derive_and_prove, layers, bias, m, limit=120, warmup=warm_up)
        randomized = in_fresh_process(derive_and_prove, layers, bias, m, "randomized", limit=120, warmup=warm_up)
        only = in_fresh_process(derive_only, layers, bias, m, limit=120, warmup=warm_up)
        cold = in_fresh_process(derive_and_prove, layers, bias, m, limit=120)
        # median of REPEATS where it finishes in seconds; one run where it meets the limit anyway
        naive = median_in_fresh_processes(REPEATS if spec.parameter_count <= 100 else 1, whole_cost_route,
                                          layers, bias, m, limit=NAIVE_LIMIT, warmup=warm_up) \
            if spec.parameter_count <= 300 else None
        if naive is None or naive.seconds is None:
            ratio = f"> {NAIVE_LIMIT / proved.seconds:.0f}x" if proved.seconds and naive is not None else "—"
            cpu_ratio = "—"
            naive_text = naive.detail if naive is not None else "not attempted (too large)"
        else:
            ratio = f"{naive.seconds / proved.seconds:.0f}x"
            cpu_ratio = f"{naive.cpu_seconds / proved.cpu_seconds:.0f}x"
            naive_text = f"{format_seconds(naive.seconds)} (CPU {format_seconds(naive.cpu_seconds)})"
        rows.append([f"{layers} (bias {bias}, m = {m})", str(spec.parameter_count),
                     f"{format_seconds(proved.seconds)} (CPU {format_seconds(proved.cpu_seconds)})",
                     format_seconds(randomized.seconds),
                     format_seconds(only.seconds), format_seconds(cold.seconds), naive_text, ratio, cpu_ratio,
                     f"{proved.peak_mib:.0f} MiB" if proved.peak_mib else "—", proved.detail])
    header = ["network", "parameters", "derive + prove (auto: entrywise where small)",
              "derive + randomized exact proof", "derive only", "derive + prove, cold process",
              "whole-cost diff per weight",
              "whole-cost / derive+prove (wall)", "whole-cost / derive+prove (CPU)", "peak RSS", "proofs"]
    return ("## Derivation scaling\n\nEach figure in a fresh process, imports excluded; all but the cold "
            "column after a warm-up derivation of a 1-1 net (SymPy's first-use costs and the "
            "size-independent index argument, paid once per process). Wall-clock time on 2 cores shared "
            f"with other processes: \"derive + prove\" and the whole-cost route are medians of {REPEATS} "
            "fresh processes (one run where the route meets its limit), with their CPU time beside; the "
            "other columns are single runs. The long whole-cost run waits for the CPU more than the short "
            "derivation does, so its wall-clock ratio rises with the machine's load; the CPU ratio is the "
            "steadier figure.\n\n"
            + markdown_table(header, rows) + "\n\n" + peer_table())


def peer_table() -> str:
    """tensorgrad beside us on the 2-layer sigmoid MLP, each the first derivation in its process."""
    from derive.network.spec import XOR_SPEC

    layers, bias, m = "-".join(map(str, XOR_SPEC.sizes)), XOR_SPEC.bias, XOR_SPEC.m
    rows = []
    try:
        import tensorgrad  # noqa: F401
    except ImportError:
        rows.append(["tensorgrad 0.3.0", "—", "—", "not installed: pip install -e '.[bench]'"])
    else:
        peer = median_in_fresh_processes(PEER_REPEATS, tensorgrad_two_layer_mlp, limit=120, warmup=import_tensorgrad)
        rows.append(["tensorgrad 0.3.0: dJ/dW1 and dJ/dW2, full_simplify, symbolic sizes",
                     format_seconds(peer.seconds), format_seconds(peer.cpu_seconds), "none",
                     "no proof; " + peer.detail])
    for proofs, what in (("none", "derive only"), ("randomized", "derive + randomized exact proof"),
                         ("auto", "derive + prove (entrywise, randomized exact, local)")):
        ours = median_in_fresh_processes(PEER_REPEATS, derive_and_prove, layers, bias, m, proofs, limit=120,
                                         warmup=import_derive)
        rows.append([f"backprop-derive {what}: delta3, delta2, dJ/dW1, dJ/dW2 of {layers}, m = {m}",
                     format_seconds(ours.seconds), format_seconds(ours.cpu_seconds), proofs, ours.detail or "—"])
    return ("## Peer: symbolic derivation of the 2-layer sigmoid MLP's gradients\n\n"
            f"J = 1/2 ||sigmoid(sigmoid(X W1) W2) - Y||^2. Each figure is the median of {PEER_REPEATS} fresh "
            "processes, the first derivation after the imports (no warm-up derivation on either side), "
            "wall-clock and CPU time on 2 shared cores. tensorgrad works at symbolic sizes; we derive at the given "
            "sizes and find each matrix form from the entrywise chain rule.\n\n"
            + markdown_table(["route", "wall time (median)", "CPU time (median)", "proofs", "result"], rows))
