"""leaky_relu and the Huber loss, each added as one table entry plus its hand-written twin, work
end to end: derive and prove, the write-up, the derived NumPy route, verify and verify-formula."""

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from checks.diagnose.user_formula import check_formula
from checks.diagnose.user_function import verify_function
from checks.handwritten import network as handwritten
from checks.routes.derived import lambdify_matrix
from checks.routes.three_routes import verify
from derive import derive
from derive.backward.matrix_ops import apply_entrywise
from derive.circuits import circuit as circuit_module
from derive.circuits.check import check_gradients
from derive.circuits.circuit import build_circuit, run_circuit
from derive.cli import main
from derive.network import activations, costs
from derive.network.spec import NetworkSpec
from derive.backward.derivation import derive_rule
from derive.proofs import local
from derive.proofs.randomized import prove_randomized

LEAKY = NetworkSpec((2, 3, 1), ("leaky_relu", "identity"), cost="half_sse", m=4)
HUBER = NetworkSpec((2, 3, 1), ("tanh", "identity"), cost="huber", m=4)
FIXTURE = Path(__file__).parent / "fixtures" / "user_table_additions.py"


def _fixture(name):
    spec = importlib.util.spec_from_file_location("user_table_additions", FIXTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def _entrywise(function, matrix):
    return apply_entrywise(function, matrix)


def _proof_names(derivation):
    return {proof.strategy for proof in derivation.proofs}


# --- the tables and their twins --------------------------------------------------------------

def test_every_numeric_activation_has_a_hand_written_twin():
    numeric = {name for name, entry in activations.ACTIVATION_TABLE.items() if not entry.is_generic}
    assert numeric == set(handwritten.ACTIVATIONS)


def test_every_cost_has_a_hand_written_twin():
    assert set(costs.COST_TABLE) == set(handwritten.COSTS)


@pytest.mark.parametrize("name", [n for n, e in activations.ACTIVATION_TABLE.items() if e.numpy_function])
def test_table_numpy_code_equals_the_hand_written_twin_including_the_kink(name):
    z = sp.MatrixSymbol("z", 1, 7)
    entry = activations.activation(name)
    values = np.array([[-3.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 3.0]])
    function = lambdify_matrix([z], _entrywise(entry.opaque, z))
    derivative = lambdify_matrix([z], _entrywise(entry.opaque_prime, z))
    twin = handwritten.ACTIVATIONS[name]
    np.testing.assert_allclose(function(values), twin.f(values, 1), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(derivative(values), twin.derivative(values), rtol=1e-15, atol=1e-15)


def test_huber_numpy_code_equals_the_hand_written_twin_on_both_pieces():
    r = sp.MatrixSymbol("r", 1, 7)
    rho, rho_prime = activations.opaque_pair("huber")
    values = np.array([[-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]])
    np.testing.assert_allclose(lambdify_matrix([r], _entrywise(rho, r))(values), handwritten.huber(values))
    np.testing.assert_allclose(lambdify_matrix([r], _entrywise(rho_prime, r))(values), handwritten.huber_prime(values))


def test_leaky_relu_derivative_at_zero_is_the_slope_below_zero_as_in_pytorch():
    x = sp.Symbol("x")
    assert activations.activation("leaky_relu").derivative(x).subs(x, 0) == sp.Rational(1, 100)
    assert handwritten.ACTIVATIONS["leaky_relu"].derivative(np.zeros(1))[0] == 0.01


# --- proofs ------------------------------------------------------------------------------------

def test_leaky_relu_rule_is_proved_against_sympy_diff_and_its_kink_is_stated():
    proof = local.prove_activation_rules({"leaky_relu"})
    assert proof.holds
    assert "leaky_relu'(0) is taken as 0.01" in proof.caveat


def test_the_local_proof_catches_a_wrong_leaky_relu_rule(monkeypatch):
    wrong = dataclasses.replace(activations.ACTIVATION_TABLE["leaky_relu"],
                                derivative=lambda x: sp.Rational(1, 10) + sp.Rational(9, 10) * sp.Heaviside(x, 0))
    monkeypatch.setitem(activations.ACTIVATION_TABLE, "leaky_relu", wrong)
    local._elementwise_check.cache_clear()
    try:
        assert not local.prove_activation_rules({"leaky_relu"}).holds
    finally:
        local._elementwise_check.cache_clear()


def test_huber_rule_is_proved_on_every_piece():
    proof = local.prove_activation_rules({"tanh"}, cost="huber")
    assert proof.holds
    assert any(check.quantity.startswith("huber'") for check in proof.checks)


def test_the_local_proof_catches_an_unclipped_huber_rule(monkeypatch):
    entry = costs.COST_TABLE["huber"]
    wrong = dataclasses.replace(entry, scalar=dataclasses.replace(entry.scalar, derivative=lambda r: r))
    monkeypatch.setitem(costs.COST_TABLE, "huber", wrong)
    local._scalar_loss_check.cache_clear()
    try:
        assert not local.prove_activation_rules({"tanh"}, cost="huber").holds
    finally:
        local._scalar_loss_check.cache_clear()


@pytest.mark.parametrize("spec", [
    NetworkSpec((1, 1, 1), ("leaky_relu", "leaky_relu"), m=1),  # small enough for the written-out proof
    NetworkSpec((2, 2, 2), ("leaky_relu", "sigmoid"), cost="huber", bias="vector", convention="column", m=2),
    NetworkSpec((1, 1, 1), ("tanh", "identity"), cost="huber", m=1),
], ids=lambda spec: f"{spec.slug}-{'-'.join(spec.activations)}-{spec.cost}")
def test_leaky_relu_and_huber_derivations_are_proved_by_every_route(spec):
    derivation = derive(spec, proofs="all")
    assert derivation.proved, [c.failure for p in derivation.proofs for c in p.failures]
    assert {"entrywise", "randomized exact", "local"} <= _proof_names(derivation)


def _with_output_delta(derivation, formula):
    """The derivation with its output delta replaced by `formula` (a planted mistake)."""
    name = f"delta{derivation.spec.layer_count}"
    steps = tuple(dataclasses.replace(step, form=dataclasses.replace(step.form, expression=formula))
                  if step.name == name else step for step in derivation.steps)
    return dataclasses.replace(derivation, steps=steps)


def test_the_randomized_proof_rejects_the_unclipped_huber_delta():
    derivation = derive_rule(HUBER)
    network = derivation.network
    quadratic = sp.MatAdd(network.output.symbol, -network.targets.symbol)  # yhat - y: huber' left out
    assert prove_randomized(derivation).holds
    assert not prove_randomized(_with_output_delta(derivation, quadratic)).holds


# --- the numeric routes ------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [LEAKY, HUBER, NetworkSpec((3, 2, 2), ("leaky_relu", "leaky_relu"), cost="huber",
                                                              reduction="mean", bias="unit", m=5, l2=0.3)],
                         ids=["leaky", "huber", "both"])
