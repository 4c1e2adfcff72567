"""The project's bad-input corpus, spec and CLI side: one row per case, every subcommand and the API.

Each command-line row runs `backprop` in an empty folder (holding one file, `afile`, that some
rows try to write under) and expects exit 2, one line on stderr holding the fragment, no
traceback and no file written. Each API row expects a ValueError holding the fragment. A new kind
of bad input gets a row here, so the class of each defect stays closed. (Numeric and file cases
of verify, check and train: tests/test_bad_input_corpus_numeric.py.)
"""

import math

import pytest

from derive import derive, parse_spec
from derive.writeup import output_files
from derive.cli import main
from derive.network.size_limits import check_size
from derive.network.spec import NetworkSpec

DEEP = "-".join(["2"] * 1000)
XOR = ("sigmoid", "sigmoid")

CLI_CASES = [
    # derive
    (["derive", "--layers", "2-x-1"], "layer sizes must look like 2-3-1"),
    (["derive", "--layers", "2-0-1"], "layer sizes must be integers of at least 1"),
    (["derive", "--layers", "2-3-1", "--activation", "softmax"], "softmax is accepted on the output layer only"),
    (["derive", "--cost", "bce", "--output-activation", "relu"], "does not fit a relu output"),
    (["derive", "--layers", "5000-5000-5000"], "~50,000,000 weights (limit 1,000,000)"),
    (["derive", "--layers", "100000-100000-1"], "~10,000,100,000 weights (limit 1,000,000)"),
    (["derive", "--layers", DEEP], "has 1,000 layers (limit 200)"),
    (["derive", "-m", "100000"], "examples to write out symbolically (limit 1,000)"),
    (["derive", "--layers", "784-30-10", "-m", "100"], "x m = 100, 2,382,000 terms (limit 2,000,000)"),
    (["derive", "--l2", "inf"], "l2 must be a finite number"),
    (["derive", "--l2", "nan"], "l2 must be a finite number"),
    (["derive", "--l2", "1e300"], "at most 1e+200"),
    (["derive", "--l2", "-1"], "l2 must be a finite number of at least 0"),
    (["derive", "--size-limit-factor", "0"], "argument --size-limit-factor: expected a positive finite number"),
    (["derive", "--size-limit-factor", "inf"], "argument --size-limit-factor: expected a positive finite number"),
    (["derive", "--formats", "docx"], "unknown format docx"),
    (["derive", "--formats", "pdf"], "--formats pdf needs no-such-tex-engine"),
    (["derive", "--name", "two\nlines"], "is not accepted"),
    (["derive", "--name", "a\ttab"], "is not accepted"),
    (["derive", "--name", "../escape"], "is not accepted"),
    (["derive", "--name", "x" * 101], "is not accepted"),
    (["derive", "--out", "afile/sub"], "exists and is not a folder"),
    (["derive", "--out", "x" * 300], "over the file system's limit of 255"),
    (["derive", "--hadamard", "star"], "argument --hadamard: invalid choice"),
    # graph
    (["graph", "--network", "--layers", DEEP], "has 1,000 layers (limit 200)"),
    (["graph", "--network", "--l2", "nan"], "l2 must be a finite number"),
    (["graph", "--network", "--layers", "2-3-1", "--bias", "half"], "unknown bias mode 'half'"),
    (["graph", "x", "--at", "x=1", "--name", "two\nlines"], "is not accepted"),
    (["graph", "x * y", "--at", "x=1"], "--at has no value for y"),
    (["graph", "x", "--at", "x=inf"], "must be finite"),
    (["graph", "x", "--at", "x=1", "--out", "afile"], "exists and is not a folder"),
    (["graph", "x", "--at", "x=1", "--out", "out", "--expect", "dL/dy=1"], "accepted names: L, dL/dx"),
    (["graph", "x", "--at", "x=1", "--expect", "L=1e999"], "too large for float64"),
    (["graph", "--network", "--expect", "L=1"], "--expect does not go with --network"),
    (["graph", "x", "--at", "x=1", "--expect-file", "missing.json"], "expect file 'missing.json' cannot be read"),
    (["graph", "x", "--at", "x=1", "--expect-file", "afile"], "expect file 'afile'"),
    # check
    (["check", "--expect", "J=1,J=2"], "--expect gives J twice"),
    (["check", "--expect", "W1[0,0]=1"], "accepted names: J, dJ/dW1[i,j] (2x3)"),
    (["train", "--iterations", "3", "--expect", "J@x=1"], "accepted names: J@K and W1[i,j] (2x3)"),
    (["check", "--layers", "100000-100000-1"], "~10,000,100,000 weights (limit 1,000,000)"),
    (["check", "--layers", "784-100-10", "-m", "100000"], "GiB of float64 arrays at m = 100,000 (limit 2.0 GiB)"),
    (["check", "--layers", DEEP], "has 1,000 layers (limit 200)"),
    (["check", "--seed", "-1"], "argument --seed: expected a non-negative integer"),
    (["check", "--l2", "1e400"], "l2 must be a finite number"),
    (["check", "--convention", "diagonal"], "unknown convention 'diagonal'"),
    # train
    (["train", "--layers", "5000-5000-5000"], "~50,000,000 weights (limit 1,000,000)"),
    (["train", "--seed", "-1"], "argument --seed: expected a non-negative integer"),
    (["train", "--l2", "-1"], "l2 must be a finite number of at least 0"),
    # verify and verify-formula: the spec is refused before the file or formula is looked at
    (["verify", "absent.py:fn", "--layers", "5000-5000-5000"], "~50,000,000 weights (limit 1,000,000)"),
    (["verify", "absent.py:fn", "--seed", "-1"], "argument --seed: expected a non-negative integer"),
    (["verify-formula", "X.T @ delta2", "--for", "W1", "--layers", "5000-5000-5000"], "~50,000,000 weights"),
    (["verify-formula", "X.T @ delta2", "--for", "W1", "-m", "100000"], "to write out symbolically"),
    (["verify-formula", "X.T @ delta2", "--for", "W1", "--l2", "nan"], "l2 must be a finite number"),
    # verify-formula's LaTeX and documents
    (["verify-formula", "--latex", r"\delta^{(2)} = \delta^{(3)} W^{(2)\top} \oslash a^{(2)}"],
     "the symbol \\oslash at character 41"),
    (["verify-formula", "--latex", r"\delta^{(2)} = \left(a^{(2)}"], "at character 29 (the end of the formula"),
    (["verify-formula", "--latex", r"X^\top \delta^{(2)}"], "the formula has no left side: say what it is with --for"),
    (["verify-formula", "--latex", r"\delta^{(l)} = \delta^{(l+5)}"], "no layer l of this 3-layer net"),
    (["verify-formula", "--file", "afile"], "--file reads Markdown (.md) or LaTeX (.tex)"),
    (["verify-formula", "--file", "absent.md"], "no such file: absent.md"),
    (["verify-formula", "X.T @ delta2", "--file", "absent.md"], "give one of FORMULA, --latex LATEX and --file"),
    (["verify-formula", "delta3 @ W2[0]", "--for", "delta2"], "an index that is not a slice"),
    (["verify-formula", "np.sum(delta2, axis=2)", "--for", "b1"], "a sum with axis=2"),
]

