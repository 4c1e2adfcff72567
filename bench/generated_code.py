"""Table 2: time per cost-and-gradient evaluation of each route, as a ratio to a lean hand-written NumPy backprop."""

from __future__ import annotations

import importlib.util

import numpy as np

from bench.harness import format_seconds, interleaved_medians, markdown_table

# (layers, batch, rounds, calls timed together in one sample): a sample of about 0.3 ms or more
FULL_CASES = [("2-3-1", 4, 400, 20), ("64-128-10", 256, 150, 2), ("784-100-10", 256, 60, 1)]
QUICK_CASES = [("2-3-1", 4, 100, 20), ("64-128-10", 256, 40, 2)]
ENTRYWISE_PARAMETER_LIMIT = 40  # lambdified entrywise oracle only for small nets

REFERENCE = "lean hand-written NumPy (bench/lean_reference.py)"
VALIDATING = "validating hand-written NumPy (checks.handwritten.network.backprop)"
DERIVED = "derived route: the generated function"
DERIVED_CHECKED = "derived route with its input checks (DerivedRoute.__call__)"
TORCH = "PyTorch CPU autograd"
JAX_JIT = "JAX jit(value_and_grad)"
JAX_EAGER = "JAX value_and_grad (not compiled; timed after the others)"
# the targets: the generated code within 10 % of the lean reference and of JAX's compiled
# gradient, and ahead of PyTorch's autograd
WITHIN = 1.1

# the routes must agree before their times mean anything: the derived and hand-written routes
# differ by rounding only (~1e-15 of the largest entry), PyTorch and JAX by their own rounding
AGREEMENT_TOLERANCE = 1e-10


def _spec(layers: str, m: int):
    from derive.network.spec import parse_spec

    return parse_spec(layers, bias="vector", m=m)


def _lean_route(params, X, Y):
    from bench.lean_reference import lean_backprop

    W1, b1, W2, b2 = (params[name] for name in ("W1", "b1", "W2", "b2"))
    return lambda: lean_backprop(W1, b1, W2, b2, X, Y)


def _numpy_routes(spec, params, X, Y) -> dict:
    from checks.handwritten import network as numpy_backprop
    routes = {REFERENCE: _lean_route(params, X, Y),
              VALIDATING: lambda: numpy_backprop.backprop(spec, params, X, Y)}
    if importlib.util.find_spec("checks.routes.derived"):
        from checks.routes import derived as derived_route
        derived = derived_route.derived_gradient_function(spec)
        arrays = dict(params, X=X, y=Y)
        routes[DERIVED] = lambda: derived.function(**arrays)
        routes[DERIVED_CHECKED] = lambda: derived(params, X, Y)
        entrywise = getattr(derived_route, "entrywise_gradient_function", None)
        if entrywise is not None and spec.parameter_count <= ENTRYWISE_PARAMETER_LIMIT:
            oracle = entrywise(spec)
            routes["lambdified entrywise (SymPy diff + cse)"] = lambda: oracle(params, X, Y)
    return routes


def _torch_routes(params, X, Y) -> dict:
    if importlib.util.find_spec("torch") is None:
        return {}
    import torch

    torch.set_num_threads(1)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    x, y = torch.tensor(X), torch.tensor(Y)
    layers = len([k for k in params if k.startswith("W")])

    def cost_and_gradients():
        a = x
        for layer in range(1, layers + 1):
            a = torch.sigmoid(a @ tensors[f"W{layer}"] + tensors[f"b{layer}"])
        cost = 0.5 * ((y - a) ** 2).sum()
        return cost, dict(zip(tensors, torch.autograd.grad(cost, list(tensors.values()))))

    return {TORCH: cost_and_gradients}


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

    plain, compiled = jax.value_and_grad(cost), jax.jit(jax.value_and_grad(cost))
    arrays = {k: jnp.asarray(v) for k, v in params.items()}
    x, y = jnp.asarray(X), jnp.asarray(Y)
    compiled(arrays, x, y)  # compile outside the clock
    return {JAX_EAGER: lambda: jax.block_until_ready(plain(arrays, x, y)),
            JAX_JIT: lambda: jax.block_until_ready(compiled(arrays, x, y))}


def _cost_and_gradients(result) -> tuple[float, dict[str, np.ndarray]]:
    """Each route's result as (J, gradients by name)."""
    if isinstance(result, tuple) and len(result) == 2 and not isinstance(result[0], dict):
        cost, gradients = result
        cost = cost.detach() if hasattr(cost, "detach") else cost  # PyTorch's J still requires grad
        return float(cost), {k: np.asarray(v) for k, v in gradients.items()}  # lean, PyTorch, JAX
    if isinstance(result, tuple):  # the generated function: J, gradients, deltas, z, a
        return float(result[0]), {k: np.asarray(v) for k, v in result[1].items()}
    return float(result.cost), {k: np.asarray(v) for k, v in result.gradients.items()}


