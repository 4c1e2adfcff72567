"""`backprop verify --intermediates`: each intermediate a function exposes (a returned dict, or locals
recorded by checks.diagnose.intermediates.record) is compared with the derived program's, in the
order of the forward then the backward pass, and the first wrong one is named from its own formula."""

from pathlib import Path

import pytest

from checks.diagnose.intermediates import parse_aliases, record
from derive.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TWO_LAYER = FIXTURES / "intermediates" / "two_layer.py"
NG_COLUMNS = FIXTURES / "published" / "ng_ex4_columns.py"
NG = ["--labels", "1", "--layers", "3-5-4", "--cost", "binary_cross_entropy", "--reduction", "mean",
      "--bias", "unit", "--convention", "column", "--l2", "1", "--returns", "cost,gradients"]


def verify(capsys, target, *options):
    code = main(["verify", str(target), *options])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("function, options", [
    ("returning", ["--intermediates"]),
    ("recorded", ["--intermediates"]),
    ("returning_own_names", ["--intermediates", "d3=delta3,d2=delta2"]),
])
def test_correct_intermediates_pass_line_by_line(capsys, function, options):
    code, out, err = verify(capsys, f"{TWO_LAYER}:{function}", *options)
    assert (code, err) == (0, ""), out + err
    assert "line by line" in out and "  delta2: ok" in out and "verdict: PASS" in out


def test_ngs_layout_is_read_as_the_same_quantities(capsys):
    code, out, err = verify(capsys, f"{NG_COLUMNS}:backprop", *NG, "--intermediates")
    assert (code, err) == (0, ""), out + err
    assert "a2: ok (read with the bias unit's ones)" in out
    assert "delta2: ok (read per example (m x dJ/dz))" in out


@pytest.mark.parametrize("function, named", [
    ("returning_wrong_delta2", "f'(a) where f'(z) belongs: delta2 ="),
    ("recorded_wrong_delta2", "f' missing: delta2 ="),
])
def test_a_planted_wrong_delta2_is_reported_first_and_named(capsys, function, named):
    code, out, err = verify(capsys, f"{TWO_LAYER}:{function}", "--intermediates")
    assert (code, err) == (1, ""), out + err
    assert "  delta3: ok" in out and "  delta2: WRONG" in out
    first_wrong = out.index("first wrong: delta2")
    assert first_wrong < out.index("dJ/dW1: WRONG")  # before the gradients
    assert named in out[first_wrong:out.index("dJ/dW1: WRONG")]


def test_a_function_exposing_nothing_is_bad_input(capsys):
    code, out, err = verify(capsys, f"{FIXTURES / 'published' / 'ng_ex4.py'}:nnCostFunction", *NG, "--intermediates")
    assert code == 2 and "neither returned a dict of intermediates" in err and err.count("\n") == 1


def test_an_unknown_intermediate_name_is_refused():
    with pytest.raises(ValueError, match="derived program's names"):
        parse_aliases("d2=dee2")
    with pytest.raises(ValueError, match="derived program names"):
        record(d2="dee2")


def test_the_recorder_returns_what_the_function_returns_and_restores_the_tracer():
    import sys

    @record(h="a2")
    def doubled(x):
        h = 2 * x
        return h + 1

    before = sys.gettrace()
    assert doubled(3) == 7
    assert sys.gettrace() is before
    assert doubled.recorded_intermediates == {"a2": 6}


def test_ngs_wrong_bias_row_dropped_is_named(capsys):
    code, out, err = verify(capsys, f"{NG_COLUMNS}:backprop_last_row_dropped", *NG)
    assert (code, err) == (1, ""), out + err
    assert "the wrong bias row dropped: delta2 = (W2[:, :5].T @ delta3)" in out


def test_ngs_wrong_bias_row_dropped_is_the_first_wrong_intermediate(capsys):
    code, out, err = verify(capsys, f"{NG_COLUMNS}:backprop_last_row_dropped", *NG, "--intermediates")
    first_wrong = out.index("first wrong: delta2")
    assert "the wrong bias row dropped" in out[first_wrong:out.index("dJ/dW1: WRONG")]