def test_derived_hand_written_and_finite_differences_agree(spec):
    result = verify(spec)
    assert result.agree, result


# --- verify and its catalogue ------------------------------------------------------------------

@pytest.mark.parametrize("function, spec", [("leaky_correct", LEAKY), ("huber_correct", HUBER)])
def test_a_correct_user_backprop_passes(function, spec):
    assert verify_function(_fixture(function), spec, points=2).passed


@pytest.mark.parametrize("function, spec, key", [
    ("leaky_slope_dropped", LEAKY, "derivative_of_other_activation"),
    ("huber_unclipped", HUBER, "residual_not_clipped"),
])
def test_a_planted_mistake_is_caught_and_named(function, spec, key):
    verdict = verify_function(_fixture(function), spec, points=2)
    assert not verdict.passed
    assert key in {k for explanation in verdict.explanations for k in explanation.keys}, verdict.report()


# --- verify-formula ----------------------------------------------------------------------------

def test_a_formula_with_leaky_relu_prime_is_checked_correct():
    assert check_formula("delta3 @ W2.T * leaky_relu_prime(z2)", "delta2", LEAKY).passed


def test_a_formula_with_relu_prime_for_leaky_relu_prime_is_wrong_and_named():
    verdict = check_formula("delta3 @ W2.T * relu_prime(z2)", "delta2", LEAKY)
    assert not verdict.passed
    assert any(m.key == "derivative_of_other_activation" for m in verdict.explanations)


