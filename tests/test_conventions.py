"""Row and column forms give the same gradients up to the documented transpose."""

import numpy as np
import pytest

from derive import derive, parse_spec
from derive.proofs.modular import evaluate
from derive.proofs.randomized import random_point

CASES = [dict(), dict(bias="vector"), dict(bias="unit", l2=1.0, cost="bce"),
         dict(output_activation="softmax", cost="cce", activation="tanh")]


@pytest.mark.parametrize("options", CASES, ids=[str(c) for c in CASES])
def test_column_gradients_are_row_gradients_transposed(options):
    row = derive(parse_spec("2-3-2", **options), proofs="none")
    column = derive(parse_spec("2-3-2", convention="column", **options), proofs="none")
    point = random_point(row.network, seed=3)
    row_env = dict(point.values)
    # the column form's every matrix is the row form's transposed: X^T, W^T, z^T, ...
    column_env = {key: (value.T if isinstance(value, np.ndarray) else value) for key, value in row_env.items()}
    for name, formula in row.deltas():
        row_env[name] = evaluate(formula, row_env)
    for name, formula in column.deltas():
        column_env[name] = evaluate(formula, column_env)
    for parameter, formula in row.gradients:
        row_value = evaluate(formula, row_env)
        column_value = evaluate(column.gradient(parameter), column_env)
        assert np.array_equal(column_value, row_value.T), parameter
