"""Functions made from generated source without running it (derive/formulas/function_source.py)."""

import subprocess
import sys

import pytest

from derive.formulas.function_source import define_function


def test_a_defined_function_runs_numpy_code_that_imports_on_first_use():
    # a fresh process: NumPy's keepdims sum imports numpy._core._methods on its first call, which
    # needs __builtins__ in the calling function's globals (the generated RNN backward did this)
    program = ("import numpy as np\n"
               "from derive.formulas.function_source import define_function\n"
               "f = define_function('def f(a):\\n    return a.sum(axis=0, keepdims=True)\\n', '<t>', 'f', {})\n"
               "print(f(np.ones((2, 3))).shape)\n")
    run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(1, 3)"


def test_a_function_with_defaults_is_refused_because_only_running_the_def_makes_them():
    with pytest.raises(ValueError, match="defaults"):
        define_function("def f(x=1):\n    return x\n", "<t>", "f", {})


def test_the_source_is_never_run():
    source = "open('/nonexistent-folder/ran', 'w')\n\ndef f():\n    return 1\n"  # would raise if run
    assert define_function(source, "<t>", "f", {})() == 1
