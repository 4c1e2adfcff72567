"""`backprop derive|check --layer attention|residual|embedding`: exit codes, and bad input as one line, exit 2, no file."""

import json

import numpy as np
import pytest

from derive.cli import main


def test_derive_attention_writes_the_chosen_formats_and_reports_every_proof(tmp_path, capsys):
    code = main(["derive", "--layer", "attention", "--causal", "--heads", "2", "--out", str(tmp_path),
                 "--formats", "tex,md"])
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "attention-causal-2-heads").iterdir()) == ["derivation.md",
                                                                                         "derivation.tex"]
    for proof in ("entrywise: holds", "randomized GF(p): holds", "index level: holds", "FlashAttention's identity: holds"):
        assert proof in out


@pytest.mark.parametrize("layer", ["attention", "residual", "embedding"])
def test_check_layer_exits_0_when_the_three_routes_agree(layer, capsys):
    assert main(["check", "--layer", layer]) == 0
    assert "verdict: agree" in capsys.readouterr().out


def _point(T=3, m=4, d=2, mask=None):
    rng = np.random.default_rng(0)
    data = {"X": rng.standard_normal((T, m)).tolist(), "dout": rng.standard_normal((T, m)).tolist(),
            **{w: rng.standard_normal((m, d) if w != "W_o" else (d, m)).tolist() for w in ("W_q", "W_k", "W_v", "W_o")}}
    if mask is not None:
        data["mask"] = mask
    return data


def test_check_reads_a_point_with_its_own_mask(tmp_path, capsys):
    path = tmp_path / "point.json"
    path.write_text(json.dumps(_point(mask=[[1, 0, 0], [1, 1, 0], [0, 1, 1]])))
    assert main(["check", "--layer", "attention", "--data", str(path)]) == 0


@pytest.mark.parametrize("argv, message", [
    (["--layer", "attention", "--width", "0"], "the key width d = width / heads must be at least 1"),
    (["--layer", "attention", "--heads", "3", "--width", "4"], "3 heads do not divide the model width 4"),
    (["--layer", "attention", "--tokens", "0"], "--tokens must be at least 1"),
    (["--layer", "attention", "-N", "3"], "-N does not go with --layer attention"),
])
def test_derive_bad_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, argv, message):
    code = main(["derive", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("layer, data, message", [
    ("embedding", {"tokens": [0, 5, 1], "C": [[1.0, 2.0]] * 4, "dout": [[0.0, 1.0]] * 3},
     "token id 5 is out of the vocabulary 0..3"),
    ("attention", _point(mask=[[1, 0], [1, 1]]), "the mask has shape (2, 2), expected (3, 3)"),
    ("attention", _point(d=0), "the key width d (columns of W_q) must be at least 1"),
    ("residual", _point(mask=[[0, 0, 0], [1, 1, 0], [1, 1, 1]]), "a row of the mask masks every token"),
])
def test_check_bad_point_is_one_line_exit_2(tmp_path, capsys, layer, data, message):
    path = tmp_path / "point.json"
    path.write_text(json.dumps(data))
    code = main(["check", "--layer", layer, "--data", str(path)])
    captured = capsys.readouterr()
    assert code == 2 and message in captured.err and captured.err.count("\n") == 1 and "verdict" not in captured.out


def test_check_without_layer_refuses_attention_options(capsys):
    assert main(["check", "--causal"]) == 2
    assert "--causal only goes with --layer" in capsys.readouterr().err
