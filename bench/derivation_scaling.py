"""Table 1: derive + prove time against network size, next to differentiating the whole cost."""

from __future__ import annotations

from bench.harness import format_seconds, in_fresh_process, markdown_table

# (layers, bias, m): the sizes issue 7 names
FULL_SIZES = [("2-3-1", "none", 4), ("2-2-2", "vector", 4), ("2-3-3-1", "none", 4), ("2-4-4-4-1", "none", 4),
              ("8-8-8-8-4", "none", 4), ("16-32-16", "none", 4), ("64-64-10", "none", 4),
              ("784-30-10", "none", 4), ("784-100-10", "none", 1)]
QUICK_SIZES = FULL_SIZES[:5]
NAIVE_LIMIT = 30.0  # seconds; the whole-cost route past this is reported as stopped


def _spec(layers: str, bias: str, m: int):
    from derive.spec import parse_spec

    return parse_spec(layers, bias=bias, m=m)


def derive_and_prove(layers: str, bias: str, m: int, proofs: str = "auto") -> str:
    from derive.api import derive

    derivation = derive(_spec(layers, bias, m), proofs=proofs)
    strategies = ", ".join(p.strategy for p in derivation.proofs if p.holds)
    return f"proved: {strategies}" if derivation.proved else "NOT PROVED"


def derive_only(layers: str, bias: str, m: int) -> str:
    from derive.derivation import derive_rule

    derive_rule(_spec(layers, bias, m))
    return ""


def whole_cost_route(layers: str, bias: str, m: int) -> str:
    """What a SymPy user does: build J with the activations written out, diff it by every weight."""
    import sympy as sp

    from derive.network import symbolic_network

    network = symbolic_network(_spec(layers, bias, m))
    cost = network.full_cost(concrete=True)
    for quantity in network.parameters():
        for position in quantity.positions():
            sp.diff(cost, quantity.entry(*position))
    return ""


def warm_up() -> None:
    """Derives a 1-1 net in each convention: imports, SymPy's first-use caches, and the
    size-independent index-level argument are paid once per process, not per network."""
    from derive.api import derive
    from derive.spec import parse_spec

    for convention in ("row", "column"):
        derive(parse_spec("1-1", convention=convention), proofs="randomized")


def run(quick: bool) -> str:
    rows = []
    for layers, bias, m in (QUICK_SIZES if quick else FULL_SIZES):
        spec = _spec(layers, bias, m)
        proved = in_fresh_process(derive_and_prove, layers, bias, m, limit=120, warmup=warm_up)
        randomized = in_fresh_process(derive_and_prove, layers, bias, m, "randomized", limit=120, warmup=warm_up)
        only = in_fresh_process(derive_only, layers, bias, m, limit=120, warmup=warm_up)
        cold = in_fresh_process(derive_and_prove, layers, bias, m, limit=120)
        naive = in_fresh_process(whole_cost_route, layers, bias, m, limit=NAIVE_LIMIT, warmup=warm_up) \
            if spec.parameter_count <= 300 else None
        if naive is None or naive.seconds is None:
            ratio = f"> {NAIVE_LIMIT / proved.seconds:.0f}x" if proved.seconds and naive is not None else "—"
            naive_text = naive.detail if naive is not None else "not attempted (too large)"
        else:
            ratio = f"{naive.seconds / proved.seconds:.0f}x"
            naive_text = format_seconds(naive.seconds)
        rows.append([f"{layers} (bias {bias}, m = {m})", str(spec.parameter_count), format_seconds(proved.seconds),
                     format_seconds(randomized.seconds),
                     format_seconds(only.seconds), format_seconds(cold.seconds), naive_text, ratio,
                     f"{proved.peak_mib:.0f} MiB" if proved.peak_mib else "—", proved.detail])
    header = ["network", "parameters", "derive + prove (auto: entrywise where small)",
              "derive + randomized exact proof", "derive only", "derive + prove, cold process",
              "whole-cost diff per weight",
              "whole-cost / derive+prove", "peak RSS", "proofs"]
    return ("## Derivation scaling\n\nEach figure in a fresh process, imports excluded; all but the cold "
            "column after a warm-up derivation of a 1-1 net (SymPy's first-use costs and the "
            "size-independent index argument, paid once per process).\n\n" + markdown_table(header, rows))
