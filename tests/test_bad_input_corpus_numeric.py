"""The numeric side's bad-input corpus: verify, check, train, their files and the Python API.

One line per case. Every command-line case exits 2 with one line on stderr that names the
problem, prints nothing on stdout and writes no file; every API case raises a ValueError (a
subclass) with a one-line message. The command-line side's own corpus (spec, derive, graph) is
tests/test_bad_input_corpus.py; the behaviour behind each case has a named test in
tests/test_bad_input_numeric.py or beside its module.
"""

from pathlib import Path

import numpy as np
import pytest

from checks.inputs.param_files import read_data, read_params
from checks.pytest_helpers import assert_gradients_match
from checks.training import train
from checks.routes.three_routes import verify
from checks.diagnose.user_function import verify_function
from derive.cli import main
from derive.network.spec import XOR_SPEC, NetworkSpec

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "user_backprop.py"

FUNCTIONS = '''\
import sys
import numpy as np

def exits(X, y, W1, W2):
    sys.exit(0)

def exits_with_text(X, y, W1, W2):
    sys.exit("bye")

def interrupted(X, y, W1, W2):
    raise KeyboardInterrupt

def raises(X, y, W1, W2):
    raise ValueError("not today")

def never_returns(X, y, W1, W2):
    while True:
        pass

def returns_none(X, y, W1, W2):
    return None

def complex_gradients(X, y, W1, W2):
    return np.zeros(W1.shape) + 1j, np.zeros(W2.shape)

class Unreadable:
    def __array__(self, *args, **kwargs):
        raise RuntimeError("cannot")

def unreadable(X, y, W1, W2):
    return Unreadable(), Unreadable()

def strings(X, y, W1, W2):
    return "W1", "W2"

def transposed(X, y, W1, W2):
    return np.zeros(W1.T.shape), np.zeros(W2.shape)
'''

# Ng's signature, for verify --unrolled (a 2-2-1 net with a bias unit: Theta1 2 x 3, Theta2 1 x 3)
UNROLLED = '''\
import numpy as np

def short_grad(nn_params, n, h, K, X, y, lambda_):
    return 0.0, nn_params[:-1]

def grads_as_a_list(nn_params, n, h, K, X, y, lambda_):
    return 0.0, [np.zeros((h, n + 1)), np.zeros((K, h + 1))]
'''
UNROLLED_SPEC = "--unrolled F --layers 2-2-1 --bias unit --convention column"

