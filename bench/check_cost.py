"""Table 3: what checking costs: full central differences against the random-direction mode."""

from __future__ import annotations

import importlib.util
import time

from bench.harness import format_seconds, markdown_table

FULL_CASES = [("784-30-10", 100), ("784-100-10", 256)]
QUICK_CASES = [("64-32-10", 32)]
FULL_DIFFERENCE_SAMPLE = 2000  # parameters timed for the full route; the rest is extrapolated


def _time(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def run(quick: bool) -> str:
    from checks.routes import finite_differences
    from checks.handwritten import network as numpy_backprop
    from checks.inputs.data import random_data, random_params
    from derive.network.spec import parse_spec

    rows = []
    for layers, m in (QUICK_CASES if quick else FULL_CASES):
        spec = parse_spec(layers, bias="vector", m=m)
        params = random_params(spec, 0)
        X, Y = random_data(spec, m, 0)
        cost = lambda p: numpy_backprop.cost(spec, p, X, Y)  # noqa: E731
        hand = numpy_backprop.backprop(spec, params, X, Y)
        directional = _time(lambda: finite_differences.directional_check(cost, params, hand.gradients))
        started = time.perf_counter()
        forward = cost(params)
        one_pass = time.perf_counter() - started
        del forward
        count = spec.parameter_count
        full_estimate = 2 * count * one_pass
        verify_seconds = None
        if importlib.util.find_spec("checks.routes.three_routes"):
            from checks.routes.three_routes import verify

            verify_seconds = _time(lambda: verify(spec, params=params, data=(X, Y)))
        rows.append([f"{layers}, batch {m}", str(count), format_seconds(verify_seconds),
                     format_seconds(directional), f"{format_seconds(full_estimate)} (2 x {count} forward passes "
                     f"of {format_seconds(one_pass)})"])
    header = ["network", "parameters", "three-route verify", "random-direction FD (3 directions)",
              "full central FD (estimated from one forward pass)"]
    return "## Check cost\n\n" + markdown_table(header, rows)
