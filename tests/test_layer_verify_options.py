"""`backprop verify --layer NAME`: every family reads --points the same way (derive/cli/layer_family.py)."""

import re
from pathlib import Path

import pytest

from derive.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
CORRECT = [
    ("batchnorm", ROOT / "examples" / "user_batchnorm.py", "batchnorm_backward"),
    ("conv2d", FIXTURES / "convolution" / "conv_backward_variants.py", "correct"),
    ("rnn", FIXTURES / "recurrence" / "rnn_correct.py", "rnn_backward"),
    ("attention", FIXTURES / "attention" / "correct.py", "attention_backward"),
    ("embedding", FIXTURES / "attention" / "correct.py", "embedding_backward"),
]


@pytest.mark.parametrize("layer, path, function", CORRECT, ids=[c[0] for c in CORRECT])
@pytest.mark.parametrize("points", [1, 4])
def test_verify_calls_the_function_at_as_many_points_as_asked(layer, path, function, points, capsys):
    assert main(["verify", f"{path}:{function}", "--layer", layer, "--points", str(points)]) == 0
    assert len(re.findall(r"^  point \d+ ", capsys.readouterr().out, re.MULTILINE)) == points


@pytest.mark.parametrize("layer, path, function", CORRECT, ids=[c[0] for c in CORRECT])
def test_verify_refuses_fewer_than_one_point_in_one_line(layer, path, function, capsys):
    assert main(["verify", f"{path}:{function}", "--layer", layer, "--points", "0"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--points must be at least 1" in error
