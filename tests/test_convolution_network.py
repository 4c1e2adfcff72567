"""conv -> relu -> maxpool -> dense -> softmax cross-entropy: the derived pieces chained agree with the loops."""

import numpy as np
import pytest

from checks.convolution.network_check import check_network, default_network_point, hand_written
from derive.cli import main
from derive.convolution.network import make_network, relu_derivative, softmax_cross_entropy_delta
from derive.convolution.routes import matrix_route


@pytest.mark.parametrize("sizes", [dict(), dict(batch=3, channels=2, size=7, filters=3, kernel=3, classes=4)])
def test_the_three_routes_agree_on_the_network(sizes):
    assert check_network(default_network_point(make_network(**sizes))).agree


def test_a_hand_written_route_without_relus_mask_is_caught():
    point = default_network_point(make_network())
    wrong = dict(hand_written(point))
    wrong["W1"] = wrong["W1"] * 1.5
    assert not check_network(point, {"hand_written": wrong}).agree


def test_the_dense_head_as_a_whole_input_convolution_gives_W_transposed_times_G():
    net = make_network()
    rng = np.random.default_rng(1)
    pooled, w = rng.standard_normal(net.dense.input_shape), rng.standard_normal(net.dense.weight_shape)
    g = rng.standard_normal((net.dense.batch, net.classes))
    by_col2im = matrix_route(net.dense, pooled, g.reshape(net.dense.output_shape), w)["dX"]
    by_dense_rule = (g @ w.reshape(net.classes, -1)).reshape(pooled.shape)  # row form: G W, i.e. (W^T G^T)^T
    assert np.allclose(by_col2im, by_dense_rule, rtol=0, atol=1e-12)


def test_sympys_softmax_cross_entropy_delta_is_probabilities_minus_labels():
    delta, _ = softmax_cross_entropy_delta(4)
    rng = np.random.default_rng(2)
    logits, labels = rng.standard_normal((5, 4)) * 3, np.eye(4)[rng.integers(0, 4, 5)]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(delta(logits, labels), probabilities - labels, rtol=0, atol=1e-12)


def test_sympys_relu_derivative_is_the_step_with_one_half_at_the_kink():
    relu_prime, expression = relu_derivative()
    assert str(expression) == "Heaviside(x)"
    assert list(relu_prime(np.array([-1.0, 0.0, 2.0]))) == [0.0, 0.5, 1.0]


def test_check_convnet_through_the_cli(capsys):
    assert main(["check", "--layer", "convnet", "--filters", "3", "--size", "7"]) == 0
    assert "verdict: the three routes agree" in capsys.readouterr().out


def test_derive_convnet_writes_the_chain_and_says_the_routes_agree(tmp_path, capsys):
    assert main(["derive", "--layer", "convnet", "--out", str(tmp_path), "--formats", "tex,md"]) == 0
    assert "agree" in capsys.readouterr().out
    text = (tmp_path / "convnet" / "derivation.md").read_text()
    assert r"\operatorname{col2im}\big(W_{\mathrm{col}}^\top\, G_{\mathrm{col}}\big)" in text


@pytest.mark.parametrize("argv", [["check", "--layer", "convnet", "--kernel", "2"],
                                  ["check", "--layer", "convnet", "--stride", "2"],
                                  ["verify", "x.py:f", "--layer", "convnet"]])
def test_what_the_network_does_not_take_is_one_line(argv, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1
