"""Published figures (--expect): Mazur's 2-2-2 example, the digits rule, graph --json, bad input.

Mazur, "A Step by Step Backpropagation Example" (2015): 2-2-2, sigmoid everywhere, one bias per
layer (b1 = 0.35, b2 = 0.60) shared by its units and never updated, inputs 0.05, 0.10, targets
0.01, 0.99, E = sum 1/2 (target - out)^2, learning rate 0.5. His w1..w8 in our row form:
W1[i, j] carries input i to hidden unit j, so W1 = [[w1, w3], [w2, w4]], W2 = [[w5, w7], [w6, w8]].
The independent route here is his own scalar arithmetic (mazur_error, mazur_step below).
"""

import json
import math

import pytest

from checks.published.figures import FigureError, PublishedFigure, parse_expectations
from derive.cli import main

MAZUR_PARAMS = {"W1": [[0.15, 0.25], [0.20, 0.30]], "b1": [[0.35, 0.35]],
                "W2": [[0.40, 0.50], [0.45, 0.55]], "b2": [[0.60, 0.60]]}
MAZUR_DATA = {"X": [[0.05, 0.10]], "y": [[0.01, 0.99]]}
MAZUR_WEIGHTS = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]  # w1..w8 as in the post

# the figures as the post prints them
PUBLISHED_BEFORE = "0.298371109"
PUBLISHED_AFTER_ONE = "0.291027924"
PUBLISHED_AFTER_10000 = "0.0000351085"


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def mazur_forward(w):
    h1 = _sigmoid(w[0] * 0.05 + w[1] * 0.10 + 0.35)
    h2 = _sigmoid(w[2] * 0.05 + w[3] * 0.10 + 0.35)
    return h1, h2, _sigmoid(w[4] * h1 + w[5] * h2 + 0.60), _sigmoid(w[6] * h1 + w[7] * h2 + 0.60)


def mazur_error(w):
    _, _, o1, o2 = mazur_forward(w)
    return 0.5 * (0.01 - o1) ** 2 + 0.5 * (0.99 - o2) ** 2


def mazur_step(w):
    """One update, as the post writes it out weight by weight (biases not updated)."""
    h1, h2, o1, o2 = mazur_forward(w)
    d1, d2 = (o1 - 0.01) * o1 * (1 - o1), (o2 - 0.99) * o2 * (1 - o2)
    e1, e2 = (d1 * w[4] + d2 * w[6]) * h1 * (1 - h1), (d1 * w[5] + d2 * w[7]) * h2 * (1 - h2)
    gradient = [e1 * 0.05, e1 * 0.10, e2 * 0.05, e2 * 0.10, d1 * h1, d1 * h2, d2 * h1, d2 * h2]
    return [wi - 0.5 * gi for wi, gi in zip(w, gradient)]


def mazur_errors(updates):
    """The scalar route's error after 0, 1, ..., updates updates."""
    w, errors = MAZUR_WEIGHTS, []
    for _ in range(updates + 1):
        errors.append(mazur_error(w))
        w = mazur_step(w)
    return errors


@pytest.fixture
def mazur(tmp_path):
    params, data = tmp_path / "mazur.json", tmp_path / "mazur-data.json"
    params.write_text(json.dumps(MAZUR_PARAMS))
    data.write_text(json.dumps(MAZUR_DATA))
    return ["--layers", "2-2-2", "--bias", "vector", "--params", str(params), "--data", str(data)]


def _train(mazur, iterations, *expect):
    return ["train", *mazur, "--lr", "0.5", "--iterations", str(iterations), "--freeze", "b1,b2",
            *[f"--expect={e}" for e in expect]]


def _published(capsys, argv, code):
    assert main([*argv, "--json"]) == code
    return {f["name"]: f for f in json.loads(capsys.readouterr().out)["published"]["figures"]}


def test_mazur_error_after_one_update_as_published_is_flagged(capsys, mazur):
    figures = _published(capsys, _train(mazur, 1, f"J@1={PUBLISHED_AFTER_ONE}"), 1)
    assert figures["J@1"]["agree"] is False


def test_our_error_after_one_update_is_mazurs_own_arithmetic(capsys, mazur):
    figures = _published(capsys, _train(mazur, 1, "J@1=0.29102777369"), 0)
    scalar = mazur_errors(1)[1]
    assert figures["J@1"]["agree"] is True
    assert all(abs(value - scalar) <= 1e-15 for value in figures["J@1"]["ours"].values())


def test_mazur_error_before_training_agrees(capsys, mazur):
    figures = _published(capsys, _train(mazur, 1, f"J@0={PUBLISHED_BEFORE}"), 0)
    assert figures["J@0"]["agree"] is True


