"""The gradient checks of a circuit run: SymPy's derivative and central differences."""

# Two routes that share nothing with the backward pass: SymPy differentiates the whole expression
# and evaluates it at 30 significant digits at the exact point, and central differences run the
# float forward pass alone.

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import sympy as sp

from derive.circuits.circuit import CircuitError, CircuitRun, forward_pass, piece_choices

# SymPy evaluates at 30 significant digits, so its figure is the reference to float precision.
SYMPY_DIGITS = 30
# Float circuits of a few hundred gates lose a few digits of float64's 16 at most, unless they
# cancel badly; a wrong local gradient is off by order one. 1e-12 absolute lets an exact zero
# come out as a rounding residue.
SYMPY_RTOL = 1e-9
SYMPY_ATOL = 1e-12
# Central differences: the step h = FD_STEP * max(1, |x|) is about the cube root of float64's
# epsilon (6e-6), which balances the truncation error h^2 f'''/6 against the rounding error
# eps |f| / h (Numerical Recipes, section 5.7); both then sit near 1e-10 relative.
FD_STEP = 1e-5
FD_RTOL = 1e-6
# Rounding in f(x +- h) is at most about one epsilon per gate times the largest value seen.
FD_ROUNDING_PER_GATE = 4 * 2.0 ** -52


@dataclass(frozen=True)
class GradientCheck:
    """dL/d(name) by backprop, by SymPy's diff, and by central differences.

    Args:
        name: the input.
        backprop: the circuit's gradient.
        sympy_diff: SymPy's derivative of the whole expression at the point, or None if SymPy
            cannot evaluate it there.
        finite_difference: (f(x + h) - f(x - h)) / 2h with the float forward pass, or None if
            the forward pass fails at x +- h.
        status: "agree", "kink" (not differentiable at the point, or the stencil crosses a kink:
            a difference is expected), "disagree", or "unchecked" (neither route available).
        note: one sentence for the table.
    """

    name: str
    backprop: float
    sympy_diff: float | None
    finite_difference: float | None
    status: str
    note: str


@dataclass(frozen=True)
class CircuitCheck:
    """The checks of one run: the output value and every input's gradient.

    Args:
        output: the circuit's forward value.
        output_sympy: SymPy's value of the expression at the point.
        output_agrees: whether the two agree within SYMPY_RTOL.
        gradients: one GradientCheck per input, in the circuit's name order.
    """

    output: float
    output_sympy: float | None
    output_agrees: bool
    gradients: tuple[GradientCheck, ...]

    @property
    def passed(self) -> bool:
        """True when nothing disagrees (kinks are reported, not failed)."""
        return self.output_agrees and all(check.status in ("agree", "kink")
                                          for check in self.gradients)


def check_gradients(run: CircuitRun) -> CircuitCheck:
    """Checks the run's output and input gradients against SymPy and central differences.

    Args:
        run: a run from `run_circuit`.

    Returns:
        The verdicts, with every figure.

    >>> from derive.circuits.circuit import build_circuit, run_circuit
    >>> check_gradients(run_circuit(build_circuit("x * x"), {"x": 3})).passed
    True
    """
    circuit = run.circuit
    symbols = {name: sp.Symbol(name, real=True) for name in circuit.names}
    # The exact binary value of each float, so SymPy evaluates at the very point the circuit did.
    exact = {symbols[name]: sp.Rational(value) for name, value in run.point}
    expression = circuit.output.expression
    output_sympy = _evaluate(expression, exact)
    output_agrees = output_sympy is not None and _close(run.output_value, output_sympy)
    checks = tuple(_check_input(run, name, _derivative(expression, symbols[name], exact))
                   for name in circuit.names)
    return CircuitCheck(run.output_value, output_sympy, output_agrees, checks)