_ROW = "[0.1, 0.2, 0.3]"
FILES = {
    "functions.py": FUNCTIONS,
    "unrolled.py": UNROLLED,
    "exits_on_import.py": "import sys\nsys.exit(3)\n\ndef f(X, y, W1, W2):\n    pass\n",
    "deep.json": "[" * 200_000,
    "duplicate.json": f'{{"W1": [{_ROW}, {_ROW}], "W2": [[1], [2], [3]], "W1": [{_ROW}, {_ROW}]}}',
    "duplicate_data.json": '{"X": [[0, 0]], "y": [[0]], "X": [[1, 1]]}',
    "huge_weights.json": '{"W1": [[1e308, 1e308, 1e308], [1e308, 1e308, 1e308]], "W2": [[1e308], [1e308], [1e308]]}',
    # finite weights whose L2 penalty at l2 = 1e200 (the largest l2 a spec takes) overflows
    "large_weights.json": '{"W1": [[1e60, 1e60, 1e60], [1e60, 1e60, 1e60]], "W2": [[1e60], [1e60], [1e60]]}',
    "nan.json": f'{{"W1": [[NaN, 0.2, 0.3], {_ROW}], "W2": [[1], [2], [3]]}}',
    "overflowing_literal.json": f'{{"W1": [[1e999, 0.2, 0.3], {_ROW}], "W2": [[1], [2], [3]]}}',
    "transposed.json": '{"W1": [[1, 2], [3, 4], [5, 6]], "W2": [[1], [2], [3]]}',
    "not_json.json": "{W1: [[1]]}",
    "list.json": "[[1, 2]]",
    "xor3.json": '{"X": [[0, 0], [0, 1], [1, 0]], "y": [[0], [1], [1]]}',
    "huge_integer.json": '{"X": [[' + "9" * 5000 + ", 0]], \"y\": [[0]]}",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name, text in FILES.items():
        (folder / name).write_text(text)
    (folder / "latin1.json").write_bytes(b'{"X": [[0, 0]], "y": [[0]], "\xe9": 1}')
    return folder


def _case(text: str, fragment: str, case_id: str):
    return pytest.param(text.split(), fragment, id=case_id)


# (argv with {d} for the corpus folder, a fragment of the one-line message)
COMMAND_LINE = [
    # verify: the user's function breaks the contract
    _case("verify {d}/functions.py:exits", "called sys.exit(0), which is not a result", "verify-sys-exit-0"),
    _case("verify {d}/functions.py:exits_with_text", "called sys.exit('bye')", "verify-sys-exit-text"),
    _case("verify {d}/functions.py:interrupted", "raised KeyboardInterrupt", "verify-keyboard-interrupt"),
    _case("verify {d}/functions.py:raises", "raised ValueError: not today (at", "verify-raises-with-line"),
    _case("verify {d}/functions.py:never_returns --timeout 0.2", "did not return within 0.2 s", "verify-timeout"),
    _case("verify {d}/functions.py:returns_none --returns cost", "the output (J) is None", "verify-returns-none"),
    _case("verify {d}/functions.py:complex_gradients", "is complex; expected real numbers", "verify-complex"),
    _case("verify {d}/functions.py:unreadable", "reading what it returned raised RuntimeError", "verify-array-raises"),
    _case("verify {d}/functions.py:strings", "is not an array of numbers (got str)", "verify-returns-strings"),
    _case("verify {d}/functions.py:transposed", "(the transpose: a transpose missing in this output, or code written", "verify-transposed"),
    _case("verify {d}/exits_on_import.py:f", "importing", "verify-exit-on-import"),
    _case("verify {d}/unrolled.py:short_grad " + UNROLLED_SPEC, "grad has 8 numbers; expected 9, the unrolled gradient",
          "verify-unrolled-grad-short"),
    _case("verify {d}/unrolled.py:grads_as_a_list " + UNROLLED_SPEC, "grad is not a vector of real numbers (got list)",
          "verify-unrolled-grad-not-a-vector"),
    _case("verify {d}/functions.py:raises " + UNROLLED_SPEC, "the contract calls it with (nn_params, input_layer_size",
          "verify-unrolled-signature"),
    _case("verify {d}/unrolled.py:short_grad --unrolled F", "it needs one hidden layer, --bias unit and --convention "
          "column", "verify-unrolled-spec"),
    _case("verify {d}/missing.py:f", "no such file", "verify-missing-file"),
    # verify: options
    _case(f"verify {EXAMPLE}:buggy_backprop --tolerance inf", "tolerance must be a number from", "verify-tolerance-inf"),
    _case(f"verify {EXAMPLE}:buggy_backprop --tolerance nan", "tolerance must be a number from", "verify-tolerance-nan"),
    _case(f"verify {EXAMPLE}:buggy_backprop --tolerance -1", "tolerance must be a number from", "verify-tolerance-negative"),
    _case(f"verify {EXAMPLE}:buggy_backprop --tolerance 0.5", "tolerance must be a number from", "verify-tolerance-loose"),
    _case(f"verify {EXAMPLE}:correct_backprop --timeout 0", "timeout must be a finite number", "verify-timeout-zero"),
    _case(f"verify {EXAMPLE}:correct_backprop --timeout nan", "timeout must be a finite number", "verify-timeout-nan"),
    _case(f"verify {EXAMPLE}:correct_backprop --points -1", "random points must be an integer >= 0", "verify-points"),
    _case(f"verify {EXAMPLE}:correct_backprop --l2 1e308", "l2 must be a finite number of at least 0 and at most 1e+200",
          "verify-l2-too-large"),
    # check: overflow and files
    _case("check --l2 1e200 --params {d}/large_weights.json", "the cost J overflows float64 (inf)", "check-l2-overflow"),
    _case("check --params {d}/huge_weights.json", "z2 overflows float64 (inf)", "check-weights-overflow"),
    _case("check --params {d}/deep.json", "nests more than 3 levels", "check-nested-brackets"),
    _case("check --data /dev/zero", "longer than the limit of 33,554,432 bytes", "check-dev-zero"),
    _case("check --params {d}/duplicate.json", "'W1' appears twice", "check-duplicate-parameter"),
    _case("check --data {d}/duplicate_data.json", "'X' appears twice", "check-duplicate-data"),
    _case("check --params {d}/nan.json", "not a number JSON allows", "check-nan"),
    _case("check --params {d}/overflowing_literal.json", "every number must be finite", "check-1e999"),
    _case("check --params {d}/transposed.json", "W1 has shape (3, 2); expected (2, 3)", "check-wrong-shape"),
    _case("check --params {d}/not_json.json", "is not valid JSON", "check-not-json"),
    _case("check --params {d}/list.json", "must hold a JSON object", "check-not-an-object"),
    _case("check --params {d}/missing.json", "cannot be read", "check-missing-file"),
    _case("check --params {d}", "cannot be read", "check-a-folder"),
    _case("check --data {d}/latin1.json", "cannot be read", "check-not-utf8"),
    _case("check --data {d}/huge_integer.json", "digits", "check-huge-integer"),
    _case("check --data {d}/xor3.json -m 4", "-m 4 does not match the 3 examples", "check-m-mismatch"),
    # train
    _case("train --activation identity --lr 100 --plot {d}/out/cost.png", "training diverged at epoch",
          "train-diverges-writes-no-plot"),
    _case("train --lr inf", "--lr must be a finite number", "train-lr-inf"),
    _case("train --lr 0", "--lr must be a finite number", "train-lr-zero"),
    _case("train --batch-size 0", "--batch-size must be between 1 and the 4 examples", "train-batch-size"),
    _case("train --freeze b9", "is not a parameter of this net", "train-freeze"),
    _case("train --l2 1e200 --params {d}/large_weights.json", "overflows float64", "train-l2-overflow"),
    _case("train --params {d}/huge_weights.json", "z2 overflows float64", "train-weights-overflow"),
    _case("train --params {d}/deep.json", "nests more than 3 levels", "train-nested-brackets"),
    _case("train --data /dev/zero", "longer than the limit", "train-dev-zero"),
    _case("train --data {d}/duplicate_data.json", "'X' appears twice", "train-duplicate-data"),
    # derive runs checks/routes/three_routes.py's check: the library raises, the CLI maps it
    _case("derive --l2 1e308 --formats md --out {d}/derived", "l2 must be a finite number", "derive-l2-too-large"),
]


def _listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("argv, fragment", COMMAND_LINE)
def test_bad_command_line_input_exits_2_with_one_line_and_writes_nothing(argv, fragment, corpus, capsys,
                                                                         monkeypatch):
    monkeypatch.chdir(corpus)
    before = _listing(corpus)
    code = main([part.format(d=corpus) for part in argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.startswith(f"backprop {argv[0]}: error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    assert _listing(corpus) == before


def _params(value: float) -> dict:
    return {"W1": np.full((2, 3), value), "W2": np.full((3, 1), value)}


_XOR = (np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), np.array([[0.0], [1.0], [1.0], [0.0]]))


def _good(X, y, W1, W2):
    return np.zeros(W1.shape), np.zeros(W2.shape)


# (a call on the corpus folder, a fragment of the message)
API = [
    pytest.param(lambda d: verify_function(lambda X, y, W1, W2: None, XOR_SPEC, "cost"), "is None",
                 id="verify_function-returns-none"),
    pytest.param(lambda d: verify_function(lambda X, y, W1, W2: (W1 + 1j, W2), XOR_SPEC), "is complex",
                 id="verify_function-complex"),
    pytest.param(lambda d: verify_function(_good, XOR_SPEC, tolerance=float("nan")), "tolerance must be a number",
                 id="verify_function-tolerance-nan"),
    pytest.param(lambda d: verify_function(_good, XOR_SPEC, timeout=-1), "timeout must be a finite number",
                 id="verify_function-timeout-negative"),
    pytest.param(lambda d: verify_function(_good, NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), l2=1e308)),
                 "l2 must be a finite number", id="verify_function-l2-too-large"),
    pytest.param(lambda d: verify_function(_good, 231), "NetworkSpec or a spec string", id="verify_function-spec-int"),
    pytest.param(lambda d: assert_gradients_match(_good, "2-x-1"), "layer sizes must look like 2-3-1",
                 id="assert_gradients_match-bad-spec-string"),
    pytest.param(lambda d: assert_gradients_match(_good, 231), "NetworkSpec or a spec string",
                 id="assert_gradients_match-spec-int"),
    pytest.param(lambda d: assert_gradients_match(lambda X, y, W1, W2: exit(0), "2-3-1"), "called sys.exit(0)",
                 id="assert_gradients_match-exits"),
    pytest.param(lambda d: verify(XOR_SPEC, _params(1e308), _XOR), "z2 overflows float64", id="verify-weights-overflow"),
    pytest.param(lambda d: train(NetworkSpec((2, 3, 1), ("identity", "identity")), _params(0.5), *_XOR,
                                 learning_rate=100.0, epochs=50), "training diverged at epoch", id="train-diverges"),
    pytest.param(lambda d: read_params(d / "deep.json", XOR_SPEC), "nests more than 3 levels", id="read_params-nested"),
    pytest.param(lambda d: read_params(d / "duplicate.json", XOR_SPEC), "appears twice", id="read_params-duplicate"),
    pytest.param(lambda d: read_data("/dev/zero", XOR_SPEC), "longer than the limit", id="read_data-dev-zero"),
]


@pytest.mark.parametrize("call, fragment", API)
def test_bad_api_input_raises_a_value_error_with_a_one_line_message(call, fragment, corpus):
    with pytest.raises(ValueError) as caught:
        call(corpus)
    message = str(caught.value)
    assert fragment in message and "\n" not in message, message
