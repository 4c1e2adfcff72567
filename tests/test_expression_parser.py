"""The safe formula parser: what it builds, what it refuses, and how it says so."""

import os

import pytest
import sympy as sp

from derive.formulas.expression_parser import (MATRIX_OPERATORS, FormulaError, parse_formula,
                                      parse_tree)

x, y, z, t = sp.symbols("x y z t", real=True)


# Expected SymPy objects are built with SymPy's own constructors, not read back from our output.
@pytest.mark.parametrize("text, expected", [
    ("(x + y) * z", (x + y) * z),
    ("x - y", x - y),
    ("x / y", x / y),
    ("-x ** 2", -(x ** 2)),
    ("+x", x),
    ("0.1 * x", sp.Rational(1, 10) * x),
    ("2 ** 0.5", sp.sqrt(2)),
    ("exp(x) + log(y)", sp.exp(x) + sp.log(y)),
    ("sin(x) * cos(y) - tanh(z)", sp.sin(x) * sp.cos(y) - sp.tanh(z)),
    ("sigmoid(t)", 1 / (1 + sp.exp(-t))),
    ("relu(x)", sp.Max(0, x)),
    ("abs(x)", sp.Abs(x)),
    ("max(x, y, 2)", sp.Max(x, y, 2)),
    ("x ** -100", x ** -100),
])
def test_accepted_formulas_map_onto_sympy_constructors(text, expected):
    assert sp.simplify(parse_formula(text) - expected) == 0


def test_tree_keeps_the_formula_as_written():
    tree = parse_tree("x - y")
    assert (tree.kind, tree.head) == ("operator", "sub")
    assert [leaf.head for leaf in tree.args] == ["x", "y"]


def test_tree_keeps_both_uses_of_a_repeated_name():
    tree = parse_tree("x * y + x")
    assert [node.head for node in tree.walk() if node.kind == "name"] == ["x", "y", "x"]
    assert tree.names() == ("x", "y")


def test_decimal_numbers_are_read_exactly_as_typed():
    assert parse_tree("0.1").value == sp.Rational(1, 10)


HOSTILE = [
    ("__import__('os').system('x')", "attribute access (.system)"),
    ("__import__('os')", "unknown function '__import__'"),
    ("x.__class__", "attribute access (.__class__)"),
    ("x.__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("getattr(x, 'y')", "unknown function 'getattr'"),
    ("eval('1')", "unknown function"),
    ("__builtins__", "names start with a letter"),
    ("_x", "names start with a letter"),
    ("lambda: 1", "lambda expressions"),
    ("(lambda: 1)()", "calling anything but a function's name"),
    ("[x for x in y]", "comprehensions"),
    ("(x for x in y)", "comprehensions"),
    ("{x: y for x in z}", "comprehensions"),
    ("x[0]", "subscripts"),
    ("exp(x=1)", "keyword arguments"),
    ("max(*x)", "starred arguments"),
    ("foo(x)", "unknown function 'foo'"),
    ("'abc'", "strings"),
    ("b'abc'", "strings"),
    ("f'{x}'", "f-strings"),
    ("[x, y]", "lists"),
    ("(x, y)", "tuples"),
    ("{x: y}", "dicts"),
    ("(x := 1)", "assignment expressions"),
    ("x if y else z", "conditional expressions"),
    ("x < y", "comparisons"),
    ("x and y", "and/or"),
    ("not x", "'not'"),
    ("~x", "'~'"),
    ("x // 2", "'//'"),
    ("x % 2", "'%'"),
    ("x @ y", "'@'"),
    ("x.T", "attribute access (.T)"),
    ("exp", "exp is a function"),
    ("exp(x, y)", "exp cannot take 2 arguments; it takes 1"),
    ("max(x)", "max cannot take 1 argument; it takes 2 or more"),
    ("True", "the constant True"),
    ("None", "the constant None"),
    ("1j", "complex numbers"),
    ("1e999", "infinity"),
    ("2 ** 10 ** 10", "exponents are limited"),
    ("x ** 1000", "exponents are limited"),
    ("x ** (2 * 60)", "exponents are limited"),
    ("((10 ** 50) ** 50) ** 50", "too large"),
    ("1 / 0", "division by zero"),
    ("x / (1 - 1)", "division by zero"),
    ("0 ** -1", "division by zero"),
    ("x = 1", "not a valid expression"),
    ("import os", "not a valid expression"),
    ("x; y", "not a valid expression"),
    ("x +", "not a valid expression"),
    ("x\x00", "not a valid expression"),
    ("(" * 201 + "x" + ")" * 201, "not a valid expression"),
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 501, "the limit is 500"),
    ("+".join(["x"] * 120), "syntax nodes"),
    ("sigmoid(" * 21 + "x" + ")" * 21, "nests 21 levels deep; the limit is 20"),
    ("-" * 30 + "x", "nests 30 levels deep"),
]


