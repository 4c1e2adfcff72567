"""Three proofs that the attention block's derived gradients are right, each able to fail.

- entrywise: at T = 3 tokens and d = 2, every stage's derived formula against SymPy's diff of
  sum(dOut * Out) with the stage's inputs as symbols, and the whole block (projections, mask,
  softmax, output, residual) against SymPy's diff of J = sum(G * output). exp(A) is the only
  transcendental: each exp(A[i, j]) is named E_ij after differentiating, so both sides are rational
  functions and a zero numerator decides;
- randomized: at realistic sizes (several heads, causal or not), exactly in GF(2^61 - 1): the
  derived gradient's inner product with a random direction equals the forward pass's derivative
  along it by dual numbers. GF(p) has no exp, but the derivative uses one fact of it, exp' = exp:
  each E = exp(A) is a random field element with dE = E dA, so the identity is tested for every
  value exp could take, which includes the true ones. The scale is the true 1/sqrt(d) of GF(p)
  (d a power of 2 has a square root there);
- index level: at symbolic T, d and m, each stage's chain-rule sum minus the matrix form written
  back in indices collapses to 0 under the rules of index_calculus.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import sympy as sp

from derive.proofs.result import LayerProof

from derive.attention import matrix_form as mf
from derive.attention.derivation import Program, chain_rule, collapse_path, p, q
from derive.attention.forward import SIZES, STAGES, base
from derive.attention.index_calculus import fresh_index
from derive.attention.numeric import BlockPoint, block_forward, causal_mask, evaluate_block
from derive.proofs.modular import PRIME, inverse


ProofResult = LayerProof  # the families' proofs share one result kind (derive/proofs/result.py)


# ---------------------------------------------------------------- entrywise, tiny sizes

TINY = {"T": 3, "d": 2, "m": 2, "n": 3}


def _symbols(name: str, shape) -> np.ndarray:
    return np.array([[sp.Symbol(f"{name}_{a}{b}") for b in range(shape[1])] for a in range(shape[0])], dtype=object)


class Exp(sp.Function):
    """exp with SymPy's own rule exp' = exp, but kept apart: SymPy merges exp(a) exp(b) into
    exp(a + b), which hides which exponentials a term holds; Exp(a) Exp(b) stays two factors."""

    def fdiff(self, argindex=1):
        return self


def _name_exponentials(expression: sp.Expr, names: dict) -> sp.Expr:
    """Exp(anything) -> one symbol per distinct argument, shared by both sides of a comparison."""
    def named(e):
        if e.args[0] not in names:
            names[e.args[0]] = sp.Symbol(f"E{len(names)}", positive=True)
        return names[e.args[0]]
    return expression.replace(lambda e: isinstance(e, Exp), named)


def _equal(a: sp.Expr, b: sp.Expr, names: dict) -> bool:
    difference = _name_exponentials(a, names) - _name_exponentials(b, names)
    return sp.expand(sp.numer(sp.together(difference))) == 0


def _stage_entries(stage, sizes: dict, inputs: dict) -> np.ndarray:
    """The stage's output at concrete sizes: its symbolic entry, sums done, inputs substituted."""
    rows, cols = (sizes[s] for s in stage.shape)
    concrete = {SIZES[k]: v for k, v in sizes.items()}
    out = np.empty((rows, cols), dtype=object)
    for i, c in itertools.product(range(rows), range(cols)):
        entry = stage.entry(sp.Integer(i), sp.Integer(c)).subs(concrete).doit()
        entry = entry.replace(lambda e: isinstance(e, sp.Indexed), lambda e: inputs[str(e.base.label)][e.indices])
        out[i, c] = entry.replace(sp.exp, Exp)
    return out


def prove_stages_entrywise(program: Program, sizes: dict = TINY) -> ProofResult:
    """Each gradient's matrix form against SymPy's diff of sum over the stages reading it of
    sum(dOut * Out), at concrete sizes, the stages' inputs as symbols (shared where shared)."""
    for gradient in program.gradients:
        stages = [STAGES[path.stage] for path in gradient.paths]
        inputs = {name: _symbols(name, tuple(sizes[s] for s in shape))
                  for stage in stages for name, shape in stage.inputs.items()}
        inputs["B"] = np.zeros((sizes["T"], sizes["T"]), dtype=object)  # the mask enters through P
        inputs["onehot"] = _symbols("onehot", (sizes["T"], sizes["n"]))  # any constant matrix
        values, cost = dict(inputs), sp.Integer(0)
        for stage in stages:
            upstream = _symbols("d" + stage.output, tuple(sizes[s] for s in stage.shape))
            out = _stage_entries(stage, sizes, inputs)
            cost += sp.Add(*(upstream * out).ravel())
            values.update({"d" + stage.output: upstream, stage.output: out})
        derived = mf.evaluate(gradient.matrix, values, sizes["d"], mf.SymbolicArithmetic())
        names: dict = {}
        for index in np.ndindex(*inputs[gradient.of].shape):
            if not _equal(derived[index], sp.diff(cost, inputs[gradient.of][index]), names):
                return ProofResult("entrywise", False, (), f"{gradient.name} at entry {index} differs from "
                                   f"SymPy's diff")
    return ProofResult("entrywise", True, tuple(g.name for g in program.gradients))


