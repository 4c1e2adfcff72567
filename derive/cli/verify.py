"""`backprop verify` and `backprop verify-formula`: a person's backprop code or formula, checked."""

# derive/ does not need checks/ except here: these subcommands are the bridge between the
# derivation and the numeric side, and import checks only when they run.

from __future__ import annotations

import argparse
from pathlib import Path

from checks.diagnose.user_code import load_function  # noqa: F401 (the layer families load through here)
from derive.cli.spec_options import add_spec_options, spec_from_args

EXIT_OK = 0
EXIT_FAILED_CHECK = 1  # the same codes as derive/cli.py


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `verify` and `verify-formula` subcommands."""
    verify = subparsers.add_parser(
        "verify", help="check a hand-written backprop function against the derived gradients",
        description="Calls FILE.py:FUNCTION as fn(X, y, W1, [b1,] W2, ...) with arrays in the spec's "
                    "convention, at the spec's own data (seed 000's XOR data for a 2-n-1 net with m = 4) "
                    "and at seeded random points, and compares what it returns with the derived "
                    "gradients; when they differ, names the catalogue mistakes that reproduce its "
                    "numbers. The file is imported to find the function, so its top-level code runs "
                    "as it would under `import`; only import files you trust. Exit 0: agrees; "
                    "1: disagrees; 2: bad input (the file, the function or its outputs do not fit; a function "
                    "that raises, calls sys.exit or runs past --timeout; inputs too large for float64).")
    verify.add_argument("target", metavar="FILE.py:FUNCTION", help="the file and the function in it")
    verify.add_argument("--returns", default=None,
                        help="what the function returns: gradients (dJ/dW1, [dJ/db1,] dJ/dW2, ... in that "
                             "order, default), deltas, cost, a name (W1, delta2) or an entry (W2[0,0]); "
                             "several comma-separated, returned in that order (with --unrolled: "
                             "cost,gradients, the default, gradients or cost)")
    verify.add_argument("--points", type=int, default=3, help="seeded random points (default 3)")
    verify.add_argument("--seed", type=int, default=0, help="random point k uses seed SEED + k (default 0)")
    verify.add_argument("--tolerance", type=float, default=None,
                        help="relative to each output's scale, from 1e-15 to 1e-3 (default 1e-9; see "
                             "checks/diagnose/user_function.py)")
    verify.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="how long each call of the function may take before verify gives up with "
                             "exit 2 (default 30; POSIX main thread only, see the README)")
    verify.add_argument("--l2-convention", default=None, metavar="NAME",
                        help="the L2 penalty the code writes, with --l2 as its lambda: half-mean (ng, "
                             "nielsen: lambda/(2m) sum W^2), half (welch: (lambda/2) sum W^2), full "
                             "(cs231n: lambda sum W^2), full-mean ((lambda/m) sum W^2); +biases to "
                             "penalize the biases too (default: the spec's, (lambda/2) sum W^2, divided "
                             "by m for a mean)")
    verify.add_argument("--labels", type=int, choices=(0, 1), default=None, metavar="FIRST",
                        help="pass y as integer class labels counted from FIRST (0: cs231n, 1: Ng's "
                             "ex4) instead of one-hot targets")
    verify.add_argument("--per-example", action="store_true",
                        help="the function takes one example (x, y) and the tool sums its outputs over "
                             "the batch (Nielsen's backprop(x, y))")
    verify.add_argument("--names", default=None, metavar="USER=OURS,...",
                        help="the user's parameter names: Theta1=W1,Theta2=W2 or weights[0]=W1,"
                             "biases[0]=b1; for returned dict keys and a bound method's attributes")
    verify.add_argument("--unrolled", type=str.upper, choices=("F", "C"), default=None, metavar="F|C",
                        help="call the function as Ng's ex4 nnCostFunction(nn_params, input_layer_size, "
                             "hidden_layer_size, num_labels, X, y, lambda): nn_params = [Theta1(:); Theta2(:)] "
                             "unrolled in F order (MATLAB's (:), np.reshape(..., order='F')) or C order "
                             "(NumPy's ravel() and reshape), X with one example per row, lambda = --l2; its "
                             "(J, grad) is read with grad split back the same way. Needs one hidden layer, "
                             "--bias unit and --convention column (y: --labels 1 for Ng's labels)")
    verify.add_argument("--intermediates", nargs="?", const="", default=None, metavar="USER=OURS,...",
                        help="line by line: the function also exposes intermediates (a dict returned as its "
                             "last value, or checks.diagnose.intermediates.record(...)) named as the derived "
                             "program names them, z2, a2, ..., delta3, delta2 (or map yours: d3=delta3,d2=delta2); "
                             "each is compared in the order of the forward then the backward pass, and the "
                             "first wrong one is named")
    verify.add_argument("--data", default=None, metavar="FILE",
                        help="a JSON data file {\"X\": ..., \"y\": ...} (checks/inputs/param_files.py) "
                             "to evaluate at, instead of the spec's own data; its m is the batch size")
    verify.add_argument("--params", default=None, metavar="FILE",
                        help="a JSON parameter file {\"W1\": ..., ...} for the --data point "
                             "(default: seeded random weights)")
    add_spec_options(verify)
    verify.set_defaults(handler=run_verify)

    formula = subparsers.add_parser(
        "verify-formula", help="check a NumPy-like or LaTeX formula, or a write-up's formulas, for a delta or gradient",
        description="Parses FORMULA safely (Python's ast with a whitelist; nothing is run) over the "
                    "network's names: X, y, yhat, W1 (or Theta1), b1, z2, a2, delta2, ..., m, l2; functions "
                    "sigmoid, tanh, relu, identity, f and their _prime, exp, log, ones(rows, columns); @ is the "
                    "matrix product, * / + - ** act entry by entry; NumPy's np.dot, a.dot(b), .transpose(), "
                    "np.multiply, np.sum(..., axis=0, keepdims=True), W2[:, 1:] and hstack([a, b]) are read as "
                    "the operators they name. --latex reads LaTeX instead (\\delta^{(2)}, W^{(2)\\top}, \\odot, "
                    "\\sigma'(z^{(2)}), \\frac{\\partial J}{\\partial W^{(1)}}, ...; see the README), refusing "
                    "what it cannot read with the character position; --file checks every displayed formula of a "
                    "Markdown or LaTeX write-up that defines a delta or a gradient, with its line number. "
                    "Compares each entry by entry with the derived formula (symbolically, for every f) and "
                    "exactly modulo a prime at random points. Exit 0: equal; 1: different (a wrong shape, "
                    "shapes that do not fit, or a formula of the file not read, included); 2: bad input.")
    formula.add_argument("formula", nargs="?", help='e.g. "delta3 @ W2.T * sigmoid_prime(z2)"')
    formula.add_argument("--latex", metavar="LATEX",
                         help=r"a LaTeX formula, e.g. \delta^{(2)} = \left(\delta^{(3)} W^{(2)\top}\right) "
                              r"\odot \sigma'(z^{(2)}); its left side says what it is (or --for)")
    formula.add_argument("--file", metavar="DOCUMENT",
                         help="a Markdown (.md) or LaTeX (.tex) write-up: every displayed formula defining a "
                              "delta or a gradient is checked against the derivation of the spec given")
    formula.add_argument("--for", dest="target", metavar="QUANTITY",
                         help="what the formula claims to be: delta2, W1 (or dJ_dW1), b1, dJ_dyhat, ... "
                              "(needed for FORMULA; for --latex when it has no left side)")
    add_spec_options(formula)
    formula.set_defaults(handler=run_verify_formula)


def run_verify(args: argparse.Namespace) -> int:
    """Runs `backprop verify`: 0 when every output agrees, 1 when one does not.

    Raises:
        ValueError: a bad spec, --returns, file or function; a function that does not fit the
            contract (ContractError), raises, exits or runs past --timeout; a bad --tolerance or
            --timeout; inputs whose values overflow float64 (NotFinite).
    """
    from checks.diagnose.l2_conventions import l2_convention
    from checks.diagnose.contract import (DEFAULT_TIMEOUT, VERDICT_TOLERANCE, CallingForm, Unrolled, check_timeout,
                                          check_tolerance, contract, parse_names)
    from checks.diagnose.user_function import verify_function

    spec = spec_from_args(args)
    if args.l2_convention is not None:
        l2_convention(args.l2_convention)  # a bad name is reported before the user's file runs
    from checks.diagnose.intermediates import parse_aliases

    shown = None if args.intermediates is None else parse_aliases(args.intermediates)
    if shown is not None and args.per_example:
        raise ValueError("--intermediates needs the whole batch in one call: not with --per-example")
    if args.unrolled is not None and args.per_example:
        raise ValueError("--unrolled calls the function with the whole batch: not with --per-example")
    unrolled = None if args.unrolled is None else Unrolled(args.unrolled, spec.l2)
    returns = args.returns or ("cost,gradients" if unrolled is not None else "gradients")
    form = CallingForm(labels=args.labels, per_example=args.per_example, names=parse_names(args.names),
                       intermediates=shown, unrolled=unrolled)
    data, spec = _data_points(args, spec)
    contract(spec, returns, unrolled)  # a bad --returns or --unrolled is reported before the user's file runs
    try:  # bad options are reported before the user's file runs, too
        tolerance = check_tolerance(VERDICT_TOLERANCE if args.tolerance is None else args.tolerance)
        timeout = check_timeout(DEFAULT_TIMEOUT if args.timeout is None else args.timeout)
    except ValueError as error:
        flag = "--tolerance" if "tolerance" in str(error) else "--timeout"
        raise ValueError(f"{flag}: {error}") from None
    fn, label = load_function(args.target)
    verdict = verify_function(fn, spec, returns, points=args.points, seed=args.seed, data=data,
                              tolerance=tolerance, name=label, timeout=timeout,
                              l2_convention=args.l2_convention, form=form)
    print(verdict.text())
    return EXIT_OK if verdict.passed else EXIT_FAILED_CHECK


def _data_points(args: argparse.Namespace, spec):
    """The --data point (with --params or seeded weights), and the spec with the file's m.

    Raises:
        ValueError: --params without --data; a file that does not fit the spec (ParameterFileError).
    """
    if args.data is None:
        if args.params is not None:
            raise ValueError("--params needs --data: the parameters are used at the data file's examples")
        return (), spec
    from dataclasses import replace

    from checks.inputs.data import random_params
    from checks.inputs.param_files import read_data, read_params
    from checks.diagnose.calling import Point

    X, y = read_data(args.data, spec)
    m = X.shape[0] if spec.convention == "row" else X.shape[1]
    spec = replace(spec, m=m)
    params = read_params(args.params, spec) if args.params is not None else random_params(spec, args.seed)
    label = f"{args.data}" + (f" with {args.params}" if args.params else f" with weights from seed {args.seed}")
    return (Point(label, X, y, params),), spec


def run_verify_formula(args: argparse.Namespace) -> int:
    """Runs `backprop verify-formula`: 0 when the formula (every one, for --file) equals the derived
    one, 1 when not.

    Raises:
        ValueError: a bad spec, quantity or document; not exactly one of FORMULA, --latex and
            --file; FormulaError for a formula outside the grammar (LatexError with its position).
    """
    given = [name for name, value in (("FORMULA", args.formula), ("--latex", args.latex), ("--file", args.file))
             if value is not None]
    if len(given) != 1:
        raise ValueError("give one of FORMULA, --latex LATEX and --file DOCUMENT" +
                         (f" (got {' and '.join(given)})" if given else ""))
    spec = spec_from_args(args)
    if args.file is not None:
        from checks.diagnose.formula_document import check_document, read_document

        if args.target is not None:
            raise ValueError("--for does not apply to --file: each formula's left side says what it is")
        path = Path(args.file)
        report = check_document(read_document(path), path.suffix, spec, str(path))
        if not report.results:
            raise ValueError(f"{path}: no displayed formula defines a delta or a gradient")
        print(report.text())
        return EXIT_OK if report.passed else EXIT_FAILED_CHECK
    if args.latex is not None:
        from checks.diagnose.formula_document import check_latex

        verdicts = check_latex(args.latex, args.target, spec)
        print("\n\n".join(("" if layer is None else f"for l = {layer}:\n") + verdict.text()
                           for layer, verdict in verdicts))
        return EXIT_OK if all(verdict.passed for _, verdict in verdicts) else EXIT_FAILED_CHECK
    from checks.diagnose.user_formula import check_formula

    if args.target is None:
        raise ValueError("--for QUANTITY is needed with a NumPy formula (delta2, W1, b1, dJ_dyhat, ...)")
    verdict = check_formula(args.formula, args.target, spec)
    print(verdict.text())
    return EXIT_OK if verdict.passed else EXIT_FAILED_CHECK
