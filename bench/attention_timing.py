"""`python -m bench --only attention`: the attention block's derive + prove time, and the derived
NumPy route against a lean hand-written NumPy backward and PyTorch CPU autograd.

Two rows of figures:
- derive the one-head block (projections, scores, mask, softmax, values, output) from its forward
  pass and prove it: entrywise at T = 4, d = 3 (every stage against SymPy's diff), randomized in
  GF(2^61 - 1) (2 heads, causal, T = 12, d = 16) and index level; in a fresh process, imports
  outside the clock;
- one head, T = 128, d = 64 (model width 64), a batch of 8 sequences, causal: forward and backward.
  derived: the forward's values, then the derived program's matrix forms walked by
  matrix_form.evaluate (np.matmul on the batch); lean: the same formulas typed by hand in NumPy;
  PyTorch: autograd of the same forward (torch.float64, one thread, as NumPy here).
"""

from __future__ import annotations

import os
import statistics

import numpy as np

ENTRYWISE_SIZES = {"T": 4, "d": 3, "m": 3, "n": 3}
BATCH, TOKENS, WIDTH = 8, 128, 64


def _import():
    import derive.attention.proofs  # noqa: F401


def derive_and_prove() -> str:
    from derive.attention import ONE_HEAD, derive_program
    from derive.attention import proofs

    program = derive_program(ONE_HEAD)
    results = (proofs.prove_stages_entrywise(program, ENTRYWISE_SIZES), proofs.prove_randomized(program),
               proofs.prove_index_level(program), proofs.prove_flash_identity(program))
    assert all(r.holds for r in results), [r.text() for r in results]
    return ""


def _point(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH, TOKENS, WIDTH))
    weights = {w: rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH) for w in ("W_q", "W_k", "W_v", "W_o")}
    return X, weights, rng.standard_normal((BATCH, TOKENS, WIDTH))


def _softmax(S, mask):
    S = np.where(mask, S, -np.inf)
    E = np.exp(S - S.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def _forward(X, w, mask):
    Q, K, V = X @ w["W_q"], X @ w["W_k"], X @ w["W_v"]
    P = _softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1]), mask)
    O = P @ V
    return {"X": X, **w, "Q": Q, "K": K, "V": V, "P": P, "O": O}


def derived_route(program, X, w, mask, dY):
    from derive.attention import matrix_form as mf

    values = dict(_forward(X, w, mask), dY=dY)
    for gradient in program.gradients:
        values[gradient.name] = mf.evaluate(gradient.matrix, values, WIDTH)
    for name in ("dW_q", "dW_k", "dW_v", "dW_o"):  # the weights are shared by the batch: their gradients add
        values[name] = values[name].sum(axis=0)
    return values


def lean_route(X, w, mask, dY):
    v = _forward(X, w, mask)
    T = np.swapaxes
    dO = dY @ w["W_o"].T
    dP = dO @ T(v["V"], -1, -2)
    dV = T(v["P"], -1, -2) @ dO
    dS = v["P"] * (dP - (dP * v["P"]).sum(axis=-1, keepdims=True))
    dQ, dK = dS @ v["K"] / np.sqrt(WIDTH), T(dS, -1, -2) @ v["Q"] / np.sqrt(WIDTH)
    dX = dQ @ w["W_q"].T + dK @ w["W_k"].T + dV @ w["W_v"].T
    weights = (T(X, -1, -2) @ dQ, T(X, -1, -2) @ dK, T(X, -1, -2) @ dV, T(v["O"], -1, -2) @ dY)
    return (dX,) + tuple(g.sum(axis=0) for g in weights)


def _torch_route():
    import torch

    torch.set_num_threads(1)
    X, w, dY = _point()
    tX = torch.tensor(X, requires_grad=True)
    tw = {k: torch.tensor(v, requires_grad=True) for k, v in w.items()}
    tdY = torch.tensor(dY)
    mask = torch.tril(torch.ones(TOKENS, TOKENS, dtype=torch.bool))

    def run():
        Q, K, V = tX @ tw["W_q"], tX @ tw["W_k"], tX @ tw["W_v"]
        S = (Q @ K.transpose(-1, -2) / WIDTH ** 0.5).masked_fill(~mask, float("-inf"))
        Y = torch.softmax(S, dim=-1) @ V @ tw["W_o"]
        return torch.autograd.grad(Y, [tX, *tw.values()], tdY)
    return run


def run(quick: bool = False) -> str:
    from bench.harness import format_seconds, in_fresh_process, interleaved_medians, markdown_table
    from derive.attention import ONE_HEAD, derive_program

    rounds = 3 if quick else 5
    first = [in_fresh_process(derive_and_prove, warmup=_import).seconds for _ in range(1 if quick else 3)]
    program = derive_program(ONE_HEAD)
    X, w, dY = _point()
    mask = np.tril(np.ones((TOKENS, TOKENS), dtype=bool))
    derived, lean = derived_route(program, X, w, mask, dY), lean_route(X, w, mask, dY)
    for name, value in zip(("dX", "dW_q", "dW_k", "dW_v", "dW_o"), lean):  # the same numbers first
        assert np.allclose(derived[name], value, rtol=1e-10, atol=1e-10), name
    functions = {"derived": lambda: derived_route(program, X, w, mask, dY), "lean": lambda: lean_route(X, w, mask, dY)}
    try:
        functions["torch"] = _torch_route()
    except ImportError:
        pass
    medians = interleaved_medians(functions, 7 if quick else 21)
    rows = [["derive + prove one head (entrywise T = 4, d = 3; GF(p) 2 heads T = 12, d = 16; index level; "
             "FlashAttention identity), fresh process", format_seconds(statistics.median(first)), "", ""]]
    torch = medians.get("torch")
    rows.append([f"forward + backward, one head, T = {TOKENS}, d = {WIDTH}, batch {BATCH}, causal, float64",
                 format_seconds(medians["derived"]),
                 f"{medians['derived'] / medians['lean']:.2f}x lean ({format_seconds(medians['lean'])})",
                 f"{medians['derived'] / torch:.2f}x PyTorch ({format_seconds(torch)})" if torch else "no torch"])
    load = os.getloadavg()[0]
    return (f"### Attention ({os.cpu_count()} cores, load average {load:.1f}, one BLAS thread)\n\n"
            + markdown_table(["what", "derived", "vs lean NumPy", "vs PyTorch CPU"], rows))


if __name__ == "__main__":
    print(run())
