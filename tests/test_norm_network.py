"""A network with batch norm or layer norm (--net): grammar, chained backward, proof, three routes, write-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from checks.normalization.network_check import check_network, derived_gradients, random_point
from derive.cli import main
from derive.normalization.network_proof import prove_network
from derive.program.net_text import NetTextError, parse_net
from derive.program.norm_net import build_net

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "output" / "bnnet-2-3-bn-relu-2-softmax"
PROOF_NET = "dense(3) batchnorm relu dense(2) softmax"


def test_the_grammar_reads_layers_in_order_with_dense_widths():
    assert [layer.text for layer in parse_net("dense(4) batchnorm relu -> dense(3) softmax").layers] == \
        ["dense(4)", "batchnorm", "relu", "dense(3)", "softmax"]


@pytest.mark.parametrize("text, words", [
    ("dense(3) dropout", "known layers are dense(N), batchnorm, layernorm"),
    ("dense(3", "expected ')'"),
    ("dense(x)", "positive integer width"),
    ("relu(2) dense(1)", "takes no width"),
    ("softmax dense(2)", "may only come last"),
    ("batchnorm relu", "no dense(N) layer"),
    ("dense(2); __import__('os')", "cannot read"),
])
def test_malformed_net_text_is_one_clear_error(text, words):
    with pytest.raises(NetTextError, match=None) as error:
        parse_net(text)
    assert words in str(error.value)


def test_batch_norm_over_one_example_is_refused_saying_epsilon_alone_defines_it():
    with pytest.raises(ValueError, match="N = 1.*only because of epsilon"):
        build_net("dense(3) batchnorm relu dense(1)", 2, 1)


def test_layer_norm_over_one_feature_is_refused():
    with pytest.raises(ValueError, match="D = 1"):
        build_net("dense(1) layernorm relu dense(2)", 2, 3)


@pytest.mark.parametrize("argv", [
    ["check", "--net", "dense(3) dropout", "--inputs", "2"],
    ["check", "--net", "dense(3) batchnorm dense(1)", "--inputs", "2", "-m", "1"],
    ["check", "--net", "dense(3) relu dense(1)", "--layers", "2-2-1", "--inputs", "2"],
    ["check", "--net", "dense(3) relu dense(1)"],
    ["derive", "--net", "dense(3) relu dense(1)", "--layer", "batchnorm", "--inputs", "2"],
])
def test_bad_net_options_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_chained_backward_equals_sympys_diff_of_the_whole_cost():
    proof = prove_network(build_net(PROOF_NET, 2, 3))
    assert proof.holds and proof.entries == 23


def test_the_entrywise_proof_fails_when_the_norm_step_is_dropped(monkeypatch):
    from derive.normalization import network

    def without_norm(gradients, upstream, forward, gamma, numbers):  # planted: dX = G, as if no norm
        found = original(gradients, upstream, forward, gamma, numbers)
        return dict(found, dX=upstream)

    original = network.norm_gradients
    monkeypatch.setattr(network, "norm_gradients", without_norm)
    proof = prove_network(build_net("dense(2) batchnorm dense(2) softmax", 1, 2))
    assert not proof.holds and any(f.startswith("W1") for f in proof.failures)


@pytest.mark.parametrize("text, inputs, examples, options", [
    (PROOF_NET, 2, 3, {}),
    ("dense(4) layernorm tanh dense(3) batchnorm sigmoid", 3, 5, {"reduction": "mean"}),
    ("batchnorm dense(3) relu dense(1)", 2, 4, {}),
])
def test_three_routes_agree_on_nets_with_norms(text, inputs, examples, options):
    net = build_net(text, inputs, examples, **options)
    assert check_network(net, *random_point(net)).agree


def test_the_three_route_check_catches_a_planted_bug_in_the_derived_route():
    net = build_net(PROOF_NET, 2, 3)

    def planted(*arguments):  # dgamma computed with the wrong sign
        gradients = derived_gradients(*arguments)
        return dict(gradients, gamma1=-gradients["gamma1"])

    verdict = check_network(net, *random_point(net), derived=planted)
    assert not verdict.agree
    assert [c.name for c in verdict.comparisons if not c.agree] == ["gamma1"]


def test_the_bias_before_batch_norm_has_zero_gradient():
    # batch norm subtracts the batch mean, so a constant added before it cannot change J
    net = build_net(PROOF_NET, 2, 3)
    gradients = check_network(net, *random_point(net)).gradients
    assert np.allclose(gradients["derived"]["b1"], 0, atol=1e-12)


def test_backprop_check_net_exits_0_and_prints_the_verdict(capsys):
    assert main(["check", "--net", PROOF_NET, "--inputs", "2", "-m", "3"]) == 0
    assert "the three routes agree" in capsys.readouterr().out


def test_layers_still_work_without_net(capsys):
    assert main(["check", "--layers", "2-3-1"]) == 0


@pytest.mark.slow
def test_derive_net_writes_the_golden_write_up_byte_for_byte(tmp_path):
    assert main(["derive", "--net", PROOF_NET, "--inputs", "2", "-m", "3", "--out", str(tmp_path),
                 "--name", GOLDEN.name, "--formats", "tex,md"]) == 0
    for name in ("derivation.tex", "derivation.md"):
        assert (tmp_path / GOLDEN.name / name).read_bytes() == (GOLDEN / name).read_bytes()


@pytest.mark.needs_pdflatex
def test_the_golden_write_up_compiles_with_pdflatex(tmp_path):
    tex = tmp_path / "derivation.tex"
    tex.write_bytes((GOLDEN / "derivation.tex").read_bytes())
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name], cwd=tmp_path,
                          capture_output=True, timeout=120)
    assert done.returncode == 0 and (tmp_path / "derivation.pdf").exists()
