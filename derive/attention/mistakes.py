"""The mistakes people make in a hand-written attention backward, each an edit of the derived program.

`backprop verify --layer` evaluates every edit at the same points as a person's function and names
those that reproduce its numbers; the tests plant each in the proofs and the checks to show they fail.
Each edit takes a derivation.Program and returns one; one that does not apply raises ValueError.
"""

from __future__ import annotations

from derive.attention import matrix_form as mf
from derive.attention.derivation import Program


def _edit(program: Program, name: str, change) -> Program:
    if name not in {g.name for g in program.gradients}:
        raise ValueError(f"{name} is not part of this block")
    return program.replace(name, mf.rebuild(program.gradient(name).matrix, change))


def rowsum_dropped(program: Program) -> Program:
    """dA = P * dP: the softmax treated as entrywise, its rowsum(dP * P) 1^T term missing."""
    def change(node):
        if isinstance(node, mf.Add) and any(mf.leaves(t) == {"P", "dP"} and _has_rowsum(t) for t in node.terms):
            kept = tuple(t for t in node.terms if not _has_rowsum(t))
            return kept[0] if len(kept) == 1 else mf.Add(kept)
        return node
    return _edit(program, "dA", change)


def _has_rowsum(node) -> bool:
    return isinstance(node, mf.RowSum) or any(_has_rowsum(c) for c in mf.children(node))


def scale_forgotten(program: Program) -> Program:
    """dQ = dS K and dK = dS^T Q: the forward's 1/sqrt(d) left out of the backward."""
    def change(node):
        return node.argument if isinstance(node, mf.Scale) and node.coefficient.has(mf.D_KEY) else node
    return _edit(_edit(program, "dQ", change), "dK", change)


def _transpose_dS(node):
    if isinstance(node, mf.Leaf) and node.name == "dS":
        return mf.Transpose(node)
    if isinstance(node, mf.Transpose) and node.argument == mf.Leaf("dS"):
        return mf.Leaf("dS")
    return node


def _swap_dS(program: Program, name: str) -> Program:
    """dS^T where dS belongs (or the other way round), without undoing it on the way back up."""
    def change(node):
        if isinstance(node, mf.MatMul):
            return mf.MatMul(_transpose_dS(_untranspose(node.left)), node.right)
        return node

    def _untranspose(node):  # rebuild is bottom-up: the leaf below is still untouched here
        return node
    return _edit(program, name, change)


def dq_transposed(program: Program) -> Program:
    """dQ = dS^T K / sqrt(d): the transpose put on the wrong factor (K^T's place taken by dS^T)."""
    return _swap_dS(program, "dQ")


def dk_untransposed(program: Program) -> Program:
    """dK = dS Q / sqrt(d): dS where dS^T belongs (Q's transpose dropped with it)."""
    return _swap_dS(program, "dK")


def mask_dropped(program: Program) -> Program:
    """The backward recomputes P = softmax(S) without the mask (FlashAttention-style recomputation
    that forgets B): every P in the backward is the unmasked one."""
    def change(node):
        return mf.Leaf("P_unmasked") if node == mf.Leaf("P") else node
    for name in ("dV", "dA"):
        program = _edit(program, name, change)
    return program


def repeats_overwritten(program: Program) -> Program:
    """dC[tokens] = dE: a token that occurs twice keeps only its last row of dE (= instead of +=)."""
    def change(node):
        return mf.Leaf("onehot_last") if node == mf.Leaf("onehot") else node
    return _edit(program, "dC", change)


def identity_path_dropped(program: Program) -> Program:
    """dX of the residual block without its identity path dR: only (dF)^T dR is kept."""
    def change(node):
        if isinstance(node, mf.Add) and mf.Leaf("dR") in node.terms:
            return mf.Add(tuple(t for t in node.terms if t != mf.Leaf("dR")))
        return node
    return _edit(program, "dX", change)


# (name, what the person did, edit): the order `verify` reports them in
CATALOGUE = (
    ("rowsum term missing", "the softmax treated as entrywise: dS = P * dP, without - P * rowsum(dP * P)",
     rowsum_dropped),
    ("1/sqrt(d) forgotten", "dQ and dK without the forward's 1/sqrt(d)", scale_forgotten),
    ("transpose misplaced in dQ", "dQ = dS^T K / sqrt(d) where dQ = dS K / sqrt(d)", dq_transposed),
    ("transpose misplaced in dK", "dK = dS Q / sqrt(d) where dK = dS^T Q / sqrt(d)", dk_untransposed),
    ("mask not applied in the backward", "the backward's P is softmax(S) without the mask", mask_dropped),
    ("repeated tokens overwritten", "dC[tokens] = dE keeps one row per token: repeated tokens must add",
     repeats_overwritten),
    ("identity path dropped", "the residual's dX lacks the identity path: dX = (dF)^T dR instead of dR + (dF)^T dR",
     identity_path_dropped),
)