def symbolic_point(heads: int, sizes: dict = TINY, causal: bool = False) -> BlockPoint:
    T, d = sizes["T"], sizes["d"]
    m = d * heads
    weights = tuple({w: _symbols(f"{w}{h}", (m, d) if w != "W_o" else (d, m)) for w in ("W_q", "W_k", "W_v", "W_o")}
                    for h in range(heads))
    mask = causal_mask(T) if causal else np.ones((T, T), dtype=bool)
    return BlockPoint(_symbols("X", (T, m)), weights, mask, _symbols("G", (T, m)))


def symbolic_exponential(A, mask):
    return np.where(mask, np.vectorize(Exp, otypes=[object])(A), sp.Integer(0))


def prove_block_entrywise(program: Program, heads: int = 1, causal: bool = False, sizes: dict = TINY) -> ProofResult:
    """dX and every head's weights of the whole block against SymPy's diff of J = sum(G * output)."""
    point = symbolic_point(heads, sizes, causal)
    arithmetic = mf.SymbolicArithmetic()
    _, output = block_forward(point, "residual" in program.stages, symbolic_exponential, arithmetic)
    cost = sp.Add(*(point.upstream * output).ravel())
    derived = evaluate_block(program, point, symbolic_exponential, arithmetic)
    names: dict = {}
    targets = [("dX", point.X, derived["dX"])] + [
        (f"d{w}", point.heads[h][w], derived[f"d{w}"][h]) for h in range(heads) for w in ("W_q", "W_k", "W_v", "W_o")]
    for name, variables, value in targets:
        for index in np.ndindex(*variables.shape):
            if not _equal(value[index], sp.diff(cost, variables[index]), names):
                return ProofResult("entrywise", False, (), f"{name} of the block at entry {index} differs from "
                                   f"SymPy's diff (T = {sizes['T']}, d = {sizes['d']}, {heads} head(s))")
    return ProofResult("entrywise", True, tuple(dict.fromkeys(t[0] for t in targets)))


# ---------------------------------------------------------------- randomized, GF(p)

REALISTIC = {"T": 12, "d": 16, "heads": 2}


def _random(generator: random.Random, shape) -> np.ndarray:
    return np.array([generator.randrange(1, PRIME) for _ in range(int(np.prod(shape)))], dtype=object).reshape(shape)


def _mod(array):
    return np.asarray(array, dtype=object) % PRIME


def _inverse_column(column):
    return np.array([[inverse(v)] for v in column[:, 0]], dtype=object)


def directional_derivative(point: BlockPoint, direction: BlockPoint, exponentials: list, residual: bool) -> int:
    """d/dt J(point + t direction) at t = 0 in GF(p), forward mode (dual numbers), dE = E dA."""
    scale = mf.ModularArithmetic().scalar(1 / sp.sqrt(mf.D_KEY), point.key_width)
    X, dX = point.X, direction.X
    output = _mod(X + 0) if residual else None
    d_output = _mod(dX + 0) if residual else np.zeros(point.upstream.shape, dtype=object)
    for h, (w, dw) in enumerate(zip(point.heads, direction.heads)):
        pairs = {}
        for name in ("W_q", "W_k", "W_v"):
            pairs[name] = (_mod(X @ w[name]), _mod(dX @ w[name] + X @ dw[name]))
        (Q, dQ), (K, dK), (V, dV) = pairs["W_q"], pairs["W_k"], pairs["W_v"]
        dS = _mod(scale * _mod(dQ @ K.T + Q @ dK.T))
        E = exponentials[h]
        dE = _mod(E * dS)  # exp' = exp; masked entries have E = 0
        Z, dZ = _mod(E.sum(axis=1, keepdims=True)), _mod(dE.sum(axis=1, keepdims=True))
        inverse_Z = _inverse_column(Z)
        P = _mod(E * inverse_Z)
        dP = _mod(_mod(dE * Z - E * dZ) * _mod(inverse_Z * inverse_Z))
        O, dO = _mod(P @ V), _mod(dP @ V + P @ dV)
        d_output = _mod(d_output + dO @ w["W_o"] + O @ dw["W_o"])
    return int(_mod((point.upstream * d_output).sum()))


