"""The bench's three attention routes compute the same gradients (timed only in `python -m bench`)."""

import numpy as np
import pytest

from bench import attention_timing as bench
from derive.attention import ONE_HEAD, derive_program


def test_derived_and_lean_routes_give_the_same_gradients():
    X, w, dY = bench._point()
    mask = np.tril(np.ones((bench.TOKENS, bench.TOKENS), dtype=bool))
    derived = bench.derived_route(derive_program(ONE_HEAD), X, w, mask, dY)
    for name, value in zip(("dX", "dW_q", "dW_k", "dW_v", "dW_o"), bench.lean_route(X, w, mask, dY)):
        assert np.allclose(derived[name], value, rtol=1e-10, atol=1e-10)


def test_pytorch_route_gives_the_lean_routes_gradients():
    pytest.importorskip("torch")
    X, w, dY = bench._point()
    mask = np.tril(np.ones((bench.TOKENS, bench.TOKENS), dtype=bool))
    lean = bench.lean_route(X, w, mask, dY)
    torch_grads = [g.numpy() for g in bench._torch_route()()]
    for got, expected in zip(torch_grads, lean):
        assert np.allclose(got, expected, rtol=1e-10, atol=1e-10)
