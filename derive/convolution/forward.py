"""The forward pass of convolution and pooling in index notation, at symbolic sizes.

    conv:    Y[n, f, i, j] = sum_{c, u, v} W[f, c, u, v] X[n, c, i s + u - p, j s + v - p] + b[f]
    avgpool: Y[n, c, i, j] = 1 / (K_h K_w) sum_{u, v} X[n, c, i s + u, j s + v]
    maxpool: Y[n, c, i, j] = sum_{u, v} S[n, c, i, j, u, v] X[n, c, i s + u, j s + v]

X at a row or column outside 0..H-1 is 0: that is the zero padding (X_pad[n, c, h, w] = X[n, c,
h - p, w - p]). S is max pooling's selector: 1 at the window's largest entry, 0 elsewhere, and
1/t on each of t tied largest entries (the circuit's `max` rule). S is constant wherever the
window has one largest entry, so the derivative treats it as a constant: that is the routing.
The cost is J = sum over Y's entries of G * Y, G = dJ/dY coming from above.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from derive.convolution.index_calculus import Index, Term, fresh

X, W, B, G, S = (sp.IndexedBase(name) for name in ("X", "W", "b", "G", "S"))
N, C, F, STRIDE, PAD = sp.symbols("N C F s p", integer=True, positive=True)

# per spatial axis: (input size, output size, kernel size, position letter, kernel letter)
AXES = {
    2: ((sp.Symbol("H_in", integer=True, positive=True), sp.Symbol("H_out", integer=True, positive=True),
         sp.Symbol("K_h", integer=True, positive=True), "i", "u"),
        (sp.Symbol("W_in", integer=True, positive=True), sp.Symbol("W_out", integer=True, positive=True),
         sp.Symbol("K_w", integer=True, positive=True), "j", "v")),
    1: ((sp.Symbol("L_in", integer=True, positive=True), sp.Symbol("L_out", integer=True, positive=True),
         sp.Symbol("K", integer=True, positive=True), "i", "u"),),
}
ROLES = ("n", "f", "c", "i", "j", "u", "v")
LETTERS = {role: sp.Symbol(role, integer=True) for role in ROLES}


@dataclass(frozen=True)
class SymbolicLayer:
    """kind ("conv2d", "conv1d", "maxpool", "avgpool") with every size a symbol."""

    kind: str

    @property
    def spatial(self) -> int:
        return 1 if self.kind == "conv1d" else 2

    @property
    def axes(self):
        return AXES[self.spatial]

    @property
    def is_convolution(self) -> bool:
        return self.kind in ("conv1d", "conv2d")

    @property
    def padding(self) -> sp.Expr:
        return PAD if self.is_convolution else sp.Integer(0)

    def kernel_count(self) -> sp.Expr:
        return sp.Mul(*(axis[2] for axis in self.axes))

    def sizes(self, layer) -> dict:
        """The symbols' values at a concrete ConvolutionLayer."""
        values = {N: layer.batch, C: layer.channels, F: layer.out_channels, STRIDE: layer.stride, PAD: layer.padding}
        for (size, out, kernel, _, _), h, o, k in zip(self.axes, layer.size, layer.out_size, layer.kernel):
            values.update({size: h, out: o, kernel: k})
        return values

    def entry(self, variable: str) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
        """The entry being differentiated, (letter, last value) per index: dX[n, c, i, j], dW[f, c, u, v], db[f]."""
        if variable == "X":
            return ((LETTERS["n"], N - 1), (LETTERS["c"], C - 1)) + tuple(
                (LETTERS[axis[3]], axis[0] - 1) for axis in self.axes)
        if variable == "W":
            return ((LETTERS["f"], F - 1), (LETTERS["c"], C - 1)) + tuple(
                (LETTERS[axis[4]], axis[2] - 1) for axis in self.axes)
        if variable == "b":
            return ((LETTERS["f"], F - 1),)
        raise ValueError(f"no variable {variable!r} in {self.kind}")

    def variables(self) -> tuple[str, ...]:
        return ("X", "W", "b") if self.is_convolution else ("X",)

    def cost_terms(self) -> list[Term]:
        """J = sum G * Y as monomial terms, every index of the forward pass a fresh summation index."""
        n0 = fresh("n", N - 1)
        out_channel = fresh("f", F - 1) if self.is_convolution else fresh("c", C - 1)
        positions = [fresh(axis[3], axis[1] - 1) for axis in self.axes]
        kernel = [fresh(axis[4], axis[2] - 1) for axis in self.axes]
        out_entry = (n0.symbol, out_channel.symbol) + tuple(i.symbol for i in positions)
        rows = tuple(i.symbol * STRIDE + u.symbol - self.padding for i, u in zip(positions, kernel))
        outer = (n0, out_channel, *positions)
        if self.is_convolution:
            c0 = fresh("c", C - 1)
            weight = W[(out_channel.symbol, c0.symbol) + tuple(u.symbol for u in kernel)]
            product = G[out_entry] * weight * X[(n0.symbol, c0.symbol) + rows]
            return [Term(product, outer + (c0, *kernel)), Term(G[out_entry] * B[out_channel.symbol], outer)]
        window = X[(n0.symbol, out_channel.symbol) + rows]
        if self.kind == "avgpool":
            return [Term(G[out_entry] * window / self.kernel_count(), outer + tuple(kernel))]
        selector = S[out_entry + tuple(u.symbol for u in kernel)]
        return [Term(G[out_entry] * selector * window, outer + tuple(kernel))]

    def forward_latex(self) -> tuple[str, ...]:
        """The forward pass as display lines."""
        pos = ", ".join(axis[3] for axis in self.axes)
        ker = ", ".join(axis[4] for axis in self.axes)
        rows = ", ".join(f"{axis[3]} s + {axis[4]}" for axis in self.axes)
        if self.is_convolution:
            return (rf"Y_{{n,f,{pos}}} &= \sum_{{c}} \sum_{{{ker}}} W_{{f,c,{ker}}}\, "
                    rf"X^{{\mathrm{{pad}}}}_{{n,c,{rows}}} + b_f",)
        count = " ".join(f"K_{{{'h' if a[3] == 'i' else 'w'}}}" for a in self.axes)
        if self.kind == "avgpool":
            return (rf"Y_{{n,c,{pos}}} &= \frac{{1}}{{{count}}} \sum_{{{ker}}} X_{{n,c,{rows}}}",)
        return (rf"Y_{{n,c,{pos}}} &= \max_{{{ker}}} X_{{n,c,{rows}}} = \sum_{{{ker}}} S_{{n,c,{pos},{ker}}}\, "
                rf"X_{{n,c,{rows}}}",)
