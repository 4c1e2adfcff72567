"""Parameter and data files: the documented format is read, and every bad file is one clear line."""

import json

import numpy as np
import pytest

from checks.inputs import param_files
from checks.inputs.param_files import (ParameterFileError, params_to_json, read_data, read_params)
from derive.network.spec import XOR_SPEC, NetworkSpec

VECTOR = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), bias="vector")
COLUMN_UNIT = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), bias="unit", convention="column")
XOR_PARAMS = {"W1": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "W2": [[0.7], [-0.8], [0.9]]}
XOR_DATA = {"X": [[0, 0], [0, 1], [1, 0], [1, 1]], "y": [[0], [1], [1], [0]]}


def _write(tmp_path, content, name="file.json"):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_the_docstring_example_reads_back_as_the_xor_net_and_data(tmp_path):
    params = read_params(_write(tmp_path, XOR_PARAMS), XOR_SPEC)
    X, y = read_data(_write(tmp_path, XOR_DATA, "data.json"), XOR_SPEC)
    assert params["W1"].shape == (2, 3) and params["W2"].tolist() == [[0.7], [-0.8], [0.9]]
    assert X.shape == (4, 2) and y.ravel().tolist() == [0.0, 1.0, 1.0, 0.0]
    assert "params.json" in param_files.__doc__ and '"W1": [[0.1, -0.2, 0.3]' in param_files.__doc__


def test_written_parameters_read_back_unchanged(tmp_path):
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=(1, 3)),
              "W2": rng.normal(size=(3, 1)), "b2": rng.normal(size=(1, 1))}
    back = read_params(_write(tmp_path, params_to_json(params)), VECTOR)
    assert all(np.array_equal(back[name], params[name]) for name in params)


def test_column_form_with_the_bias_unit_takes_transposed_shapes_with_one_more_column(tmp_path):
    params = {"W1": [[0.0] * 3] * 3, "W2": [[0.0] * 4]}
    assert read_params(_write(tmp_path, params), COLUMN_UNIT)["W2"].shape == (1, 4)
    X, y = read_data(_write(tmp_path, {"X": [[0, 1, 0], [1, 1, 0]], "y": [[1, 0, 1]]}, "d.json"), COLUMN_UNIT)
    assert X.shape == (2, 3) and y.shape == (1, 3)


BAD_PARAMS = [
    ("[1, 2]", "must hold a JSON object"),
    ('{"W1": [[1, 2, 3], [4, 5, 6]], "W2": [[1], [2], [3]]', "is not valid JSON"),
    ("", "is not valid JSON"),
    ('{"W1": [[NaN, 0, 0], [0, 0, 0]], "W2": [[1], [2], [3]]}', "NaN is not a number JSON allows"),
    ('{"W1": [[Infinity, 0, 0], [0, 0, 0]], "W2": [[1], [2], [3]]}', "Infinity is not a number"),
    ('{"W1": [[1e999, 0, 0], [0, 0, 0]], "W2": [[1], [2], [3]]}', "W1[0][0] is inf; every number must be finite"),
    ('{"W1": [[1, 2], [3, 4]], "W2": [[1], [2], [3]]}', "W1 has shape (2, 2); expected (2, 3)"),
    ('{"W1": [[1, 2, 3], [4, 5, 6]], "W2": [[1, 2, 3]]}', "W2 has shape (1, 3); expected (3, 1)"),
    ('{"W1": [[1, 2, 3], [4, 5, 6]]}', "missing W2; a parameter file holds exactly W1, W2"),
    ('{"W1": [[1, 2, 3], [4, 5, 6]], "W2": [[1], [2], [3]], "b1": [[0, 0, 0]]}', "unexpected b1"),
    ('{"W1": [[1, 2, 3], [4, 5]], "W2": [[1], [2], [3]]}', "W1 has rows of lengths [2, 3]"),
    ('{"W1": [[1, "2", 3], [4, 5, 6]], "W2": [[1], [2], [3]]}', "W1[0][1] must be a number, got a string"),
    ('{"W1": [[1, true, 3], [4, 5, 6]], "W2": [[1], [2], [3]]}', "W1[0][1] must be a number, got a boolean"),
    ('{"W1": [1, 2, 3], "W2": [[1], [2], [3]]}', "W1 must be a matrix written as a list of rows"),
    ('{"W1": [], "W2": [[1], [2], [3]]}', "W1 must be a matrix"),
]


@pytest.mark.parametrize("content, message", BAD_PARAMS)
def test_a_bad_parameter_file_is_one_line_naming_what_is_wrong(tmp_path, content, message):
    path = _write(tmp_path, content)
    with pytest.raises(ParameterFileError) as error:
        read_params(path, XOR_SPEC)
    assert message in str(error.value)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


BAD_DATA = [
    ('{"X": [[0, 0, 1]], "y": [[0]]}', "X has shape (1, 3); expected (m, 2)"),
    ('{"X": [[0, 0], [1, 1]], "y": [[0]]}', "y has shape (1, 1); expected (2, 1)"),
    ('{"X": [[0, 0]], "Y": [[0]]}', "missing y; unexpected Y; a data file holds exactly X, y"),
    ('{"X": [[0, NaN]], "y": [[0]]}', "NaN is not a number JSON allows"),
    ('"X"', "must hold a JSON object"),
]


@pytest.mark.parametrize("content, message", BAD_DATA)
def test_a_bad_data_file_is_one_line_naming_the_array_and_expected_shape(tmp_path, content, message):
    with pytest.raises(ParameterFileError) as error:
        read_data(_write(tmp_path, content), XOR_SPEC)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_an_unreadable_file_is_a_value_error_not_an_os_error(tmp_path):
    with pytest.raises(ParameterFileError, match="cannot be read: No such file or directory"):
        read_params(tmp_path / "missing.json", XOR_SPEC)
    with pytest.raises(ParameterFileError, match="cannot be read"):
        read_params(tmp_path, XOR_SPEC)  # a folder
    (tmp_path / "latin1.json").write_bytes(b'{"W1": "\xe9"}')
    with pytest.raises(ParameterFileError, match="cannot be read"):
        read_params(tmp_path / "latin1.json", XOR_SPEC)


def test_an_integer_too_large_for_a_float_is_refused_as_not_finite(tmp_path):
    content = '{"W1": [[1' + "0" * 400 + ', 0, 0], [0, 0, 0]], "W2": [[1], [2], [3]]}'
    with pytest.raises(ParameterFileError, match="must be finite"):
        read_params(_write(tmp_path, content), XOR_SPEC)
