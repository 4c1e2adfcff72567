"""`backprop derive|check|verify --layer`: exit codes, summaries, and bad input as one line with no file."""

import json
from pathlib import Path

import pytest

from derive.cli import main
from derive.cli.layers import layer_names

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "user_batchnorm.py"


def test_derive_layer_writes_the_chosen_formats_into_a_folder_named_for_the_layer(tmp_path, capsys):
    code = main(["derive", "--layer", "layernorm", "--out", str(tmp_path), "--formats", "tex,md"])
    out = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "layernorm").iterdir()) == ["derivation.md", "derivation.tex"]
    assert "entrywise: holds" in out and "index level: holds" in out and "agree" in out


def test_derive_without_layer_still_derives_the_network(tmp_path, capsys):
    assert main(["derive", "--out", str(tmp_path), "--formats", "md"]) == 0
    assert (tmp_path / "xor-2-3-1" / "derivation.md").exists()


@pytest.mark.parametrize("argv, message", [
    (["--layer", "groupnorm"], "unknown layer 'groupnorm': the known layers are batchnorm, layernorm, "),
    (["--layer", "batchnorm", "-N", "1"], "the variance is 0 and x_hat = 0 / sqrt(0 + epsilon) is defined only because of epsilon"),
    (["--layer", "layernorm", "-D", "1"], "layer norm got D = 1 feature(s)"),
    (["--layer", "batchnorm", "-N", "1", "--unbiased"], "divides by N - 1 = 0"),
    (["--layer", "batchnorm", "--eps", "-1"], "--eps must be a positive finite number"),
])
def test_derive_bad_layer_input_is_one_line_exit_2_and_no_file(tmp_path, capsys, argv, message):
    code = main(["derive", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_check_layer_prints_cs231n_figures_and_agrees(capsys):
    code = main(["check", "--layer", "batchnorm"])
    out = capsys.readouterr().out
    assert code == 0
    assert "dx error: derived vs hand-written" in out and "dgamma error" in out and "dbeta error" in out
    assert out.rstrip().endswith("give the same gradients")


def _point_file(tmp_path, gamma):
    path = tmp_path / "point.json"
    path.write_text(json.dumps({"x": [[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]], "gamma": gamma, "beta": [0.0, 0.0],
                                "dout": [[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]]}))
    return path


def test_check_layer_reads_a_point_from_a_file(tmp_path, capsys):
    assert main(["check", "--layer", "batchnorm", "--data", str(_point_file(tmp_path, [1.0, 2.0]))]) == 0


def test_check_layer_refuses_gamma_of_the_wrong_shape_in_one_line(tmp_path, capsys):
    code = main(["check", "--layer", "batchnorm", "--data", str(_point_file(tmp_path, [1.0, 2.0, 3.0]))])
    err = capsys.readouterr().err
    assert code == 2 and "gamma has shape (3,), but the input has D = 2 features" in err and err.count("\n") == 1


def test_verify_layer_passes_the_right_backward(capsys):
    assert main(["verify", f"{EXAMPLE}:batchnorm_backward", "--layer", "batchnorm"]) == 0
    assert "agrees with the derived gradients" in capsys.readouterr().out


def test_verify_layer_names_the_mistake_and_exits_1(capsys):
    assert main(["verify", f"{EXAMPLE}:batchnorm_backward_no_variance_path", "--layer", "batchnorm"]) == 1
    assert "reproduced by: variance path dropped" in capsys.readouterr().out


def test_verify_layer_refuses_a_function_of_the_wrong_contract_with_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.py"
    path.write_text("def fn(x, gamma, beta, dout, eps):\n    return x, gamma\n")
    assert main(["verify", f"{path}:fn", "--layer", "batchnorm"]) == 2
    assert "must return three arrays" in capsys.readouterr().err


def test_check_layer_writes_the_gradient_check_figure_as_svg(tmp_path, capsys):
    figure = tmp_path / "check.svg"
    assert main(["check", "--layer", "layernorm", "--figure", str(figure)]) == 0
    svg = figure.read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "dx: derived vs finite differences" in svg


def test_check_layer_refuses_a_figure_that_is_not_svg_before_any_work(tmp_path, capsys):
    assert main(["check", "--layer", "batchnorm", "--figure", str(tmp_path / "check.png")]) == 2
    assert "name it FILE.svg" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.needs_dot
def test_graph_layer_draws_the_staged_graph(tmp_path, capsys):
    assert main(["graph", "--layer", "batchnorm", "--out", str(tmp_path), "--formats", "svg"]) == 0
    out = capsys.readouterr().out
    assert "sigma^2 = mean(c^2)  ->  s = sqrt(sigma^2 + eps)" in out
    assert (tmp_path / "batchnorm-staged.svg").read_text().lstrip().startswith("<?xml")


def test_graph_layer_refuses_formats_it_cannot_draw(tmp_path, capsys):
    assert main(["graph", "--layer", "layernorm", "--out", str(tmp_path), "--formats", "md"]) == 2
    assert "draws svg and png only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, flag", [(["derive", "-N", "3"], "-N"), (["check", "--eps", "0.1"], "--eps"),
                                        (["check", "--unbiased"], "--unbiased")])
def test_layer_options_without_layer_are_refused_before_any_work(tmp_path, capsys, argv, flag):
    assert main([*argv, "--out", str(tmp_path)] if argv[0] == "derive" else argv) == 2
    assert f"{flag} only goes with --layer (" + ", ".join(layer_names()) + ")" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
