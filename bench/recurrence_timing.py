"""`python -m bench --only recurrence`: RNN and LSTM derive + prove, and the generated NumPy route's speed.

Rows:
- derive every gradient (fresh process, imports outside the clock);
- derive + the three proofs: the issue's sizes, RNN T = 4 with H = 3, LSTM T = 3 with H = 2 (the
  entrywise proof at that T and H with D = M = 1, randomized GF(p) with D = 3, M = 2, index level at
  symbolic T);
- forward + backward of an RNN with T = 50, H = 64, batch 32 (D = M = 64, row convention, tanh,
  J = sum dy . y with dy given): the NumPy source generated from the derived matrix forms
  (derive/recurrence/codegen.py), the lean hand-written NumPy (checks/recurrence/reference.py,
  cs231n's loops), PyTorch CPU autograd on the same loop, and torch.nn.RNN + Linear. Medians of
  interleaved rounds, one BLAS thread (bench/__main__.py sets it).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

SPEED_SIZE = {"steps": 50, "hidden": 64, "batch": 32, "inputs": 64, "outputs": 64}


def _import():
    import derive.recurrence.proofs  # noqa: F401


def _derive(kind: str) -> str:
    from derive.recurrence.derivation import derive_recurrence
    derive_recurrence(kind)
    return ""


def _derive_and_prove(kind: str, steps: int, hidden: int) -> str:
    """Derive, then the three proofs, entrywise and randomized at T = steps and H = hidden."""
    from derive.recurrence.derivation import derive_recurrence
    from derive.recurrence.proofs import prove_entrywise, prove_index_level, prove_randomized

    derivation = derive_recurrence(kind)
    results = (prove_entrywise(derivation, steps, hidden, 1, 1),
               prove_randomized(derivation, steps, hidden, 3, 2), prove_index_level(derivation))
    assert all(r.holds for r in results), [r.text() for r in results]
    return ""


def _speed_point():
    import numpy as np

    size = SPEED_SIZE
    rng = np.random.default_rng(0)
    H, D, M, B, T = size["hidden"], size["inputs"], size["outputs"], size["batch"], size["steps"]
    params = {"W_xh": rng.standard_normal((D, H)) / np.sqrt(D), "W_hh": rng.standard_normal((H, H)) / np.sqrt(H),
              "b": rng.standard_normal((1, H)), "W_hy": rng.standard_normal((H, M)) / np.sqrt(H),
              "c": rng.standard_normal((1, M))}
    x = rng.standard_normal((B, T, D))
    h0 = rng.standard_normal((B, H))
    dy = rng.standard_normal((B, T, M))
    return params, x, h0, dy


def speed_medians(rounds: int) -> dict:
    """Seconds per forward + backward of each route, and the largest gradient difference from ours."""
    import numpy as np

    from bench.harness import interleaved_medians
    from checks.recurrence import reference
    from derive.recurrence.codegen import compile_layer
    from derive.recurrence.derivation import derive_recurrence

    params, x, h0, dy = _speed_point()
    T = x.shape[1]
    forward, backward = compile_layer(derive_recurrence("rnn", "row"))
    xs, dys = [x[:, s, :] for s in range(T)], [dy[:, s, :] for s in range(T)]

    def generated():
        return backward(params, forward(params, xs, {"h": h0}), dys)

    def hand_written():
        h, caches = reference.rnn_forward(x, h0, params["W_xh"], params["W_hh"], params["b"].ravel())
        reference.temporal_affine_forward(h, params["W_hy"], params["c"].ravel())
        dh, dW_hy, dc = reference.temporal_affine_backward(dy, h, params["W_hy"])
        return reference.rnn_backward(dh, caches), dW_hy, dc

    routes = {"generated": generated, "hand": hand_written}
    differences = {}
    try:
        import torch
        torch.set_num_threads(1)
        tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        tx, th0, tdy = torch.tensor(x), torch.tensor(h0), torch.tensor(dy)

        def torch_loop():
            for tensor in tensors.values():
                tensor.grad = None
            h, outputs = th0, []
            for s in range(T):
                h = torch.tanh(tx[:, s] @ tensors["W_xh"] + h @ tensors["W_hh"] + tensors["b"])
                outputs.append(h @ tensors["W_hy"] + tensors["c"])
            torch.stack(outputs, dim=1).backward(tdy)
            return {k: t.grad for k, t in tensors.items()}

        rnn = torch.nn.RNN(x.shape[2], h0.shape[1], batch_first=True, dtype=torch.float64)
        linear = torch.nn.Linear(h0.shape[1], dy.shape[2], dtype=torch.float64)
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(tensors["W_xh"].T)
            rnn.weight_hh_l0.copy_(tensors["W_hh"].T)
            rnn.bias_ih_l0.copy_(tensors["b"].ravel())
            rnn.bias_hh_l0.zero_()
            linear.weight.copy_(tensors["W_hy"].T)
            linear.bias.copy_(tensors["c"].ravel())

        def torch_module():
            rnn.zero_grad()
            linear.zero_grad()
            out, _ = rnn(tx, th0.unsqueeze(0))
            linear(out).backward(tdy)
            return rnn.weight_hh_l0.grad

        ours = generated()
        theirs = torch_loop()
        differences["torch loop"] = max(float(np.max(np.abs(ours[k] - theirs[k].numpy()))) for k in params)
        differences["torch.nn.RNN"] = float(np.max(np.abs(ours["W_hh"] - torch_module().numpy().T)))
        routes.update({"torch loop": torch_loop, "torch module": torch_module})
    except ImportError:
        pass
    medians = interleaved_medians(routes, rounds)
    return {"medians": medians, "differences": differences}


def run(quick: bool) -> str:
    from bench.harness import format_seconds, in_fresh_process, markdown_table

    rows = []
    derived = [in_fresh_process(_derive, kind, warmup=_import).seconds for kind in ("rnn", "lstm")]
    rows.append(["derive every gradient (fresh process)"] + [format_seconds(s) for s in derived])
    proved = [in_fresh_process(_derive_and_prove, "rnn", 4, 3, warmup=_import).seconds,
              in_fresh_process(_derive_and_prove, "lstm", 3, 2, warmup=_import, limit=120).seconds]
    rows.append(["derive + entrywise (RNN T = 4, H = 3; LSTM T = 3, H = 2) + randomized GF(p) + index level "
                 "(fresh process; targets 2 s and 5 s)"] + [format_seconds(s) for s in proved])
    table = markdown_table(["job", "RNN", "LSTM"], rows)
    speed = speed_medians(5 if quick else 21)
    medians = speed["medians"]
    size = SPEED_SIZE
    label = f"T = {size['steps']}, H = {size['hidden']}, batch {size['batch']}, D = M = {size['inputs']}"
    speed_rows = [["generated NumPy from the derived forms (derive/recurrence/codegen.py)",
                   format_seconds(medians["generated"]), "1.00"],
                  ["hand-written NumPy, cs231n's loops (checks/recurrence/reference.py)",
                   format_seconds(medians["hand"]), f"{medians['hand'] / medians['generated']:.2f}"]]
    for name, title in (("torch loop", "PyTorch CPU autograd, the same loop"),
                        ("torch module", "PyTorch CPU torch.nn.RNN + Linear")):
        if name in medians:
            speed_rows.append([title, format_seconds(medians[name]), f"{medians[name] / medians['generated']:.2f}"])
        else:
            speed_rows.append([title, "not installed", ""])
    agreement = ", ".join(f"{k}: {v:.1e}" for k, v in speed["differences"].items())
    return ("## Recurrent layers: derive, prove, and the generated route's speed\n\n" + table
            + f"\n\nForward + backward, RNN {label}, tanh, row convention (median of interleaved rounds, one thread):\n\n"
            + markdown_table(["route", "seconds per call", "ratio to generated"], speed_rows)
            + (f"\n\nLargest gradient difference from the generated route: {agreement}." if agreement else ""))


if __name__ == "__main__":
    print(run(quick=True))
