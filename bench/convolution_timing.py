"""`python -m bench --only convolution`: convolution's derive + prove timings, and the generated
im2col route against PyTorch's conv2d backward on CPU.

Rows:
- derive dX, dW, db and prove them three ways at the issue's small layer (1 x 1 x 5 x 5, two 3 x 3
  filters, stride 1, padding 1): entrywise, randomized GF(p) and index level, in a fresh process;
- the randomized GF(p) proof covering every entry of X, W and b at 1 x 1 x 28 x 28 with eight 3 x 3
  filters (both the index form and the matrix form evaluated), in a fresh process;
- dX, dW and db at batch 64, 1 x 28 x 28, eight 3 x 3 filters, stride 1, padding 1: the derived
  matrix forms evaluated by im2col / col2im (derive/convolution/routes.py), a lean hand-written
  NumPy backward (one einsum per kernel offset, no im2col), and PyTorch's own conv2d backward
  (aten.convolution_backward, the kernel autograd calls), one thread each.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

BATCH, CHANNELS, SIZE, FILTERS, KERNEL = 64, 1, 28, 8, 3


def _import():
    import derive.convolution.proofs  # noqa: F401
    import derive.convolution.derivation  # noqa: F401


def derive_and_prove_small() -> str:
    from derive.convolution.derivation import derive_convolution
    from derive.convolution.layer import make_layer
    from derive.convolution.proofs import prove_all

    layer = make_layer("conv2d", 1, 1, (5, 5), (3, 3), 1, 1, 2)
    results = prove_all(derive_convolution("conv2d"), layer, layer)
    assert all(r.holds for r in results), [r.text() for r in results]
    return ""


def prove_28_by_28() -> str:
    from derive.convolution.derivation import derive_convolution
    from derive.convolution.layer import make_layer
    from derive.convolution.proofs import prove_randomized

    gradients = derive_convolution("conv2d")
    layer = make_layer("conv2d", 1, 1, (28, 28), (3, 3), 1, 1, 8)
    result = prove_randomized(gradients, layer)
    assert result.holds, result.text()
    return ""


def lean_backward(x, w, g, padding: int = 1):
    """dX, dW, db by one einsum per kernel offset (stride 1): the lean hand-written reference."""
    import numpy as np

    kh, kw = w.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dpadded = np.zeros_like(padded)
    dw = np.empty_like(w)
    h, wd = g.shape[2:]
    for u in range(kh):
        for v in range(kw):
            window = padded[:, :, u:u + h, v:v + wd]
            dw[:, :, u, v] = np.einsum("nfhw,nchw->fc", g, window, optimize=True)
            dpadded[:, :, u:u + h, v:v + wd] += np.einsum("nfhw,fc->nchw", g, w[:, :, u, v], optimize=True)
    return dpadded[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]], dw, g.sum(axis=(0, 2, 3))


def evaluation_medians(rounds: int) -> dict[str, float | None]:
    import numpy as np

    from bench.harness import interleaved_medians
    from derive.convolution.layer import make_layer
    from derive.convolution.routes import matrix_route

    layer = make_layer("conv2d", BATCH, CHANNELS, (SIZE, SIZE), (KERNEL, KERNEL), 1, 1, FILTERS)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(layer.input_shape), rng.standard_normal(layer.weight_shape)
    g = rng.standard_normal(layer.output_shape)
    functions = {"derived": lambda: matrix_route(layer, x, g, w), "lean": lambda: lean_backward(x, w, g)}
    derived, lean = functions["derived"](), lean_backward(x, w, g)
    assert all(np.allclose(derived[k], v) for k, v in zip(("dX", "dW", "db"), lean))
    try:
        import torch
        torch.set_num_threads(1)
        tx, tw, tg = (torch.from_numpy(a) for a in (x, w, g))

        def torch_backward():
            return torch.ops.aten.convolution_backward(tg, tx, tw, [FILTERS], [1, 1], [1, 1], [1, 1], False, [0, 0],
                                                       1, [True, True, True])
        dx, dw, db = torch_backward()
        assert np.allclose(dx.numpy(), derived["dX"]) and np.allclose(dw.numpy(), derived["dW"])
        functions["torch"] = torch_backward
    except ImportError:  # the bench extra brings torch (CPU); without it the column says so
        pass
    medians = interleaved_medians(functions, rounds)
    medians.setdefault("torch", None)
    return medians


def run(quick: bool) -> str:
    from bench.harness import format_seconds, in_fresh_process, markdown_table

    small = in_fresh_process(derive_and_prove_small, warmup=_import)
    large = in_fresh_process(prove_28_by_28, warmup=_import)
    medians = evaluation_medians(5 if quick else 31)
    torch_seconds = medians["torch"]
    version = "not installed"
    if torch_seconds is not None:
        import torch
        version = torch.__version__

    def ratio(seconds):
        return "—" if torch_seconds is None or seconds is None else f"{seconds / torch_seconds:.2f}x"
    rows = [
        ["derive dX, dW, db + entrywise + randomized GF(p) + index level, 1x1x5x5, two 3x3 filters, s 1, p 1 "
         "(fresh process; target < 2 s)", format_seconds(small.seconds), ""],
        ["randomized GF(p) proof, every entry of X, W, b, 1x1x28x28, eight 3x3 filters, index and matrix form "
         "(fresh process; target < 10 s)", format_seconds(large.seconds), ""],
        [f"generated im2col route dX, dW, db, batch {BATCH}, {CHANNELS}x{SIZE}x{SIZE}, {FILTERS} filters "
         f"{KERNEL}x{KERNEL}, s 1, p 1", format_seconds(medians["derived"]), ratio(medians["derived"])],
        ["lean hand-written NumPy backward (one einsum per kernel offset)", format_seconds(medians["lean"]),
         ratio(medians["lean"])],
        [f"PyTorch {version} aten.convolution_backward, CPU, one thread", format_seconds(torch_seconds),
         "1.00x" if torch_seconds is not None else "—"],
    ]
    return ("## Convolution: derive, prove, and the generated backward against PyTorch\n\n"
            + markdown_table(["job", "time", "vs PyTorch"], rows)
            + f"\n\nMedians of {5 if quick else 31} interleaved rounds for the evaluation rows; target for the "
              "generated route: within 1.5x of PyTorch.")


if __name__ == "__main__":
    print(run(quick=False))
