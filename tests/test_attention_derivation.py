"""The attention block's gradients are found from the forward pass, and they are the textbook forms."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.attention import reference
from checks.attention.check import default_point
from derive.attention import EMBEDDING, ONE_HEAD, RESIDUAL, derive_program
from derive.attention import matrix_form as mf
from derive.attention.derivation import backward_order
from derive.attention.numeric import BlockPoint, evaluate_block


@pytest.fixture(scope="module")
def one_head():
    return derive_program(ONE_HEAD)


@pytest.mark.parametrize("name, expected", [
    ("dV", r"P^\top\,\mathrm{d}O"),
    ("dP", r"\mathrm{d}O\,V^\top"),
    ("dA", r"P \odot (\mathrm{d}P - \operatorname{rowsum}(P \odot \mathrm{d}P)\,\mathbf{1}^\top)"),
    ("dQ", r"\frac{1}{\sqrt{d}}\,\mathrm{d}S\,K"),
    ("dK", r"\frac{1}{\sqrt{d}}\,\mathrm{d}S^\top\,Q"),
    ("dW_q", r"X^\top\,\mathrm{d}Q"),
    ("dW_o", r"O^\top\,\mathrm{d}Y"),
    ("dX", r"\mathrm{d}Q\,W_q^\top + \mathrm{d}K\,W_k^\top + \mathrm{d}V\,W_v^\top"),
])
def test_found_matrix_form_is_the_textbook_one(one_head, name, expected):
    assert one_head.gradient(name).latex() == expected


def test_the_mask_passes_the_gradient_through_unchanged(one_head):
    assert one_head.gradient("dS").matrix == mf.Leaf("dA")


def test_x_read_by_three_projections_gets_three_paths_that_add(one_head):
    assert [p.stage for p in one_head.gradient("dX").paths] == ["query", "key", "value"]


def test_residual_adds_the_identity_path_to_the_sublayers_gradient():
    dX = derive_program(RESIDUAL).gradient("dX")
    assert [p.stage for p in dX.paths] == ["query", "key", "value", "residual"]
    assert dX.latex().endswith(r"+ \mathrm{d}R")


def test_embedding_gradient_is_onehot_transposed_times_the_upstream_gradient():
    assert derive_program(EMBEDDING).gradient("dC").latex() == r"\mathrm{onehot}^\top\,\mathrm{d}E"


def test_backward_order_reaches_x_only_after_every_stage_reading_it():
    order = backward_order(RESIDUAL)
    assert order.index("X") > max(order.index(n) for n in ("Q", "K", "V", "Y"))


@pytest.mark.parametrize("heads, causal", [(1, False), (2, True), (4, True)])
def test_derived_program_matches_the_hand_written_backward(heads, causal):
    point = default_point(5, 8, heads, causal, seed=3)
    derived = evaluate_block(derive_program(ONE_HEAD), BlockPoint(point.X, point.heads, point.mask, point.dout))
    _, cache = reference.forward(point.X, list(point.heads), point.mask)
    dX, per_head = reference.backward(point.dout, cache)
    assert np.allclose(derived["dX"], dX, rtol=1e-12, atol=1e-12)
    for h in range(heads):
        for w in ("W_q", "W_k", "W_v", "W_o"):
            assert np.allclose(derived[f"d{w}"][h], per_head[h][w], rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(tokens=st.integers(1, 7), head_width=st.integers(1, 4), heads=st.integers(1, 3), causal=st.booleans(),
       residual=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_derived_program_matches_the_hand_written_backward_at_any_size(tokens, head_width, heads, causal, residual,
                                                                       seed):
    point = default_point(tokens, head_width * heads, heads, causal, seed)
    program = _PROGRAMS[residual]
    derived = evaluate_block(program, BlockPoint(point.X, point.heads, point.mask, point.dout))
    _, cache = reference.forward(point.X, list(point.heads), point.mask, residual)
    dX, per_head = reference.backward(point.dout, cache)
    assert np.allclose(derived["dX"], dX, rtol=1e-10, atol=1e-12)
    for h in range(heads):
        for w in ("W_q", "W_k", "W_v", "W_o"):
            assert np.allclose(derived[f"d{w}"][h], per_head[h][w], rtol=1e-10, atol=1e-12)


_PROGRAMS = {False: derive_program(ONE_HEAD), True: derive_program(RESIDUAL)}


def test_the_symbolic_side_never_reads_the_checks_and_the_reference_reads_only_numpy():
    root = Path(__file__).resolve().parent.parent
    for path in (root / "derive" / "attention").glob("*.py"):
        assert "checks" not in "".join(l for l in path.read_text().splitlines(True) if "import" in l), path
    imports = [l for l in (root / "checks" / "attention" / "reference.py").read_text().splitlines()
               if l.startswith(("import", "from"))]
    assert imports == ["from __future__ import annotations", "import numpy as np"]
