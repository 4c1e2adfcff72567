"""The catalogue of mistakes: every entry, planted in a hand-written NumPy backprop, is caught and named."""

import numpy as np
import pytest

from checks.diagnose import formula_program, mistakes
from checks.inputs.data import random_data, random_params
from checks.handwritten.network import backprop
from checks.diagnose.user_function import verify_function
from derive.network.spec import NetworkSpec, parse_spec

# Every dimension 3 (inputs, hidden, outputs, examples): every transpose and product variant has
# shapes that fit, so every catalogue entry applies. Mean, L2 and vector biases make the 1/m,
# L2 and bias entries apply; binary cross-entropy makes the cross-entropy entry apply.
SQUARE = {convention: NetworkSpec((3, 3, 3), ("sigmoid", "sigmoid"), cost="binary_cross_entropy",
                                  reduction="mean", bias="vector", convention=convention, m=3, l2=0.1)
          for convention in ("row", "column")}
UNIT_BIAS = {convention: NetworkSpec((2, 3, 2), ("tanh", "sigmoid"), cost="half_sse", reduction="mean",
                                     bias="unit", convention=convention, m=3, l2=0.2)
             for convention in ("row", "column")}
# Entries for one table entry's own rule apply to nets using it, not to SQUARE: they are planted in
# tests/test_table_additions.py (leaky_relu's slope dropped, Huber's residual not clipped).
# Ng's wrong bias row applies to bias-unit nets only: planted in both conventions below.
OWN_SPEC_KEYS = frozenset({"derivative_of_other_activation", "residual_not_clipped", "bias_slice_wrong_end"})
KEYS = tuple(entry.key for entry in mistakes.CATALOGUE if entry.key not in OWN_SPEC_KEYS)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1.0 - sigmoid(z))


def planted_backprop(spec, mistake=None):
    """A 1-hidden-layer backprop written by hand for SQUARE's specs, with one planted mistake."""
    row, m, lam = spec.convention == "row", spec.m, spec.l2

    def fn(X, y, W1, b1, W2, b2):
        used = W1.copy()
        if mistake == "weight_misplaced":  # seed 004's typo: one input's weight to unit 0 reused for unit 1
            used[1, 1] = W1[1, 0] if row else W1[0, 1]
        z2 = X @ used + b1 if row else used @ X + b1
        a2 = sigmoid(z2)
        z3 = a2 @ W2 + b2 if row else W2 @ a2 + b2
        if mistake == "product_as_sum":  # seed 004's other typo: z2+w22 for z2*w22
            if row:
                z3[:, 0] += a2[:, 1] + W2[1, 0] - a2[:, 1] * W2[1, 0]
            else:
                z3[0, :] += a2[1, :] + W2[0, 1] - W2[0, 1] * a2[1, :]
        yhat = sigmoid(z3)
        delta3 = {"sign_flipped": (y - yhat) / m, "mean_missing": yhat - y, "mean_extra": (yhat - y) / m / m,
                  # d/dz of -(y log yhat + (1 - y) log yhat) = -log yhat, over m: (yhat - 1) / m
                  "cross_entropy_term": (yhat - 1.0) / m,
                  # Nielsen ch. 3: the quadratic cost's (yhat - y) * sigma'(z3) kept under cross-entropy
                  "quadratic_delta_with_cross_entropy": (yhat - y) * sigmoid_prime(z3) / m,
                  }.get(mistake, (yhat - y) / m)
        fp = {"derivative_of_activation": sigmoid_prime(a2),
              "derivative_form_on_z": z2 * (1 - z2)}.get(mistake, sigmoid_prime(z2))
        back = {
            ("transpose_missing", True): lambda: delta3 @ W2, ("transpose_missing", False): lambda: W2 @ delta3,
            ("transpose_misplaced", True): lambda: delta3.T @ W2,
            ("transpose_misplaced", False): lambda: W2 @ delta3.T,
            ("product_order_swapped", True): lambda: W2.T @ delta3,
            ("product_order_swapped", False): lambda: delta3 @ W2.T,
            ("hadamard_for_matmul", True): lambda: delta3 * W2.T,
            ("hadamard_for_matmul", False): lambda: W2.T * delta3,
        }.get((mistake, row), lambda: delta3 @ W2.T if row else W2.T @ delta3)()
        delta2 = {"matmul_for_hadamard": back @ fp, "derivative_missing": back}.get(mistake, back * fp)
        reg1, reg2 = (0.0, 0.0) if mistake == "l2_missing" else (lam / m * W1, lam / m * W2)
        dW1 = (X.T @ delta2 if row else delta2 @ X.T) + reg1
        dW2 = (a2.T @ delta3 if row else delta3 @ a2.T) + reg2
        axis = 0 if row else 1
        db1, db2 = delta2.sum(axis=axis, keepdims=True), delta3.sum(axis=axis, keepdims=True)
        if mistake == "bias_regularized":
            db1, db2 = db1 + lam / m * b1, db2 + lam / m * b2
        return dW1, db1, dW2, db2

    return fn


def planted_unit_bias(spec, regularize_bias: bool):
    """Ng's bias unit (tanh hidden, sigmoid output, half SSE, mean), with or without bias regularized."""
    row, m, lam = spec.convention == "row", spec.m, spec.l2

    def with_ones(a):
        return np.hstack([np.ones((a.shape[0], 1)), a]) if row else np.vstack([np.ones((1, a.shape[1])), a])

    def penalized(W):
        P = W.copy()
        if not regularize_bias:
            if row:
                P[0, :] = 0.0
            else:
                P[:, 0] = 0.0
        return lam / m * P

    def fn(X, y, W1, W2):
        a1 = with_ones(X)
        z2 = a1 @ W1 if row else W1 @ a1
        a2 = with_ones(np.tanh(z2))
        z3 = a2 @ W2 if row else W2 @ a2
        yhat = sigmoid(z3)
        delta3 = (yhat - y) * sigmoid_prime(z3) / m
        back = delta3 @ W2[1:, :].T if row else W2[:, 1:].T @ delta3
        delta2 = back * (1 - np.tanh(z2) ** 2)
        dW1 = (a1.T @ delta2 if row else delta2 @ a1.T) + penalized(W1)
        dW2 = (a2.T @ delta3 if row else delta3 @ a2.T) + penalized(W2)
        return dW1, dW2

    return fn


