"""The printer's fragments, as a textbook prints them (expected strings written by hand)."""

import pytest
import sympy as sp

from derive.network.activations import opaque_pair
from derive.writeup.latex_printer import latex
from derive.backward.matrix_ops import EntrywiseMap, apply_entrywise
from derive.network.naming import LatexNotation

W1, W2 = sp.MatrixSymbol("W1", 2, 3), sp.MatrixSymbol("W2", 3, 1)
X, y, a2, a3 = sp.MatrixSymbol("X", 4, 2), sp.MatrixSymbol("y", 4, 1), sp.MatrixSymbol("a2", 4, 3), sp.MatrixSymbol("a3", 4, 1)
z2, z3 = sp.MatrixSymbol("z2", 4, 3), sp.MatrixSymbol("z3", 4, 1)
delta2, delta3 = sp.MatrixSymbol("delta2", 4, 3), sp.MatrixSymbol("delta3", 4, 1)
sigmoid, sigmoid_prime = opaque_pair("sigmoid")
tanh, tanh_prime = opaque_pair("tanh")
f, f_prime = opaque_pair("f")
u, v = sp.symbols("u v")
SUPER = LatexNotation()
SUB_CIRC_T = LatexNotation(layer_index="subscript", hadamard="circ", transpose="T")

CASES = [
    ("hadamard product is odot", sp.HadamardProduct(a3 - y, apply_entrywise(sigmoid_prime, z3)), SUPER,
     r"\left(a^{(3)} - Y\right) \odot \sigma'(z^{(3)})"),
    ("hadamard product can be circ", sp.HadamardProduct(a3, z3), SUB_CIRC_T, r"a_{3} \circ z_{3}"),
    ("transpose merges with the layer superscript", delta3 * W2.T, SUPER, r"\delta^{(3)} W^{(2)\top}"),
    ("transpose as T with subscript layers", delta3 * W2.T, SUB_CIRC_T, r"\delta_{3} W_{2}^{T}"),
    ("transpose of X", X.T * delta2, SUPER, r"X^{\top} \delta^{(2)}"),
    ("transpose of a product gets parentheses", sp.Transpose(delta3 * W2.T), SUPER,
     r"\left(\delta^{(3)} W^{(2)\top}\right)^{\top}"),
    ("hidden delta of seed 000", sp.HadamardProduct(delta3 * W2.T, apply_entrywise(sigmoid_prime, z2)), SUPER,
     r"\left(\delta^{(3)} W^{(2)\top}\right) \odot \sigma'(z^{(2)})"),
    ("generic f prime", apply_entrywise(f_prime, z2), SUPER, r"f'(z^{(2)})"),
    ("tanh prime", apply_entrywise(tanh_prime, z2), SUPER, r"\tanh'(z^{(2)})"),
    ("sigmoid of an entry", sigmoid(sp.Symbol("z2_0_1")), SUPER, r"\sigma(z^{(2)}_{01})"),
    ("entry symbol of a weight", sp.Symbol("W1_0_2"), SUPER, r"W^{(1)}_{02}"),
    ("entry symbol with subscript layers", sp.Symbol("W1_0_2"), SUB_CIRC_T, r"W_{1,02}"),
    ("entry symbols of data", sp.Symbol("X_3_1") * sp.Symbol("y_0_0"), SUPER, r"x_{31} y_{00}"),
    ("delta entry", sp.Symbol("delta3_1_0"), SUPER, r"\delta^{(3)}_{10}"),
    ("difference written positive first", sp.Symbol("y_0_0") - sp.Symbol("a3_0_0"), SUPER,
     r"y_{00} - a^{(3)}_{00}"),
    ("bias unit weights without the bias row", W2[1:, :], SUPER, r"\bar{W}^{(2)}"),
    ("bias unit weights transposed", W2[1:, :].T, SUPER, r"\bar{W}^{(2)\top}"),
    ("ones and activations in a row", sp.BlockMatrix([[sp.OneMatrix(4, 1), a2]]), SUPER,
     r"\left[\mathbf{1},\ a^{(2)}\right]"),
    ("ones over activations in a column", sp.BlockMatrix([[sp.OneMatrix(1, 4)], [sp.MatrixSymbol("a2", 3, 4)]]),
     SUPER, r"\begin{bmatrix} \mathbf{1}^{\top} \\ a^{(2)} \end{bmatrix}"),
    ("a column of ones", sp.OneMatrix(4, 1), SUPER, r"\mathbf{1}"),
    ("ones transposed sum the examples", sp.OneMatrix(4, 1).T * delta3, SUPER, r"\mathbf{1}^{\top} \delta^{(3)}"),
    ("scalar coefficient first", sp.Rational(1, 4) * a3, SUPER, r"\frac{1}{4} a^{(3)}"),
    ("negative coefficient", -sp.Rational(1, 4) * a3, SUPER, r"- \frac{1}{4} a^{(3)}"),
    ("lambda over m times weights", sp.Symbol("lambda") / 4 * W1, SUPER, r"\frac{\lambda}{4} W^{(1)}"),
    ("entrywise formula of two matrices", EntrywiseMap(sp.Lambda((u, v), v / u), a3, y), SUPER,
     r"\left[\frac{y_{ij}}{a^{(3)}_{ij}}\right]_{ij}"),
    ("iverson bracket for the kronecker delta", sp.KroneckerDelta(*sp.symbols("n q", integer=True)), SUPER,
     r"[n = q]"),
    ("indexed sum one sigma per index", sp.Sum(sp.IndexedBase("delta")[sp.Symbol("n"), sp.Symbol("r")]
                                                * sp.IndexedBase("W")[sp.Symbol("j"), sp.Symbol("r")],
                                                (sp.Symbol("r"), 0, sp.Symbol("K") - 1)), SUPER,
     r"\sum_{r=0}^{K - 1} W_{jr} \delta_{nr}"),
]


@pytest.mark.parametrize("title, expression, notation, expected", CASES, ids=[c[0] for c in CASES])
def test_printer_fragment(title, expression, notation, expected):
    assert latex(expression, notation) == expected


def test_relabel_prints_a_general_layer():
    assert latex(delta3 * W2.T, relabel={3: "l+1", 2: "l"}) == r"\delta^{(l+1)} W^{(l)\top}"


def test_entrywise_activation_never_prints_a_lambda():
    text = latex(apply_entrywise(sigmoid_prime, z3))
    assert "mapsto" not in text and "Lambda" not in text
