"""Correct code as published (Welch Labs, Nielsen, Ng's ex4, cs231n) passes `backprop verify`, and a
bug injected into each is named. The fixtures in tests/fixtures/published/ keep each source's
shapes, containers and conventions; the expected gradients come from the derivation, not from them."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from checks.diagnose import l2_conventions
from checks.diagnose.contract import CallingForm
from checks.diagnose.user_function import verify_function
from derive.cli import main
from derive.network.spec import parse_spec

PUBLISHED = Path(__file__).resolve().parent / "fixtures" / "published"
WELCH = ["--reduction", "mean", "--l2", "0.0001"]
NIELSEN = ["--per-example", "--names", "weights[0]=W1,weights[1]=W2,biases[0]=b1,biases[1]=b2",
           "--convention", "column", "--bias", "vector", "--layers", "3-4-2"]
NG = ["--labels", "1", "--layers", "3-5-4", "--cost", "binary_cross_entropy", "--reduction", "mean",
      "--bias", "unit", "--convention", "column", "--l2", "1", "--returns", "cost,gradients"]
CS231N = ["--labels", "0", "--layers", "4-5-3", "--activation", "relu", "--output-activation", "softmax",
          "--cost", "categorical_cross_entropy", "--reduction", "mean", "--bias", "vector", "--l2", "0.05",
          "-m", "6", "--returns", "cost,gradients", "--l2-convention", "cs231n"]


def verify(capsys, target, *options):
    code = main(["verify", str(PUBLISHED / target), *options])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("target, options", [
    ("welch_labs.py:NN.costFunctionPrime", WELCH + ["--l2-convention", "welch"]),
    ("nielsen_network.py:NET.backprop", NIELSEN),
    ("nielsen_network.py:CROSS_ENTROPY.backprop", NIELSEN + ["--cost", "binary_cross_entropy"]),
    ("ng_ex4.py:nnCostFunction", NG),
    ("ng_ex4_unrolled.py:nnCostFunction", ["--unrolled", "F"] + [o for o in NG if o not in ("--returns", "cost,gradients")]),
    ("cs231n_two_layer.py:loss", CS231N),
    ("cs231n_two_layer.py:loss_float32", CS231N),
])
def test_correct_published_code_passes(capsys, target, options):
    code, out, err = verify(capsys, target, *options)
    assert (code, err) == (0, ""), out + err
    assert "verdict: PASS" in out


@pytest.mark.parametrize("target, options, named", [
    ("welch_labs.py:BUGGY.costFunctionPrime", WELCH + ["--l2-convention", "welch"],
     "L2 term left out: dJ/dW1 has no L2 term"),
    ("nielsen_network.py:BUGGY.backprop", NIELSEN + ["--cost", "binary_cross_entropy"],
     "quadratic-cost delta kept with cross-entropy"),
    ("ng_ex4.py:nnCostFunction_bias_regularized", NG,
     "the bias entries of W1 (column 0, Ng's bias unit) regularized"),
    ("cs231n_two_layer.py:loss_reg_without_two", CS231N,
     "cs231n's `reg * W` where `2 * reg * W` belongs"),
])
def test_a_bug_injected_into_published_code_is_named(capsys, target, options, named):
    code, out, err = verify(capsys, target, *options)
    assert (code, err) == (1, ""), out + err
    assert named in out, out
    assert "the only difference is the L2 convention" not in out


def test_welch_labs_code_checked_under_the_specs_penalty_is_told_its_convention(capsys):
    code, out, _ = verify(capsys, "welch_labs.py:NN.costFunctionPrime", *WELCH)
    assert code == 1
    assert "the code follows (lambda/2) sum W^2" in out and "--l2-convention half" in out
    assert "1/m missing" not in out  # the old misdiagnosis


def test_cs231n_code_checked_under_the_specs_penalty_is_told_its_convention(capsys):
    options = [o for o in CS231N if o not in ("--l2-convention", "cs231n")]
    code, out, _ = verify(capsys, "cs231n_two_layer.py:loss", *options)
    assert code == 1
    assert "the code follows lambda sum W^2 (cs231n" in out and "--l2-convention full" in out


def test_a_convention_and_its_spec_lambda_give_the_same_penalty():
    # two routes to one k: the convention's coefficient, and the spec's lambda/2 (divided by m for a mean)
    spec = parse_spec("2-3-1", reduction="mean", m=4, l2=0.05)
    for name in ("ng", "welch", "cs231n", "full-mean"):
        convention = l2_conventions.l2_convention(name)
        spec_l2 = l2_conventions.spec_l2_for(convention, spec.l2, spec)
        assert spec_l2 / 2 / spec.m == pytest.approx(convention.coefficient(spec.l2, spec.m))


def test_an_unknown_convention_is_refused_with_the_accepted_names(capsys):
    code = main(["verify", str(PUBLISHED / "welch_labs.py:NN.costFunctionPrime"), "--l2-convention", "ridge"])
    _, err = capsys.readouterr()
    assert code == 2 and "unknown L2 convention 'ridge'; accepted: half-mean" in err


def test_biases_penalized_by_the_convention_pass_and_left_out_are_named():
    spec = parse_spec("2-3-2", bias="vector", reduction="mean", m=5, l2=0.3)

    def make(include_biases):
        def fn(X, y, W1, b1, W2, b2):
            a2 = 1 / (1 + np.exp(-(X @ W1 + b1)))
            yhat = 1 / (1 + np.exp(-(a2 @ W2 + b2)))
            d3 = (yhat - y) * yhat * (1 - yhat) / 5
            d2 = d3 @ W2.T * a2 * (1 - a2)
            k = 0.3 / 5  # (lambda/m) W, the gradient of lambda/(2m) sum W^2
            extra = 1.0 if include_biases else 0.0
            return X.T @ d2 + k * W1, d2.sum(0) + extra * k * b1.ravel(), a2.T @ d3 + k * W2, \
                d3.sum(0) + extra * k * b2.ravel()
        return fn

    assert verify_function(make(True), spec, l2_convention="ng+biases").passed
    verdict = verify_function(make(False), spec, l2_convention="ng+biases")
    assert not verdict.passed and "b1 not regularized" in verdict.text()


def test_a_gradient_mistake_is_named_when_the_cost_is_right():
    spec = parse_spec("2-3-2", reduction="mean", bias="vector", m=5)

    def fn(X, y, W1, b1, W2, b2):
        a2 = 1 / (1 + np.exp(-(X @ W1 + b1)))
        yhat = 1 / (1 + np.exp(-(a2 @ W2 + b2)))
        J = 0.5 * np.sum((yhat - y) ** 2) / X.shape[0]
        d3 = (yhat - y) * yhat * (1 - yhat)  # the 1/m of the mean left out of the gradients only
        d2 = d3 @ W2.T * a2 * (1 - a2)
        return J, X.T @ d2, d2.sum(0, keepdims=True), a2.T @ d3, d3.sum(0, keepdims=True)

    verdict = verify_function(fn, spec, "cost,gradients")
    assert verdict.outputs[0].agree and not verdict.passed
    assert "mean_missing" in {key for e in verdict.explanations for key in e.keys}
    assert "the cost is right" in verdict.diagnosis()


def test_data_and_params_files_are_used_with_integer_labels(capsys, tmp_path):
    rng = np.random.default_rng(7)
    X, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"X": X.tolist(), "y": np.eye(3)[labels].tolist()}))
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"W1": rng.standard_normal((4, 5)).tolist(), "b1": [[0.1] * 5],
                                  "W2": rng.standard_normal((5, 3)).tolist(), "b2": [[0.0] * 3]}))
    code, out, err = verify(capsys, "cs231n_two_layer.py:loss", *CS231N, "--data", str(data),
                            "--params", str(params), "--points", "0")
    assert (code, err) == (0, ""), out + err
    assert f"points: {data} with {params}" in out


def test_params_without_data_is_refused(capsys):
    code = main(["verify", str(PUBLISHED / "cs231n_two_layer.py:loss"), *CS231N, "--params", "p.json"])
    _, err = capsys.readouterr()
    assert code == 2 and "--params needs --data" in err


def test_float32_code_is_judged_at_float32_tolerance_not_called_wrong():
    spec = parse_spec("4-5-3", activation="relu", output_activation="softmax", cost="categorical_cross_entropy",
                      reduction="mean", bias="vector", m=6, l2=0.05)
    sys.path.insert(0, str(PUBLISHED))
    try:
        import cs231n_two_layer
    finally:
        sys.path.remove(str(PUBLISHED))
    verdict = verify_function(cs231n_two_layer.loss_float32, spec, "cost,gradients", l2_convention="cs231n",
                              form=CallingForm(labels=0))
    assert verdict.passed and verdict.float32
    assert "1 times the derived value" not in verdict.text()


def test_a_product_whose_shapes_do_not_multiply_names_the_missing_transpose(capsys, tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("import numpy as np\n\n"
                    "def fn(X, y, W1, W2):\n"
                    "    a2 = 1 / (1 + np.exp(-(X @ W1)))\n"
                    "    yhat = 1 / (1 + np.exp(-(a2 @ W2)))\n"
                    "    delta3 = (yhat - y) * yhat * (1 - yhat)\n"
                    "    delta2 = (delta3 @ W2) * a2 * (1 - a2)\n"
                    "    return X.T @ delta2, a2.T @ delta3\n")
    code = main(["verify", f"{path}:fn"])
    _, err = capsys.readouterr()
    assert code == 2
    assert f"(at {path}:7) in `delta2 = (delta3 @ W2) * a2 * (1 - a2)`" in err
    assert "delta3 (4x1) times W2 (3x1) do not multiply: W2 (3x1) needs its transpose here (delta3 @ W2.T)" in err


def test_the_pytest_helper_takes_the_convention_and_the_calling_form():
    from checks.pytest_helpers import assert_gradients_match

    sys.path.insert(0, str(PUBLISHED))
    try:
        import cs231n_two_layer
    finally:
        sys.path.remove(str(PUBLISHED))
    spec = parse_spec("4-5-3", activation="relu", output_activation="softmax", cost="categorical_cross_entropy",
                      reduction="mean", bias="vector", m=6, l2=0.05)
    assert_gradients_match(cs231n_two_layer.loss, spec, "cost,gradients", l2_convention="cs231n",
                           form=CallingForm(labels=0))
    with pytest.raises(AssertionError, match="the factor 2 of the square left out"):
        assert_gradients_match(cs231n_two_layer.loss_reg_without_two, spec, "cost,gradients",
                               l2_convention="cs231n", form=CallingForm(labels=0))


@pytest.mark.parametrize("target, options, y", [
    ("ng_ex4.py:nnCostFunction", NG, "y (4,) class labels from 1"),
    ("cs231n_two_layer.py:loss", CS231N, "y (6,) class labels from 0"),
])
def test_the_contract_line_shows_y_as_the_labels_the_function_receives(capsys, target, options, y):
    _, out, _ = verify(capsys, target, *options)
    contract_line = next(line for line in out.splitlines() if line.startswith("contract: "))
    assert y in contract_line


def test_the_contract_line_shows_one_example_per_call_and_the_weights_as_attributes(capsys):
    _, out, _ = verify(capsys, "nielsen_network.py:NET.backprop", *NIELSEN)
    contract_line = next(line for line in out.splitlines() if line.startswith("contract: "))
    assert contract_line.startswith("contract: fn(x (3, 1), y (2, 1)) with W1 as the object's weights[0]")
    assert contract_line.endswith("once per example, summed over the 4 examples")


def test_the_header_shows_the_users_lambda_in_their_convention_not_the_specs(capsys):
    _, out, _ = verify(capsys, "cs231n_two_layer.py:loss", *CS231N)
    header = out.splitlines()[0]
    assert "penalty lambda sum W^2 (cs231n) with lambda = 0.05" in header and "l2 = " not in header