def named_keys(verdict) -> set[str]:
    return {key for explanation in verdict.explanations for key in explanation.keys}


@pytest.mark.parametrize("convention", ["row", "column"])
def test_planted_backprop_without_a_mistake_passes(convention):
    assert verify_function(planted_backprop(SQUARE[convention]), SQUARE[convention], points=2).passed


@pytest.mark.parametrize("convention", ["row", "column"])
@pytest.mark.parametrize("key", [k for k in KEYS])
def test_every_catalogue_mistake_planted_in_numpy_backprop_is_caught_and_named(key, convention):
    spec = SQUARE[convention]
    verdict = verify_function(planted_backprop(spec, key), spec, points=2)
    assert not verdict.passed
    assert key in named_keys(verdict), verdict.text()
    # a single mistake explains the numbers: the search stops before combining mistakes
    assert all(len(e.mistakes) == 1 for e in verdict.explanations)


@pytest.mark.parametrize("convention", ["row", "column"])
def test_regularized_bias_unit_weights_are_caught_and_named(convention):
    spec = UNIT_BIAS[convention]
    assert verify_function(planted_unit_bias(spec, False), spec, points=2).passed
    verdict = verify_function(planted_unit_bias(spec, True), spec, points=2)
    assert not verdict.passed
    assert named_keys(verdict) == {"bias_regularized"}, verdict.text()


def test_the_square_spec_has_every_catalogue_entry():
    generated = {mistake.key for mistake in mistakes.catalogue(SQUARE["row"])}
    assert generated == set(KEYS)


@pytest.mark.parametrize("spec", [
    parse_spec("2-3-1"),
    parse_spec("2-3-2", activation="tanh", output_activation="sigmoid", cost="bce", reduction="mean",
               bias="vector", convention="column", m=3, l2=0.1),
    parse_spec("2-2-1", activation="relu", output_activation="sigmoid", cost="bce", bias="unit", m=1, l2=0.5),
    parse_spec("2-3-3", output_activation="softmax", cost="cce", m=2),
    parse_spec("3-2-2-2", activation="tanh", output_activation="identity", cost="mse", m=2, convention="column"),
], ids=lambda spec: spec.slug)
def test_formula_set_equals_the_hand_written_numpy_backprop(spec):
    params, (X, Y) = random_params(spec, 1), random_data(spec, rng=2)
    values = formula_program.run(formula_program.formula_set(spec).formulas,
                                 formula_program.point_env(spec, X, Y, params))
    reference = backprop(spec, params, X, Y)
    assert values["J"][0, 0] == pytest.approx(reference.cost, rel=1e-12)
    for name, gradient in reference.gradients.items():
        np.testing.assert_allclose(values[f"grad_{name}"], gradient, rtol=1e-10, atol=1e-14)
    for layer, delta in reference.deltas.items():
        np.testing.assert_allclose(values[f"delta{layer}"], delta, rtol=1e-10, atol=1e-14)


def test_a_mistake_that_changes_nothing_is_not_offered():
    # f' of the identity is 1: leaving it out of the output delta is no mistake for this spec
    spec = parse_spec("2-2-2", activation="sigmoid", output_activation="identity", m=2)
    params, (X, Y) = random_params(spec, 3), random_data(spec, rng=4)
    env = formula_program.point_env(spec, X, Y, params)
    correct = formula_program.run(formula_program.formula_set(spec).formulas, env)
    observed = [{"W1": correct["grad_W1"], "W2": correct["grad_W2"]}]
    search = mistakes.explain(spec, [env], observed, ["W1", "W2"])
    assert search.explanations == ()
    assert any(m.key == "derivative_missing" and "delta3" in m.detail for m in mistakes.catalogue(spec))


@pytest.mark.parametrize("expression, text", [
    ("delta2", "(delta3 @ W2.T) * sigmoid_prime(z2)"),
    ("W1", "X.T @ delta2"),
])
def test_formulas_print_as_numpy_code(expression, text):
    formulas = formula_program.formula_set(parse_spec("2-3-1"))
    name = expression if expression.startswith("delta") else f"dJ_d{expression}"
    assert mistakes.formula_text(formulas.formula(name)) == text


@pytest.mark.parametrize("convention", ["row", "column"])
def test_the_wrong_bias_row_dropped_is_named_in_either_form(convention):
    """Ng's (Theta2.T @ d3)[:-1] for [1:]: the edited program's delta2 is named as that mistake."""
    import numpy as np
    from checks.diagnose.calling import evaluation_points
    from checks.diagnose.formula_program import formula_set, point_env, run

    spec = UNIT_BIAS[convention]
    wrong = next(m for m in mistakes.catalogue(spec) if m.key == "bias_slice_wrong_end")
    edited = mistakes.apply_mistakes(formula_set(spec), [wrong])
    envs = [point_env(spec, p.X, p.Y, p.params) for p in evaluation_points(spec, 2)]
    observed = [{"delta2": np.asarray(run(edited, env)["delta2"])} for env in envs]
    found = mistakes.explain(spec, envs, observed, ["delta2"], within=frozenset({"delta2"}))
    assert [e.keys for e in found.explanations] == [("bias_slice_wrong_end",)]
