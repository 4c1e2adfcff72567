"""Why a tanh RNN's gradient vanishes and an LSTM's does not, shown in numbers.

At the same random weights (the LSTM's candidate g uses the RNN's W_xh, W_hh; its other gates are
drawn from the same generator) and T = 30, the last step's cost alone is carried back, and
||dL_T / dh_t|| is recorded for t = T, ..., 1 with the derived backward. In the RNN each step
multiplies by W_hh^T diag(tanh'(z_t)), whose norm is below 1 here, so the gradient shrinks
geometrically. In the LSTM dc_t = dc_{t+1} * f_{t+1} + ...: the additive cell path multiplies by
the forget gate only, with no weight matrix and no tanh', and with the forget gate's bias at +3
(f ~ 0.95, the usual initialisation, Gers et al.) the gradient crosses the steps nearly intact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS, HIDDEN, INPUTS = 30, 8, 4
FORGET_BIAS = 3.0
WEIGHT_SCALE = 1.0  # W ~ randn / sqrt(H): the usual scale


@dataclass(frozen=True)
class GradientNorms:
    steps: tuple[int, ...]  # t = 1..T
    rnn: tuple[float, ...]  # ||dL_T / dh_t||
    lstm: tuple[float, ...]
    lstm_cell: tuple[float, ...]  # ||dL_T / dc_t||


def _weights(seed: int):
    rng = np.random.default_rng(seed)
    draw = lambda rows, cols: WEIGHT_SCALE * rng.standard_normal((rows, cols)) / np.sqrt(cols)  # noqa: E731
    W_xh, W_hh = draw(HIDDEN, INPUTS), draw(HIDDEN, HIDDEN)
    W_hy = draw(1, HIDDEN)
    xs = [rng.standard_normal((INPUTS, 1)) for _ in range(STEPS)]
    others = {gate: (draw(HIDDEN, INPUTS), draw(HIDDEN, HIDDEN)) for gate in "ifo"}
    return W_xh, W_hh, W_hy, xs, others


def gradient_norms(seed: int = 0) -> GradientNorms:
    from derive.recurrence.derivation import derive_recurrence
    from derive.recurrence.evaluate import float_functions, run_forward, window_deltas

    W_xh, W_hh, W_hy, xs, others = _weights(seed)
    functions = float_functions()
    zero = np.zeros((HIDDEN, 1))
    last_only = [np.zeros((1, 1))] * (STEPS - 1) + [np.ones((1, 1))]
    rnn = derive_recurrence("rnn", "column", "tanh")
    rnn_params = {"W_xh": W_xh, "W_hh": W_hh, "b": zero, "W_hy": W_hy, "c": np.zeros((1, 1))}
    lstm = derive_recurrence("lstm", "column")
    lstm_params = {"W_xg": W_xh, "W_hg": W_hh, "b_g": zero, "W_hy": W_hy, "b_y": np.zeros((1, 1))}
    for gate, (W_x, W_h) in others.items():
        lstm_params.update({f"W_x{gate}": W_x, f"W_h{gate}": W_h,
                            f"b_{gate}": zero + (FORGET_BIAS if gate == "f" else 0.0)})
    norms = {}
    for name, derivation, params, initial in (("rnn", rnn, rnn_params, {"h": zero}),
                                              ("lstm", lstm, lstm_params, {"h": zero, "c": zero})):
        forward = run_forward(derivation, params, xs, initial, functions)
        deltas, _ = window_deltas(derivation, params, forward, last_only, forward.steps, 1, functions)
        norms[name] = tuple(float(np.linalg.norm(deltas["dh"][t])) for t in range(1, STEPS + 1))
        if name == "lstm":
            norms["cell"] = tuple(float(np.linalg.norm(deltas["dc"][t])) for t in range(1, STEPS + 1))
    return GradientNorms(tuple(range(1, STEPS + 1)), norms["rnn"], norms["lstm"], norms["cell"])


def norm_plot(norms: GradientNorms) -> str:
    """||dL_T/dh_t|| against t on a log scale, both layers, as plain SVG text (byte-stable)."""
    width, height, left, right, top, bottom = 640, 320, 70, 20, 30, 40
    values = [v for v in norms.rnn + norms.lstm if v > 0]
    low, high = np.floor(np.log10(min(values))), np.ceil(np.log10(max(values)))
    high = max(high, low + 1)

    def x_of(t):
        return left + (t - 1) / (len(norms.steps) - 1) * (width - left - right)

    def y_of(value):
        return top + (high - np.log10(max(value, 10.0 ** low))) / (high - low) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="18">||dL_T / dh_t|| against t (log scale), T = {len(norms.steps)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#000"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#000"/>']
    for exponent in range(int(low), int(high) + 1):
        y = y_of(10.0 ** exponent)
        parts.append(f'<text x="{left - 40}" y="{y + 4:.1f}">1e{exponent}</text>')
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
    for t in range(1, len(norms.steps) + 1, 5):
        parts.append(f'<text x="{x_of(t) - 4:.1f}" y="{height - bottom + 16}">{t}</text>')
    for series, colour, label in ((norms.rnn, "#ee6677", "tanh RNN"), (norms.lstm, "#4477aa", "LSTM")):
        points = " ".join(f"{x_of(t):.1f},{y_of(v):.1f}" for t, v in zip(norms.steps, series))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{x_of(2):.1f}" y="{y_of(series[1]) - 6:.1f}" fill="{colour}">{label}</text>')
    parts.append(f'<text x="{(left + width) / 2 - 10:.1f}" y="{height - 6}">t</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