API_CASES = [
    (lambda: parse_spec("2-3-1", l2=10 ** 400), "l2 must be a finite number"),
    (lambda: parse_spec("2-3-1", l2=math.nan), "l2 must be a finite number"),
    (lambda: parse_spec("2-3-1", l2=1e300), "at most 1e+200"),
    (lambda: parse_spec("2-3-1", l2="0.5"), "l2 must be a finite number"),
    (lambda: parse_spec("2-3-1", m=True), "m, the number of examples, must be an integer"),
    (lambda: parse_spec("2-3-1", m=10 ** 6), "m above 100000 is refused"),
    (lambda: parse_spec("2-3-1", momentum=0.9), "unknown option 'momentum'"),
    (lambda: parse_spec(231), "layer sizes must be text like '2-3-1'"),
    (lambda: NetworkSpec((2, 3, 1), XOR, m=1.5), "m, the number of examples, must be an integer"),
    (lambda: NetworkSpec((2, 3.0, 1), XOR), "layer sizes must be integers"),
    (lambda: derive(parse_spec("5000-5000-5000")), "size_limit_factor=50 in the API"),
    (lambda: derive(parse_spec("2-3-1", m=2000)), "examples to write out symbolically (limit 1,000)"),
    (lambda: derive(parse_spec("2-3-1"), size_limit_factor=math.nan), "size limit factor must be a positive"),
    (lambda: derive(parse_spec("2-3-1"), proofs="some"), "unknown proof choice 'some'"),
    (lambda: check_size(parse_spec("2-3-1"), "train"), "unknown work 'train'"),
    (lambda: check_size(parse_spec("2-3-1"), factor=0), "size limit factor must be a positive"),
]


def _case_id(argv) -> str:
    return " ".join(part if len(part) < 24 else part[:20] + "..." for part in argv).replace("\n", "\\n")


@pytest.fixture
def empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(output_files, "TEX_ENGINE", "no-such-tex-engine")  # the same on every machine
    (tmp_path / "afile").write_text("a file in the way of a folder")
    return tmp_path


@pytest.mark.parametrize("argv, fragment", CLI_CASES, ids=[_case_id(argv) for argv, _ in CLI_CASES])
def test_bad_command_line_is_one_line_exit_2_and_writes_nothing(empty_folder, capsys, argv, fragment):
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    assert fragment in captured.err
    assert captured.out == ""
    assert [path.name for path in empty_folder.iterdir()] == ["afile"]


@pytest.mark.parametrize("call, fragment", API_CASES, ids=[f"api-{i}" for i in range(len(API_CASES))])
def test_bad_api_input_raises_a_value_error_saying_what_is_accepted(call, fragment):
    with pytest.raises(ValueError) as error:
        call()
    assert fragment in str(error.value)