def test_mazur_error_after_10000_updates_is_flagged_as_the_value_after_9999(capsys, mazur):
    figures = _published(capsys, _train(mazur, 10000, f"J@10000={PUBLISHED_AFTER_10000}"), 1)
    assert figures["J@10000"]["agree"] is False
    assert figures["J@10000"]["hint"].startswith("matches the value after 9,999 updates")


def test_mazurs_own_arithmetic_also_puts_his_10000_figure_at_9999_updates():
    errors = mazur_errors(10000)
    figure = PublishedFigure("J@10000", PUBLISHED_AFTER_10000)
    assert figure.matches(errors[9999]) and not figure.matches(errors[10000])


def test_mazur_figure_at_9999_updates_agrees(capsys, mazur):
    figures = _published(capsys, _train(mazur, 10000, f"J@9999={PUBLISHED_AFTER_10000}"), 0)
    assert figures["J@9999"]["agree"] is True


def test_mazur_weights_after_one_update_agree(capsys, mazur):
    # w5+ = 0.35891648, w8+ = 0.561370121, w1+ = 0.149780716, w4+ = 0.29950229 as printed
    figures = _published(capsys, _train(mazur, 1, "W2[0,0]=0.35891648", "W2[1,1]=0.561370121",
                                        "W1[0,0]@1=0.149780716", "W1[1,1]@1=0.29950229"), 0)
    assert all(f["agree"] for f in figures.values())


def test_mazur_gradients_agree_in_check(capsys, mazur):
    # dE/dw5 = 0.082167041 and dE/dw1 = 0.000438568 as printed
    figures = _published(capsys, ["check", *mazur, "--expect", "J=0.298371109,dJ/dW2[0,0]=0.082167041",
                                  "--expect", "dJ/dW1[0,0]=0.000438568"], 0)
    assert set(figures) == {"J", "dJ/dW2[0,0]", "dJ/dW1[0,0]"} and all(f["agree"] for f in figures.values())


def test_check_flags_a_gradient_off_in_its_last_printed_digit(capsys, mazur):
    figures = _published(capsys, ["check", *mazur, "--expect", "dJ/dW2[0,0]=0.082167051"], 1)
    assert figures["dJ/dW2[0,0]"]["agree"] is False


def test_text_report_says_disagree_and_names_the_neighbour(capsys, mazur):
    assert main(_train(mazur, 10000, f"J@10000={PUBLISHED_AFTER_10000}")) == 1
    out = capsys.readouterr().out
    assert "J@10000 = 0.0000351085 (6 significant digits)" in out and "DISAGREE" in out
    assert "matches the value after 9,999 updates (J@9999)" in out


@pytest.mark.parametrize("text, half_unit", [
    ("0.291027924", 5e-10), ("0.0000351085", 5e-11), ("3.51085e-5", 5e-11), ("12", 0.5),
    ("0.2910", 5e-5), ("-4", 0.5), ("1.5E+3", 50.0)])
def test_half_unit_is_half_of_the_last_printed_place(text, half_unit):
    digits_after_point = len(text.split("e")[0].split("E")[0].partition(".")[2])
    exponent = int(text.lower().partition("e")[2] or 0)
    assert PublishedFigure("x", text).half_unit == pytest.approx(0.5 * 10.0 ** (exponent - digits_after_point),
                                                                 rel=1e-12)
    assert PublishedFigure("x", text).half_unit == pytest.approx(half_unit, rel=1e-12)


def test_a_value_just_inside_half_a_unit_agrees_and_just_outside_does_not():
    figure = PublishedFigure("x", "0.291027924")
    assert figure.matches(0.291027924 + 4.9e-10) and not figure.matches(0.291027924 + 5.2e-10)


def test_expect_file_keeps_the_printed_trailing_zeros(capsys, mazur, tmp_path):
    # 0.29100 claims 5e-6; read as a float it would be 0.291, claiming 5e-4, and would agree
    expect = tmp_path / "expect.json"
    expect.write_text('{"J@1": 0.29100, "J@0": "0.298371109"}')
    figures = _published(capsys, [*_train(mazur, 1), "--expect-file", str(expect)], 1)
    assert figures["J@1"]["published"] == "0.29100" and figures["J@1"]["agree"] is False
    assert figures["J@0"]["agree"] is True


def test_a_name_given_twice_is_refused():
    with pytest.raises(FigureError, match="twice"):
        parse_expectations(["J@1=0.29", "J@1=0.3"])