def assert_routes_agree(routes: dict) -> None:
    """Every route's J and gradients equal the lean reference's, to AGREEMENT_TOLERANCE of the scale.

    Raises:
        AssertionError: naming the route and the quantity that differ.
    """
    cost, gradients = _cost_and_gradients(routes[REFERENCE]())
    for name, function in routes.items():
        other_cost, other_gradients = _cost_and_gradients(function())
        pairs = [("J", np.asarray(cost), np.asarray(other_cost))]
        pairs += [(f"dJ/d{k}", gradients[k], np.reshape(other_gradients[k], gradients[k].shape)) for k in gradients]
        for quantity, expected, actual in pairs:
            scale = max(1.0, float(np.max(np.abs(expected))))
            if not np.max(np.abs(actual - expected)) <= AGREEMENT_TOLERANCE * scale:
                raise AssertionError(f"{name} disagrees with the lean reference on {quantity}")


def _verdict(medians: dict[str, float]) -> str:
    derived = medians.get(DERIVED)
    if derived is None:
        return ""
    parts = [f"derived / lean reference = {derived / medians[REFERENCE]:.2f}x "
             f"({'within' if derived <= WITHIN * medians[REFERENCE] else 'NOT within'} {WITHIN}x)"]
    if TORCH in medians:
        parts.append(f"{'ahead of' if derived < medians[TORCH] else 'NOT ahead of'} PyTorch "
                     f"({medians[TORCH] / derived:.2f}x its time)")
    if JAX_JIT in medians:
        parts.append(f"derived / JAX jit = {derived / medians[JAX_JIT]:.2f}x "
                     f"({'within' if derived <= WITHIN * medians[JAX_JIT] else 'NOT within'} {WITHIN}x)")
    return "Targets: " + "; ".join(parts) + "."


def _blas_note() -> str:
    if importlib.util.find_spec("threadpoolctl") is None:
        return "BLAS: one thread requested through OMP/OPENBLAS/MKL_NUM_THREADS (threadpoolctl not installed)."
    from threadpoolctl import threadpool_info

    def described(pool: dict) -> str:
        words = [pool["internal_api"], pool.get("version"), pool.get("architecture") and f"{pool['architecture']} kernel"]
        return " ".join(word for word in words if word) + f", {pool['num_threads']} thread(s)"

    pools = "; ".join(described(pool) for pool in threadpool_info())
    return f"BLAS: {pools or 'none found'}."


def run(quick: bool) -> str:
    from checks.inputs.data import random_data, random_params

    limits = None
    if importlib.util.find_spec("threadpoolctl") is not None:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(1)  # NumPy's BLAS on one thread, as PyTorch and JAX are set
    try:
        sections = []
        for layers, m, rounds, calls in (QUICK_CASES if quick else FULL_CASES):
            spec = _spec(layers, m)
            params = random_params(spec, 0)
            X, Y = random_data(spec, m, 0)
            routes = _numpy_routes(spec, params, X, Y)
            routes.update(_torch_routes(params, X, Y))
            routes.update(_jax_routes(params, X, Y))
            assert_routes_agree(routes)  # also warms every cache before timing
            # JAX's eager route, taking turns with the others, slowed the NumPy routes that follow it
            # (lean reference 16 -> 21 µs at 2-3-1, whatever the order): it is timed on its own
            eager = {name: routes.pop(name) for name in [JAX_EAGER] if name in routes}
            medians = interleaved_medians(routes, rounds, calls)
            medians.update(interleaved_medians(eager, max(1, rounds // 10), 1))
            base = medians[REFERENCE]
            rows = [[name, format_seconds(seconds), f"{seconds / base:.2f}x"] for name, seconds in medians.items()]
            sections.append(f"### {layers}, batch {m} (median of {rounds} interleaved rounds of {calls} "
                            f"call{'s' if calls > 1 else ''} each)\n\n"
                            + markdown_table(["route", "per cost + gradients", "ratio to the lean reference"], rows)
                            + f"\n\n{_verdict(medians)}")
        note = _blas_note()
    finally:
        if limits is not None:
            limits.unregister()
    missing = [name for name in ("checks.routes.derived", "torch", "jax") if importlib.util.find_spec(name) is None]
    missing_note = f"\n\nNot measured (not installed): {', '.join(missing)}." if missing else ""
    intro = ("Every route computes J and all four gradients of the same net (row form, sigmoid, half-SSE, "
             "bias vectors) and agrees with the lean reference before it is timed. The lean reference is "
             "backprop as a person writes it in NumPy, with no input checks; the validating route "
             "checks its inputs on every call. PyTorch's and JAX's figures varied most from run to run on "
             "this shared 2-core machine (JAX's compiled call up to 4x, e.g. 1.1 to 4.7 ms at 784-100-10); the "
             "ratios among the NumPy routes stayed within a few per cent. " + note)
    return "## Generated-code speed (one BLAS thread)\n\n" + intro + "\n\n" + "\n\n".join(sections) + missing_note
