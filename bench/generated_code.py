"""Table 2: time per gradient evaluation of each route, as a ratio to the hand-written NumPy."""

from __future__ import annotations

import importlib.util

import numpy as np

from bench.harness import format_seconds, interleaved_medians, markdown_table

FULL_CASES = [("2-3-1", 4, 2000), ("64-128-10", 256, 200), ("784-100-10", 256, 60)]
QUICK_CASES = [("2-3-1", 4, 500), ("64-128-10", 256, 50)]
ENTRYWISE_PARAMETER_LIMIT = 40  # lambdified entrywise oracle only for small nets


def _spec(layers: str, m: int):
    from derive.spec import parse_spec

    return parse_spec(layers, bias="vector", m=m)


def _routes(spec, params, X, Y) -> dict:
    from checks import numpy_backprop

    routes = {"hand-written NumPy": lambda: numpy_backprop.backprop(spec, params, X, Y)}
    if importlib.util.find_spec("checks.derived_route"):
        from checks import derived_route

        derived = derived_route.derived_gradient_function(spec)
        routes["lambdified matrix form (derived)"] = lambda: derived(params, X, Y)
        entrywise = getattr(derived_route, "entrywise_gradient_function", None)
        if entrywise is not None and spec.parameter_count <= ENTRYWISE_PARAMETER_LIMIT:
            oracle = entrywise(spec)
            routes["lambdified entrywise (SymPy diff + cse)"] = lambda: oracle(params, X, Y)
    routes.update(_torch_routes(params, X, Y))
    routes.update(_jax_routes(params, X, Y))
    return routes


def _torch_routes(params, X, Y) -> dict:
    if importlib.util.find_spec("torch") is None:
        return {}
    import torch

    torch.set_num_threads(1)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    x, y = torch.tensor(X), torch.tensor(Y)
    layers = len([k for k in params if k.startswith("W")])

    def gradients():
        a = x
        for layer in range(1, layers + 1):
            a = torch.sigmoid(a @ tensors[f"W{layer}"] + tensors[f"b{layer}"])
        cost = 0.5 * ((y - a) ** 2).sum()
        return torch.autograd.grad(cost, list(tensors.values()))

    return {"PyTorch CPU autograd": gradients}


def _jax_routes(params, X, Y) -> dict:
    if importlib.util.find_spec("jax") is None:
        return {}
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    layers = len([k for k in params if k.startswith("W")])

    def cost(p, x, y):
        a = x
        for layer in range(1, layers + 1):
            a = jax.nn.sigmoid(a @ p[f"W{layer}"] + p[f"b{layer}"])
        return 0.5 * jnp.sum((y - a) ** 2)

    plain, compiled = jax.grad(cost), jax.jit(jax.grad(cost))
    arrays = {k: jnp.asarray(v) for k, v in params.items()}
    x, y = jnp.asarray(X), jnp.asarray(Y)
    compiled(arrays, x, y)  # compile outside the clock
    return {"JAX grad": lambda: jax.block_until_ready(plain(arrays, x, y)),
            "JAX jit(grad)": lambda: jax.block_until_ready(compiled(arrays, x, y))}


def run(quick: bool) -> str:
    from checks.data import random_data, random_params

    sections = []
    for layers, m, rounds in (QUICK_CASES if quick else FULL_CASES):
        spec = _spec(layers, m)
        params = random_params(spec, 0)
        X, Y = random_data(spec, m, 0)
        routes = _routes(spec, params, X, Y)
        for function in routes.values():
            function()  # warm caches before timing
        medians = interleaved_medians(routes, rounds)
        base = medians["hand-written NumPy"]
        rows = [[name, format_seconds(seconds), f"{seconds / base:.2f}x"] for name, seconds in medians.items()]
        sections.append(f"### {layers}, batch {m} (median of {rounds} interleaved rounds)\n\n"
                        + markdown_table(["route", "per gradient", "ratio to hand-written NumPy"], rows))
    missing = [name for name in ("checks.derived_route", "torch", "jax") if importlib.util.find_spec(name) is None]
    note = f"\n\nNot measured (not installed): {', '.join(missing)}." if missing else ""
    np.seterr(all="ignore")
    return "## Generated-code speed (one BLAS thread)\n\n" + "\n\n".join(sections) + note