@pytest.mark.parametrize("text, fragment", HOSTILE)
def test_hostile_or_malformed_formula_is_refused_with_a_clear_message(text, fragment):
    with pytest.raises(FormulaError) as caught:
        parse_formula(text)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_refusals_are_value_errors_so_the_cli_reports_them():
    assert issubclass(FormulaError, ValueError)


def test_refusals_of_constructs_say_what_is_accepted():
    with pytest.raises(FormulaError, match="accepted: numbers, any name, .* calls to exp, log"):
        parse_formula("lambda: 1")


def test_hostile_call_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FormulaError):
        parse_formula("__import__('os').system('touch pwned')")
    with pytest.raises(FormulaError):
        parse_formula("open('pwned', 'w')")
    assert os.listdir(tmp_path) == []


def test_a_restricted_name_list_refuses_other_names():
    assert parse_formula("a * b", names=["a", "b"]) == sp.Symbol("a", real=True) * sp.Symbol(
        "b", real=True)
    with pytest.raises(FormulaError, match="unknown name 'c'; accepted: numbers, names a, b"):
        parse_formula("a * c", names=["a", "b"])


def test_a_long_sum_is_one_level_of_nesting():
    assert parse_formula("+".join(f"x{i}" for i in range(60))) == sp.Add(
        *(sp.Symbol(f"x{i}", real=True) for i in range(60)))


def test_size_limits_are_parameters():
    with pytest.raises(FormulaError, match="the limit is 5"):
        parse_formula("x + y + z", max_length=5)
    with pytest.raises(FormulaError, match="the limit is 4"):
        parse_formula("x + y", max_nodes=4)
    with pytest.raises(FormulaError, match="nests 2 levels deep; the limit is 1"):
        parse_formula("exp(x) * y", max_depth=1)


def test_matrix_formula_of_issue_6_parses_with_matmul_transpose_and_hadamard():
    m, hidden, out = 4, 3, 1
    names = {"delta3": sp.MatrixSymbol("delta3", m, out),
             "W2": sp.MatrixSymbol("W2", hidden, out),
             "z2": sp.MatrixSymbol("z2", m, hidden)}
    # an opaque elementwise f' is enough to show the parser is reusable
    functions = {"sigmoid_prime": lambda a: a}
    formula = parse_formula("delta3 @ W2.T * sigmoid_prime(z2)", names=names,
                            functions=functions, operators=MATRIX_OPERATORS,
                            allow_matmul=True, allow_transpose=True)
    assert formula.shape == (m, hidden)
    assert isinstance(formula, sp.HadamardProduct)
    expected = sp.hadamard_product(names["delta3"] * names["W2"].T, names["z2"])
    assert formula == expected


def test_matrix_grammar_still_refuses_other_attributes():
    with pytest.raises(FormulaError, match=r"attribute access \(\.I\)"):
        parse_formula("A.I", names={"A": sp.MatrixSymbol("A", 2, 2)}, allow_transpose=True)


def test_shapes_that_do_not_fit_are_a_formula_error():
    names = {"A": sp.MatrixSymbol("A", 2, 3), "B": sp.MatrixSymbol("B", 2, 3)}
    with pytest.raises(FormulaError, match="cannot build"):
        parse_formula("A @ B", names=names, allow_matmul=True, operators=MATRIX_OPERATORS)


def test_custom_function_arity_comes_from_its_signature():
    functions = {"pair": lambda a, b: a + b}
    assert parse_formula("pair(x, y)", functions=functions) == x + y
    with pytest.raises(FormulaError, match="pair cannot take 1 argument; it takes 2"):
        parse_formula("pair(x)", functions=functions)
