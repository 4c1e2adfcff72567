"""The verify-scale bench's fixtures do what its table claims (at a small size, never timed), and
every bench section imports with a non-empty case list (a rename once silently broke a bench row)."""

import importlib
import os

import pytest

from bench import verify_scale
from derive.cli import main


def test_the_full_table_checks_the_sizes_issue_14_names():
    sizes = {(case.layers, case.m) for case in verify_scale.FULL_CASES}
    assert sizes == {("3072-50-10", 200), ("784-250-10", 200), ("1000-190-100", 200)}
    large = [case for case in verify_scale.FULL_CASES if case.layers == "784-250-10"]
    # 784 x 250 + 250 + 250 x 10 + 10 weights and biases, counted by hand
    assert {case.parameters for case in large} == {198_760}
    assert [case.expected_exit for case in large] == [0, 1, 1, 1, 1]
    # the many-classes row: about as many parameters, 100 classes
    assert {case.parameters for case in verify_scale.FULL_CASES if case.layers == "1000-190-100"} == {209_290}


@pytest.mark.parametrize("case", verify_scale.QUICK_CASES, ids=lambda case: case.target.split(":")[1] + "-" + case.layers)
def test_each_bench_fixture_passes_or_fails_with_its_mistake_named_at_a_small_size(capsys, monkeypatch, case):
    monkeypatch.chdir(verify_scale.ROOT)  # the case's target is relative to the repository
    code = main(case.arguments())
    out, err = capsys.readouterr()
    assert (code, err) == (case.expected_exit, ""), out + err
    if case.named is None:
        assert "verdict: PASS" in out
    else:
        assert case.named in verify_scale.diagnosis_of(out), out  # the line the table shows


def test_the_diagnosis_read_off_a_report_is_its_catalogue_line():
    report = ("dJ/dW1: WRONG at entry [0, 1]\ndiagnosis: the numbers are reproduced (to 1e-07) by this mistake "
              "from the catalogue:\n  - f' missing: delta2 = delta3 @ W2.T\nverdict: WRONG: 2 of 5 outputs disagree")
    assert verify_scale.diagnosis_of(report) == "f' missing: delta2 = delta3 @ W2.T"
    assert verify_scale.diagnosis_of("verdict: PASS: every output agrees") == "verdict: PASS: every output agrees"


def test_every_bench_section_imports_with_a_run_function_and_non_empty_cases():
    saved = dict(os.environ)  # bench/__main__ sets the BLAS thread variables when imported
    try:
        sections = importlib.import_module("bench.__main__").SECTIONS
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert "verify-scale" in sections
    for name, module in sections.items():
        assert callable(getattr(module, "run", None)), name
        tables = {attribute: getattr(module, attribute) for attribute in dir(module)
                  if attribute.endswith(("_CASES", "_SIZES")) and isinstance(getattr(module, attribute), (list, tuple))}
        assert all(tables.values()), (name, [attribute for attribute, cases in tables.items() if not cases])
