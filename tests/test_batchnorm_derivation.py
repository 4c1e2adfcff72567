"""Batch norm and layer norm gradients found from the forward pass, read as matrices."""

from functools import lru_cache

import pytest
import sympy as sp

from derive.normalization import derive_normalization
from derive.normalization.derivation import p, q
from derive.normalization.forward import GAMMA, G, S, XHAT
from derive.normalization.index_calculus import N



@lru_cache(maxsize=None)
def derived(kind="batch", unbiased=False):
    return derive_normalization(kind, unbiased)

# The published batch-norm backward (KNOWN.md, "Peers"; cs231n; Ioffe & Szegedy 2015), as the
# brief writes it: the derivation must arrive at exactly this line.
PUBLISHED_BATCH_NORM_DX = (
    r"\frac{1}{N}\,\frac{\gamma}{\sqrt{\sigma^2+\epsilon}} \odot \left(N G - \mathbf{1}\mathbf{1}^\top G"
    r" - \hat X \odot \mathbf{1}\mathbf{1}^\top (G \odot \hat X)\right)")


def test_batch_norm_dx_is_the_published_formula_found_from_the_forward_pass():
    assert derived("batch").dX.latex() == PUBLISHED_BATCH_NORM_DX


@pytest.mark.parametrize("kind, name, expected", [
    ("batch", "dbeta", r"\mathbf{1}^\top G"),
    ("batch", "dgamma", r"\mathbf{1}^\top (G \odot \hat X)"),
    ("layer", "dbeta", r"\mathbf{1}^\top G"),
    ("layer", "dgamma", r"\mathbf{1}^\top (G \odot \hat X)"),
])
def test_parameter_gradients_sum_over_examples_for_both_layers(kind, name, expected):
    assert getattr(derived(kind), name).latex() == expected


@pytest.mark.parametrize("fragment", [
    r"\frac{1}{D}", r"(\gamma \odot G)\,\mathbf{1}\mathbf{1}^\top",
    r"\hat X \odot (\gamma \odot G \odot \hat X)\,\mathbf{1}\mathbf{1}^\top"])
def test_layer_norm_dx_sums_along_features_with_gamma_inside_the_sums(fragment):
    assert fragment in derived("layer").dX.latex()


def test_batch_norm_dx_entry_matches_the_cs231n_index_formula():
    # dx[p,q] = gamma_q / (N s_q) (N G[p,q] - sum_k G[k,q] - xhat[p,q] sum_k G[k,q] xhat[k,q]),
    # written here by hand in index form: a second route to the same entry
    k = sp.Symbol("k", integer=True)
    expected = GAMMA[q] / (N * S[q]) * (N * G[p, q] - sp.Sum(G[k, q], (k, 0, N - 1))
                                         - XHAT[p, q] * sp.Sum(G[k, q] * XHAT[k, q], (k, 0, N - 1)))
    assert sp.expand(derived("batch").dX.entry - expected) == 0


@pytest.mark.parametrize("kind, name, expected", [
    ("batch", "dX", "(1/N) * gamma * (N * G - G.sum(axis=0, keepdims=True)"
                    " - Xhat * (G * Xhat).sum(axis=0, keepdims=True)) / s"),
    ("batch", "dgamma", "(G * Xhat).sum(axis=0)"),
    ("batch", "dbeta", "G.sum(axis=0)"),
    ("layer", "dX", "(1/D) * (D * gamma * G - (gamma * G).sum(axis=1, keepdims=True)"
                    " - Xhat * (gamma * G * Xhat).sum(axis=1, keepdims=True)) / s"),
])
def test_gradients_print_as_numpy_text_with_axis_sums(kind, name, expected):
    assert getattr(derived(kind), name).numpy_text() == expected


def test_batch_norm_has_three_live_chain_rule_paths_and_one_that_vanishes():
    paths = {path.name: path for path in derived("batch").dX.paths}
    assert [name for name, path in paths.items() if path.vanishes] == ["through mu inside sigma^2"]
    assert all(paths[name].in_statistics != 0 for name in ("direct", "through mu", "through sigma^2"))


def test_mu_path_inside_variance_is_a_multiple_of_n_mu_minus_sum_of_x_before_the_mean_rule():
    path = {path.name: path for path in derived("batch").dX.paths}["through mu inside sigma^2"]
    k = sp.Symbol("k", integer=True)
    centred = N * sp.IndexedBase("mu")[q] - sp.Sum(sp.IndexedBase("x")[k, q], (k, 0, N - 1))
    assert centred in sp.Mul.make_args(path.before_mean_rule)
    assert path.collapsed == 0 and path.vanishes


def test_path_terms_add_up_to_the_gradient_entry():
    gradient = derived("batch").dX
    total = sp.Add(*(path.in_statistics for path in gradient.paths))
    assert sp.expand(sp.factor(total) - gradient.entry) == 0


def test_mean_path_term_is_minus_gamma_over_n_s_times_column_sum_of_g():
    k = sp.Symbol("k", integer=True)
    mean_path = {path.name: path for path in derived("batch").dX.paths}["through mu"]
    assert sp.expand(mean_path.in_statistics + GAMMA[q] / (N * S[q]) * sp.Sum(G[k, q], (k, 0, N - 1))) == 0


def test_unbiased_variance_changes_only_the_variance_path_coefficient():
    biased, unbiased = derived("batch"), derived("batch", True)
    assert "N - 1" in unbiased.dX.latex() and "N - 1" not in biased.dX.latex()
    assert unbiased.dgamma.matrix == biased.dgamma.matrix


@pytest.mark.parametrize("name, left", [("dX", r"\frac{\partial J}{\partial X} = "),
                                        ("dgamma", r"\frac{\partial J}{\partial \gamma} = "),
                                        ("dbeta", r"\frac{\partial J}{\partial \beta} = ")])
def test_each_gradient_prints_as_one_equation_line(name, left):
    gradient = getattr(derived("batch"), name)
    assert gradient.equation_latex() == left + gradient.latex() and "\n" not in gradient.equation_latex()


def test_unknown_layer_kind_is_refused_with_the_accepted_kinds():
    with pytest.raises(ValueError, match="batch, layer"):
        derive_normalization("group")


@pytest.mark.parametrize("kind, unbiased", [("batch", False), ("batch", True), ("layer", False)])
def test_every_equation_is_latex_that_matplotlib_mathtext_can_typeset(kind, unbiased):
    # a second reader of the LaTeX: unbalanced braces or unknown commands raise here
    import io

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.mathtext import math_to_image
    for gradient in derived(kind, unbiased).gradients:
        math_to_image(f"${gradient.equation_latex()}$", io.BytesIO(), format="png")


def test_reading_back_refuses_an_entry_that_is_not_entrywise():
    from derive.normalization.derivation import to_matrix
    from derive.normalization.forward import NormalizationLayer
    from derive.normalization.index_calculus import Placeholders
    with pytest.raises(ValueError, match="not an entrywise or broadcast term"):
        to_matrix(GAMMA[p] * G[p, q], NormalizationLayer("batch"), Placeholders(), True)