def test_a_formula_with_the_huber_gradient_is_checked_correct():
    assert check_formula("huber_prime(yhat - y)", "delta3", HUBER).passed
    assert check_formula("huber_prime(yhat - y) @ W2.T * (1 - a2**2)", "delta2", HUBER).passed


def test_the_quadratic_delta_under_huber_is_wrong_and_named():
    verdict = check_formula("yhat - y", "delta3", HUBER)
    assert not verdict.passed
    assert any(m.key == "residual_not_clipped" for m in verdict.explanations)


# --- the CLI and the write-up ------------------------------------------------------------------

@pytest.mark.needs_pdflatex
def test_derive_writes_leaky_relu_and_huber_with_the_tables_latex(tmp_path, capsys):
    code = main(["derive", "--layers", "2-2-1", "--activation", "leaky_relu", "--output-activation", "identity",
                 "--cost", "huber", "-m", "2", "--out", str(tmp_path)])
    assert code == 0
    folder = tmp_path / "2-2-1-lrelu-identity-huber-row-m2"
    for suffix in ("tex", "md"):
        text = (folder / f"derivation.{suffix}").read_text()
        assert r"\operatorname{lrelu}" in text and r"\operatorname{huber}'" in text
    page = (folder / "derivation.html").read_text()  # MathML
    assert "<mo>lrelu</mo>" in page and "<mo>huber</mo>" in page
    assert (folder / "derivation.pdf").exists()
    assert "proofs: entrywise holds" in capsys.readouterr().out


def test_an_unknown_cost_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["derive", "--cost", "hubr", "--out", str(tmp_path)])
    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "huber" in error


def test_the_written_out_entrywise_proof_covers_leaky_relu_away_from_its_kink():
    derivation = derive(NetworkSpec((1, 1, 1), ("leaky_relu", "leaky_relu"), m=1))
    written_out = [p for p in derivation.proofs if p.strategy == "entrywise" and "z != 0" in p.caveat]
    assert written_out and written_out[0].holds


# --- the scalar circuit (backprop graph "...") --------------------------------------------------

@pytest.mark.parametrize("x", [-2.0, -0.25, 0.5, 3.0])
def test_the_leaky_relu_gate_agrees_with_sympy_and_central_differences_off_the_kink(x):
    check = check_gradients(run_circuit(build_circuit("leaky_relu(x) * y"), {"x": x, "y": 3.0}))
    assert [g.status for g in check.gradients] == ["agree", "agree"]


def test_the_leaky_relu_gate_takes_the_slope_below_zero_at_its_kink_and_says_so():
    run = run_circuit(build_circuit("leaky_relu(x)"), {"x": 0.0})
    assert run.gradient("x") == 0.01
    check = check_gradients(run)
    assert check.gradients[0].status == "kink" and check.passed


def test_a_wrong_leaky_relu_gate_is_caught_by_the_circuit_check(monkeypatch):
    wrong = dataclasses.replace(circuit_module.GATES["leaky_relu"], local=lambda v, out: (1.0,))
    monkeypatch.setitem(circuit_module.GATES, "leaky_relu", wrong)
    check = check_gradients(run_circuit(build_circuit("leaky_relu(x)"), {"x": -1.0}))
    assert check.gradients[0].status == "disagree"


def test_the_property_strategies_draw_the_new_entries_from_the_tables():
    from tests.spec_strategies import HIDDEN, NUMERIC_OUTPUT_COST, OUTPUT_FOR_COST
    assert "leaky_relu" in HIDDEN and "huber" in OUTPUT_FOR_COST
    assert ("leaky_relu", "huber") in NUMERIC_OUTPUT_COST


def test_the_new_entries_documents_are_byte_identical_across_runs(tmp_path, capsys):
    arguments = ["derive", "--layers", "2-2-1", "--activation", "leaky_relu", "--output-activation", "sigmoid",
                 "--cost", "huber", "-m", "2", "--formats", "tex,md,html"]
    assert main(arguments + ["--out", str(tmp_path / "first")]) == 0
    assert main(arguments + ["--out", str(tmp_path / "second")]) == 0
    first = sorted((tmp_path / "first").rglob("derivation.*"))
    assert len(first) == 3
    for path in first:
        assert path.read_bytes() == (tmp_path / "second" / path.relative_to(tmp_path / "first")).read_bytes()