def prove_randomized(program: Program, sizes: dict = REALISTIC, causal: bool = True, trials: int = 2,
                     seed: int = 0) -> ProofResult:
    """<derived gradient, direction> = forward-mode derivative, exactly in GF(2^61 - 1)."""
    T, d, heads = sizes["T"], sizes["d"], sizes["heads"]
    m = d * heads
    generator = random.Random(seed)
    residual = "residual" in program.stages
    mask = causal_mask(T) if causal else np.ones((T, T), dtype=bool)
    arithmetic = mf.ModularArithmetic()

    def draw() -> BlockPoint:
        return BlockPoint(_random(generator, (T, m)), tuple(
            {w: _random(generator, (m, d) if w != "W_o" else (d, m)) for w in ("W_q", "W_k", "W_v", "W_o")}
            for _ in range(heads)), mask, _random(generator, (T, m)))

    names = ["dX"] + [f"d{w}" for w in ("W_q", "W_k", "W_v", "W_o")]
    for trial in range(trials):
        point = draw()
        exponentials = [np.where(mask, _random(generator, (T, T)), 0).astype(object) for _ in range(heads)]
        table = iter(exponentials)
        # the table is the block's exp(A); an unmasked softmax (read only by a planted mistake) gets fresh values
        derived = evaluate_block(program, point, lambda A, given: next(table) if given is mask else
                                 _random(generator, A.shape), arithmetic)
        for name in names:
            zero = BlockPoint(np.zeros((T, m), dtype=object), tuple(
                {w: np.zeros(v.shape, dtype=object) for w, v in head.items()} for head in point.heads), mask, None)
            if name == "dX":
                direction = BlockPoint(_random(generator, (T, m)), zero.heads, mask, None)
                got = int(_mod((derived["dX"] * direction.X).sum()))
            else:
                moved = tuple({w: (_random(generator, v.shape) if f"d{w}" == name else v) for w, v in head.items()}
                              for head in zero.heads)
                direction = BlockPoint(zero.X, moved, mask, None)
                got = int(_mod(sum((derived[name][h] * moved[h][name[1:]]).sum() for h in range(heads))))
            expected = directional_derivative(point, direction, exponentials, residual)
            if got != expected:
                return ProofResult("randomized GF(p)", False, (), f"{name}: <derived, direction> = {got} but the "
                                   f"forward pass's derivative is {expected} (trial {trial}, T = {T}, d = {d}, "
                                   f"{heads} heads)")
    return ProofResult("randomized GF(p)", True, tuple(names))


# ---------------------------------------------------------------- index level, symbolic sizes

SHAPES = {name: shape for stage in STAGES.values() for name, shape in
          list(stage.inputs.items()) + [(stage.output, stage.shape)]}
SHAPES.update({"onehot": ("T", "n"), "B": ("T", "T")})


def shape_of(node: mf.Node) -> tuple[str, str]:
    if isinstance(node, mf.Leaf):
        return SHAPES[node.name[1:] if node.name.startswith("d") and node.name[1:] in SHAPES else node.name]
    if isinstance(node, mf.Transpose):
        return shape_of(node.argument)[::-1]
    if isinstance(node, mf.MatMul):
        return shape_of(node.left)[0], shape_of(node.right)[1]
    if isinstance(node, mf.RowSum):
        return shape_of(node.argument)[0], "1"
    return shape_of(next(c for c in mf.children(node) if not isinstance(c, mf.RowSum)))


def to_indexed(node: mf.Node, row, col) -> sp.Expr:
    """A matrix node's entry (row, col) in index notation, products and row sums as Sums."""
    if isinstance(node, mf.Leaf):
        return base(node.name)[row, col]
    if isinstance(node, mf.Transpose):
        return to_indexed(node.argument, col, row)
    if isinstance(node, mf.MatMul):
        k = fresh_index("k")
        inner = SIZES[shape_of(node.left)[1]]
        return sp.Sum(to_indexed(node.left, row, k) * to_indexed(node.right, k, col), (k, 0, inner - 1))
    if isinstance(node, mf.RowSum):
        k = fresh_index("k")
        return sp.Sum(to_indexed(node.argument, row, k), (k, 0, SIZES[shape_of(node.argument)[1]] - 1))
    if isinstance(node, mf.Hadamard):
        return sp.Mul(*(to_indexed(f, row, col) for f in node.factors))
    if isinstance(node, mf.Scale):
        return node.coefficient * to_indexed(node.argument, row, col)
    if isinstance(node, mf.Add):
        return sp.Add(*(to_indexed(t, row, col) for t in node.terms))
    raise TypeError(node)


