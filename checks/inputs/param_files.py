"""Parameter and data files: JSON objects of named matrices, read and checked against a spec.

Format. A parameter file is one JSON object mapping each parameter name to a matrix, written as
a list of rows, each row a list of numbers. The names are W1, W2, ... (W(l) carries layer l into
layer l + 1) and, with --bias vector, b1, b2, ...; nothing else. The shapes follow the convention:

    row form (default)   W(l) is n_l x n_{l+1}   b(l) is 1 x n_{l+1}   X is m x n_1   y is m x n_L
    column form          W(l) is n_{l+1} x n_l   b(l) is n_{l+1} x 1   X is n_1 x m   y is n_L x m

With Ng's bias unit (--bias unit) W(l) has one more row in row form (row 0 multiplies the
constant 1), one more column in column form. A data file is one JSON object with exactly "X" (the
inputs, one example per row in row form) and "y" (the targets, the same m examples).

Example: seed 000's XOR net (2-3-1, row form, no biases) and its four examples:

    params.json  {"W1": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]],
                  "W2": [[0.7], [-0.8], [0.9]]}
    data.json    {"X": [[0, 0], [0, 1], [1, 0], [1, 1]],
                  "y": [[0], [1], [1], [0]]}

Limits. A file may be at most MAX_FILE_BYTES (32 MiB) and hold at most MAX_NUMBERS (4,194,304)
numbers, and may nest at most MAX_DEPTH (3) levels of JSON ({"W1": [[...]]} is 3); a name may
appear only once in an object. Parsing JSON into Python numbers takes about ten times the file's
size in memory, so the limits hold a read to a few hundred MB; a net checked by hand needs far
less (784-128-10 has 100,480 weights, about 2 MB of JSON).

Every number must be finite (JSON has no NaN or Infinity; Python's spellings NaN, Infinity and
overflowing literals such as 1e999 are refused too). A 1 x n or n x 1 matrix is still a list of
rows: [[0.1, 0.2]] or [[0.1], [0.2]]. Anything else is a ParameterFileError (a ValueError) whose
one-line message names the file, the array and the expected shape.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from typing import Mapping

import numpy as np

from checks.handwritten.network import parameter_shapes

DATA_NAMES = ("X", "y")

# The limits in the module docstring. Sizes are checked before reading (os.stat, for regular
# files), while reading (at most MAX_FILE_BYTES + 1 bytes are read, which stops /dev/zero and
# pipes) and while parsing (numbers counted as they are parsed, nesting measured before parsing).
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_NUMBERS = 4 * 1024 * 1024
MAX_DEPTH = 3


class ParameterFileError(ValueError):
    """A parameter or data file that cannot be used; the message is one line."""


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows; every number must be finite")


def load_json_object(path: str | os.PathLike, what: str, number_text: bool = False) -> dict:
    """The JSON object in a file, read within the limits of the module docstring.

    Args:
        path: the file.
        what: "parameter file" or "data file", for the messages.
        number_text: keep every number as the text it was written with (published figures,
            whose printed digits matter), instead of a float or int.

    Raises:
        ParameterFileError: unreadable, too large, not UTF-8, not JSON, nested too deeply, a
            duplicate name, NaN/Infinity, too many numbers, or not an object.
    """
    source = f"{what} {os.fspath(path)!r}"
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if stat.S_ISREG(os.fstat(stream.fileno()).st_mode) and size > MAX_FILE_BYTES:
                raise ParameterFileError(f"{source} is {size:,} bytes; the limit is {MAX_FILE_BYTES:,} "
                                         f"({MAX_FILE_BYTES // 2**20} MiB)")
            data = stream.read(MAX_FILE_BYTES + 1)  # a device or a pipe has no size to ask for
        if len(data) > MAX_FILE_BYTES:
            raise ParameterFileError(f"{source} is longer than the limit of {MAX_FILE_BYTES:,} bytes "
                                     f"({MAX_FILE_BYTES // 2**20} MiB); it was not read further")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise ParameterFileError(f"{source} cannot be read: {reason}") from None
    _check_depth(text, source)
    counter = _NumberCounter(source, number_text)
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys,
                           parse_float=counter.float, parse_int=counter.int)
    except json.JSONDecodeError as error:
        raise ParameterFileError(f"{source} is not valid JSON: {error.msg} at line "
                                 f"{error.lineno}, column {error.colno}") from None
    except RecursionError:  # _check_depth makes this unreachable; kept so no traceback can escape
        raise ParameterFileError(f"{source} is nested too deeply; at most {MAX_DEPTH} levels "
                                 "({\"W1\": [[...], ...]}) are accepted") from None
    except ValueError as error:
        raise ParameterFileError(f"{source}: {error}") from None
    if not isinstance(value, dict):
        raise ParameterFileError(f"{source} must hold a JSON object "
                                 f"({{\"name\": [[...], ...], ...}}), not a {_json_type(value)}")
    return value


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _check_depth(text: str, source: str) -> None:
    """Refuses more than MAX_DEPTH levels of [ and { before json (whose C parser recurses) sees them."""
    # strings may hold brackets: they are blanked first; then the depth is a running sum of
    # +1 for [ { and -1 for ] }, in NumPy (a 32 MiB file may hold millions of brackets)
    skeleton = _STRING.sub(b'""', text.encode("utf-8"))
    brackets = np.frombuffer(skeleton.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    if brackets.size and int(np.max(np.cumsum(steps))) > MAX_DEPTH:
        raise ParameterFileError(f"{source} nests more than {MAX_DEPTH} levels of [ and {{; a file is "
                                 "one object of matrices, {\"W1\": [[0.1, 0.2], [0.3, 0.4]]}")


_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


class _NumberCounter:
    """json.loads hooks that count the numbers parsed and stop past MAX_NUMBERS."""

    def __init__(self, source: str, number_text: bool = False):
        self.source, self.count, self.number_text = source, 0, number_text

    def _one(self) -> None:
        self.count += 1
        if self.count > MAX_NUMBERS:
            raise ValueError(f"more than {MAX_NUMBERS:,} numbers; that is the limit per file")

    def float(self, text: str) -> float:
        self._one()
        return text if self.number_text else float(text)

    def int(self, text: str) -> int:
        self._one()
        return text if self.number_text else int(text)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """An object's pairs as a dict, refusing a name given twice (json would keep the last silently)."""
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"{key!r} appears twice in one object; each name may appear once")
        seen[key] = value
    return seen


def _json_type(value) -> str:
    return {list: "list", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null", dict: "object"}.get(type(value), type(value).__name__)


def matrix_from_json(name: str, value, source: str = "") -> np.ndarray:
    """A list of rows of finite numbers -> a float64 matrix.

    Raises:
        ParameterFileError: not a non-empty list of equally long non-empty lists of finite numbers.

    >>> matrix_from_json("b1", [[0.5, -1]]).tolist()
    [[0.5, -1.0]]
    """
    where = f"{source}: " if source else ""
    if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
        raise ParameterFileError(f"{where}{name} must be a matrix written as a list of rows, e.g. "
                                 f"[[1, 2], [3, 4]]; got a {_json_type(value)}"
                                 + (" of non-lists" if isinstance(value, list) and value else ""))
    lengths = {len(row) for row in value}
    if len(lengths) != 1 or 0 in lengths:
        raise ParameterFileError(f"{where}{name} has rows of lengths {sorted(lengths)}; every row needs "
                                 "the same number (at least 1) of entries")
    for i, row in enumerate(value):
        for j, entry in enumerate(row):
            if isinstance(entry, bool) or not isinstance(entry, (int, float)):
                raise ParameterFileError(f"{where}{name}[{i}][{j}] must be a number, got a {_json_type(entry)}")
            try:
                finite = math.isfinite(entry)
            except OverflowError:  # an integer literal too large for a float
                raise ParameterFileError(f"{where}{name}[{i}][{j}] is too large for a float; every number "
                                         "must be finite") from None
            if not finite:
                raise ParameterFileError(f"{where}{name}[{i}][{j}] is {entry}; every number must be finite")
    return np.array(value, dtype=np.float64)


def _check_names(given, expected: tuple[str, ...], what: str, source: str) -> None:
    missing = [name for name in expected if name not in given]
    extra = sorted(str(name) for name in given if name not in expected)
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unexpected {', '.join(extra)}"] if extra else [])
        raise ParameterFileError(f"{source}: {'; '.join(parts)}; a {what} holds exactly "
                                 f"{', '.join(expected)}")


def params_from_json(obj: Mapping, spec, source: str = "parameters") -> dict[str, np.ndarray]:
    """Checks a parsed parameter object against the spec's names and shapes.

    Raises:
        ParameterFileError: missing or extra names, a bad matrix, or a wrong shape (named, with
            the expected and the given shape).
    """
    shapes = parameter_shapes(spec)
    _check_names(obj, tuple(shapes), "parameter file", source)
    params = {}
    for name, shape in shapes.items():
        matrix = matrix_from_json(name, obj[name], source)
        if matrix.shape != shape:
            raise ParameterFileError(
                f"{source}: {name} has shape {_shape_text(matrix.shape)}; expected {_shape_text(shape)} for "
                f"sizes {'-'.join(map(str, spec.sizes))}, bias {spec.bias}, {spec.convention} form")
        params[name] = matrix
    return params


def data_from_json(obj: Mapping, spec, source: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """Checks a parsed data object: X and y in the spec's convention, with the same m >= 1.

    Raises:
        ParameterFileError: missing or extra names, a bad matrix, or a wrong shape.
    """
    _check_names(obj, DATA_NAMES, "data file", source)
    X, y = matrix_from_json("X", obj["X"], source), matrix_from_json("y", obj["y"], source)
    row = spec.convention == "row"
    n_in, n_out = spec.sizes[0], spec.sizes[-1]
    expected_x = "(m, %d)" % n_in if row else "(%d, m)" % n_in
    if X.shape[1 if row else 0] != n_in:
        raise ParameterFileError(f"{source}: X has shape {_shape_text(X.shape)}; expected {expected_x} "
                                 f"({n_in} inputs, {spec.convention} form)")
    m = X.shape[0 if row else 1]
    expected_y = (m, n_out) if row else (n_out, m)
    if y.shape != expected_y:
        raise ParameterFileError(f"{source}: y has shape {_shape_text(y.shape)}; expected "
                                 f"{_shape_text(expected_y)} ({n_out} outputs, m = {m} examples as in X, "
                                 f"{spec.convention} form)")
    return X, y


def read_params(path: str | os.PathLike, spec) -> dict[str, np.ndarray]:
    """The parameters in a JSON file (format in the module docstring), checked against the spec.

    Raises:
        ParameterFileError: see load_json_object and params_from_json.
    """
    return params_from_json(load_json_object(path, "parameter file"), spec, os.fspath(path))


def read_data(path: str | os.PathLike, spec) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from a JSON data file (format in the module docstring), checked against the spec.

    Raises:
        ParameterFileError: see load_json_object and data_from_json.
    """
    return data_from_json(load_json_object(path, "data file"), spec, os.fspath(path))


def params_to_json(params: Mapping[str, np.ndarray]) -> dict[str, list]:
    """The parameters as the file format's object (lists of rows), in the order W1, b1, W2, ...

    >>> params_to_json({"W1": np.array([[1.0, 2.0]])})
    {'W1': [[1.0, 2.0]]}
    """
    return {name: np.asarray(params[name], dtype=np.float64).tolist() for name in params}