def _check_input(run: CircuitRun, name: str, reference: float | None) -> GradientCheck:
    gradient = run.gradient(name)
    point = dict(run.point)
    x = point[name]
    h = FD_STEP * max(1.0, abs(x))
    try:
        above = forward_pass(run.circuit, {**point, name: x + h})
        below = forward_pass(run.circuit, {**point, name: x - h})
    except CircuitError as error:
        finite, crosses, fd_note = None, False, f"no central difference ({error})"
    else:
        # Divide by the step the floats really took, not the step we asked for.
        finite = (above[-1] - below[-1]) / ((x + h) - (x - h))
        crosses = len({piece_choices(run.circuit, values)
                       for values in (above, run.values, below)}) > 1
        fd_note = ""
    sympy_ok = reference is not None and _close(gradient, reference)
    fd_ok = finite is not None and _fd_close(gradient, finite, run, above, below, h)
    if reference is None and finite is None:
        status, note = "unchecked", f"SymPy cannot evaluate the derivative here; {fd_note}"
    elif (reference is None or sympy_ok) and (finite is None or fd_ok):
        status, note = "agree", "backprop agrees with " + " and ".join(
            route for route, there in (("SymPy's diff", reference is not None),
                                       ("central differences", finite is not None)) if there)
    elif run.kinks or crosses:
        where = ", ".join(f"n{index} {run.circuit.nodes[index].text}" for index in run.kinks)
        status = "kink"
        note = (f"not differentiable at the point ({where}): backprop takes the stated "
                "subgradient, SymPy's Heaviside(0) = 1/2 and central differences average the "
                "one-sided slopes" if run.kinks else
                "the central-difference step crosses a kink, so its figure mixes two pieces")
    else:
        status, note = "disagree", "backprop disagrees with " + " and ".join(
            route for route, ok, there in (("SymPy's diff", sympy_ok, reference is not None),
                                           ("central differences", fd_ok, finite is not None))
            if there and not ok)
    if fd_note and status != "unchecked":
        note += f"; {fd_note}"
    return GradientCheck(name, gradient, reference, finite, status, note)


# mpmath's function for each SymPy head a derivative of our gates can contain.
_MPMATH = {sp.Add: lambda *a: mpmath.fsum(a), sp.Mul: lambda *a: mpmath.fprod(a),
           sp.Pow: lambda a, b: mpmath.power(a, b), sp.exp: mpmath.exp, sp.log: mpmath.log,
           sp.sin: mpmath.sin, sp.cos: mpmath.cos, sp.tanh: mpmath.tanh,
           sp.Max: lambda *a: max(a), sp.Min: lambda *a: min(a), sp.Abs: abs,
           sp.sign: mpmath.sign,
           # SymPy's Heaviside(0) is 1/2 unless a second argument says otherwise
           sp.Heaviside: lambda a, h0=0.5: mpmath.mpf(h0 if a == 0 else 1 if a > 0 else 0)}


def _derivative(expression: sp.Expr, symbol: sp.Symbol, exact: dict) -> float | None:
    try:
        return _evaluate(sp.diff(expression, symbol), exact)
    except RecursionError:  # the parser's depth limit keeps this away; the check must not crash
        return None


def _evaluate(expression: sp.Expr, exact: dict) -> float | None:
    """SymPy's expression at the point, to SYMPY_DIGITS digits, or None if not a real number.

    evalf(subs=...) walks the expression as a tree and takes seconds once a derivative of a
    dozen nested sigmoids repeats its sub-expressions; this walk evaluates each distinct
    sub-expression once, with mpmath at the same precision.
    """
    values: dict[sp.Basic, object] = {}
    with mpmath.workdps(SYMPY_DIGITS):
        stack = [expression]
        while stack:
            current = stack[-1]
            if current in values:
                stack.pop()
                continue
            if current.is_Rational:  # exact: 0, 1/2, -3 (evalf leaves 0 an Integer)
                values[current] = mpmath.mpf(current.p) / current.q
                stack.pop()
            elif not current.free_symbols:  # another constant: E, log(2), ...
                number = current.evalf(SYMPY_DIGITS + 5)
                if not isinstance(number, sp.Float):
                    return None  # zoo, nan, or a complex constant
                values[current] = mpmath.mpf(number._mpf_)
                stack.pop()
            elif current.is_Symbol:
                values[current] = mpmath.mpf(exact[current].p) / exact[current].q
                stack.pop()
            else:
                waiting = [arg for arg in current.args if arg not in values]
                if waiting:
                    stack.extend(waiting)
                    continue
                rule = _MPMATH.get(current.func)
                if rule is None:
                    return None  # a head the walk does not know: leave the verdict to the rest
                try:
                    values[current] = rule(*(values[arg] for arg in current.args))
                except (ValueError, ZeroDivisionError, TypeError):
                    return None
                stack.pop()
        value = values[expression]
    if isinstance(value, mpmath.mpc) or not mpmath.isfinite(value):
        return None  # e.g. a complex value, or an infinity
    value = float(value)
    return value if math.isfinite(value) else None  # finite in mpmath, past float's range


def _close(ours: float, reference: float) -> bool:
    return abs(ours - reference) <= SYMPY_RTOL * max(abs(ours), abs(reference)) + SYMPY_ATOL


def _fd_close(gradient: float, finite: float, run: CircuitRun, above: tuple[float, ...],
              below: tuple[float, ...], h: float) -> bool:
    largest = max(abs(value) for values in (above, below) for value in values)
    rounding = FD_ROUNDING_PER_GATE * len(run.circuit.nodes) * max(largest, 1.0) / h
    return abs(gradient - finite) <= FD_RTOL * max(abs(gradient), abs(finite)) + rounding