@pytest.mark.parametrize("command, expect, message", [
    (["check"], "J", "expects NAME=VALUE"),
    (["check"], "J=0x1p3", "must be a decimal number"),
    (["check"], "J=nan", "must be a decimal number"),
    (["check"], "dJ/dW1[2,0]=1", "accepted names: J, dJ/dW1[i,j] (2x3), dJ/dW2[i,j] (3x1)"),
    (["train"], "W9[0,0]=1", "accepted names: J@K and W1[i,j] (2x3), W2[i,j] (3x1)"),
    (["train"], "J@5001=1", "this run makes 5000 updates"),
    (["graph", "x * y", "--at", "x=1,y=2"], "dL/dz=1", "accepted names: L, dL/dx, dL/dy"),
])
def test_bad_expect_is_exit_2_with_one_line(capsys, command, expect, message):
    assert main([*command, "--expect", expect]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_graph_figures_from_cs231n_agree(capsys):
    # cs231n's neuron: w = [2, -3, -3], x = [-1, -2]; printed gradients dw0 = -0.20, dx0 = 0.39
    argv = ["graph", "sigmoid(w0*x0 + w1*x1 + w2)", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3",
            "--expect", "L=0.73,dL/dw0=-0.20,dL/dx0=0.39"]
    assert main(argv) == 0
    assert "published figures: all 3 agree" in capsys.readouterr().out


def test_graph_flags_a_wrong_gradient(capsys):
    assert main(["graph", "(x + y) * z", "--at", "x=-2,y=5,z=-4", "--expect", "dL/dz=4"]) == 1


def test_graph_json_holds_every_value_at_full_precision(capsys):
    from derive.circuits.circuit import build_circuit, run_circuit

    point = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}
    run = run_circuit(build_circuit("sigmoid(w0*x0 + w1*x1 + w2)"), point)
    assert main(["graph", "sigmoid(w0*x0 + w1*x1 + w2)", "--at", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [node["value"] for node in data["nodes"]] == list(run.values)
    assert {g["name"]: g["backprop"] for g in data["gradients"]} == {n: run.gradient(n) for n in point}
    assert [step["upstream"] for step in data["backward"]] == [step.upstream for step in run.steps]


def test_graph_json_is_the_same_bytes_each_time(capsys):
    argv = ["graph", "(x + y) * z + x", "--at", "x=-2,y=5,z=-4", "--json"]
    main(argv)
    first = capsys.readouterr().out
    main(argv)
    assert capsys.readouterr().out == first


def test_graph_json_does_not_go_with_network(capsys):
    assert main(["graph", "--network", "--json"]) == 2


def test_cost_after_k_minibatch_updates_is_the_cost_of_all_the_data(capsys):
    # route 1: --expect's J@3 within a 5-update stochastic run; route 2: a run stopped after 3
    # updates, whose final cost is J on all the data
    from checks.inputs.data import random_params, xor_data
    from checks.training import train
    from derive.network.spec import parse_spec
    import numpy as np

    spec = parse_spec("2-3-1")
    X, Y = xor_data("row")
    stopped = train(spec, random_params(spec, np.random.default_rng(0)), X, Y, learning_rate=2.0,
                    iterations=3, batch_size=1, rng=0)
    figures = _published(capsys, ["train", "--iterations", "5", "--batch-size", "1",
                                  "--expect", f"J@3={stopped.final_cost!r}"], 0)
    assert figures["J@3"]["ours"]["derived"] == pytest.approx(stopped.final_cost, rel=1e-14)


def test_training_with_the_hand_written_route_still_compares_both_routes(capsys, mazur):
    figures = _published(capsys, [*_train(mazur, 1, "J@1=0.29102777369"), "--route", "hand-written"], 0)
    assert set(figures["J@1"]["ours"]) == {"derived", "hand-written"}


def test_mazur_printed_outputs_after_10000_updates_match_neither_9999_nor_10000(capsys, mazur):
    # the post: "the two output neurons generate 0.015912196 (vs 0.01 target) and 0.984065734"
    figures = _published(capsys, _train(mazur, 10000, "yhat[0,0]=0.015912196", "yhat[0,1]=0.984065734",
                                        "yhat[0,0]@9999=0.015912196"), 1)
    assert not any(f["agree"] for f in figures.values())
    w = MAZUR_WEIGHTS
    for _ in range(9999):
        w = mazur_step(w)
    for weights in (w, mazur_step(w)):
        assert not PublishedFigure("o1", "0.015912196").matches(mazur_forward(weights)[2])


def test_outputs_after_one_update_are_mazurs_own_arithmetic(capsys, mazur):
    _, _, o1, o2 = mazur_forward(mazur_step(MAZUR_WEIGHTS))
    figures = _published(capsys, _train(mazur, 1, f"yhat[0,0]={o1!r}", f"yhat[0,1]@1={o2!r}"), 0)
    assert all(f["agree"] for f in figures.values())