def _canonical(term) -> sp.Expr:
    """A collapsed term with its summation indices renamed canonically (the smallest printing over
    the orders) and its constant factors outside the Sum, so equal sums cancel in SymPy's Add."""
    best = None
    for order in itertools.permutations(term.indices):
        names = {index: sp.Symbol(f"k{n}", integer=True) for n, (index, _) in enumerate(order)}
        coefficient = term.coefficient.xreplace(names)
        inside = sp.Mul(*[f for f in sp.Mul.make_args(coefficient) if f.free_symbols & set(names.values())])
        outside = sp.Mul(*[f for f in sp.Mul.make_args(coefficient) if not f.free_symbols & set(names.values())])
        limits = tuple((names[index], 0, size - 1) for index, size in order)
        candidate = outside * (sp.Sum(inside, *limits) if limits else inside)
        if best is None or sp.srepr(candidate) < sp.srepr(best):
            best = candidate
    return best


def prove_index_level(program: Program) -> ProofResult:
    """At symbolic sizes: each path's chain-rule sum minus its matrix form in indices collapses to 0."""
    for gradient in program.gradients:
        stages = [STAGES[path.stage] for path in gradient.paths]
        chain = sp.Add(*(chain_rule(stage, gradient.of) for stage in stages))
        terms = collapse_path(stages[0], chain - to_indexed(gradient.matrix, p, q))
        residual = sp.expand(sp.Add(*(_canonical(t) for t in terms)))
        if residual != 0:
            return ProofResult("index level", False, (), f"{gradient.name}: the chain rule over "
                               f"{', '.join(s.name for s in stages)} minus the matrix form leaves {residual}")
    return ProofResult("index level", True, tuple(g.name for g in program.gradients))


def prove_all(program: Program, heads: int = 2, causal: bool = True) -> tuple[ProofResult, ...]:
    """Entrywise (every stage) at T = 3, d = 2; randomized (the whole block, `heads` heads, causal
    or not) at T = 12, d = 16; index level at symbolic sizes. The whole block entrywise is
    prove_block_entrywise (minutes at T = 3: one rational function per entry with three softmax
    denominators), run by the slow tests."""
    results = [prove_stages_entrywise(program)]
    if "query" in program.stages:
        results.append(prove_randomized(program, dict(REALISTIC, heads=heads), causal=causal))
    if "embedding" in program.stages:
        results.append(prove_randomized_embedding(program))
    results.append(prove_index_level(program))
    return tuple(results)


def prove_randomized_embedding(program: Program, tokens: int = 64, vocab: int = 50, width: int = 32,
                               seed: int = 0) -> ProofResult:
    """<dC, direction> = d/dt sum(dE * onehot (C + t direction)) in GF(p), with repeated tokens."""
    generator = random.Random(seed)
    ids = [generator.randrange(vocab // 4) for _ in range(tokens)]  # a quarter of the vocabulary: repeats
    onehot = np.zeros((tokens, vocab), dtype=object)
    onehot[np.arange(tokens), ids] = 1
    upstream, direction = _random(generator, (tokens, width)), _random(generator, (vocab, width))
    derived = mf.evaluate(program.gradient("dC").matrix, {"onehot": onehot, program.top: upstream}, 1,
                          mf.ModularArithmetic())
    got = int(_mod((derived * direction).sum()))
    expected = int(_mod((upstream * _mod(onehot @ direction)).sum()))  # E is linear in C
    if got != expected:
        return ProofResult("randomized GF(p)", False, (), f"dC: <derived, direction> = {got}, the forward "
                           f"pass's derivative {expected} (T = {tokens}, vocabulary {vocab})")
    return ProofResult("randomized GF(p)", True, ("dC",))


def prove_flash_identity(program: Program) -> ProofResult:
    """rowsum(dP * P) = rowsum(dO * O) at symbolic T and d: dP written as its derived matrix form,
    O as its forward definition sum_j P[i, j] V[j, c], both collapsed and compared."""
    dP, P, dO = program.gradient("dP").matrix, mf.Leaf("P"), mf.Leaf("dO")
    left = to_indexed(mf.RowSum(mf.Hadamard((dP, P))), p, q)
    right = to_indexed(mf.RowSum(mf.Hadamard((dO, mf.Leaf("O")))), p, q)
    right = right.replace(lambda e: isinstance(e, sp.Indexed) and e.base == base("O"),
                          lambda e: STAGES["values"].entry(*e.indices))
    terms = collapse_path(STAGES["values"], left - right)
    residual = sp.expand(sp.Add(*(_canonical(t) for t in terms)))
    if residual != 0:
        return ProofResult("FlashAttention's identity", False, (), f"rowsum(dP * P) - rowsum(dO * O) leaves {residual}")
    return ProofResult("FlashAttention's identity", True, ("rowsum(dP * P) = rowsum(dO * O)",))
