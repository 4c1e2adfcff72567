"""A person's Python file, imported so that one of its functions can be checked.

Importing runs the file's top-level code, as `import` does; every failure of it is one line.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Callable

_MODULE_NAME = re.compile(r"[^A-Za-z0-9_]")


def load_function(target: str) -> tuple[Callable, str]:
    """Imports FILE.py and returns (its FUNCTION, "FILE.py:FUNCTION").

    FUNCTION may be OBJECT.METHOD, an object the file creates and one of its methods (Welch Labs'
    NN.costFunctionPrime): bound to it, the method may take (X, y) only and read its weights from
    the object, where verify sets them before each call.

    Importing runs the file's top-level code, as `import` does; nothing else of it runs here.

    Raises:
        ValueError: not FILE.py:FUNCTION, no such file, a file that does not import, or no such
            function in it.
    """
    path_text, colon, name = target.rpartition(":")
    if not colon or not path_text or not name:
        raise ValueError(f"expected FILE.py:FUNCTION, got {target!r}")
    if not all(part.isidentifier() for part in name.split(".")):
        raise ValueError(f"{name!r} is not a Python function name, or OBJECT.METHOD (in {target!r})")
    path = Path(path_text)
    if path.suffix != ".py":
        raise ValueError(f"{path} is not a .py file; expected FILE.py:FUNCTION")
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    module_name = "backprop_user_" + _MODULE_NAME.sub("_", str(path.resolve().with_suffix("")))[-60:]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling in the file look themselves up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(module_name, None)
        raise ValueError(f"{path} does not parse: line {error.lineno}: {error.msg}") from None
    except (Exception, SystemExit) as error:  # the user's top-level code: report, do not crash
        sys.modules.pop(module_name, None)
        raise ValueError(f"importing {path} raised {type(error).__name__}: {error}") from None
    function = module
    for part in name.split("."):  # OBJECT.METHOD: a bound method of an object the file creates
        function = getattr(function, part, None)
    if function is None:
        defined = sorted(n for n, v in vars(module).items()
                         if inspect.isfunction(v) and v.__module__ == module_name)
        raise ValueError(f"{path} has no function {name!r}; functions defined there: "
                         f"{', '.join(defined) or 'none'}")
    if not callable(function):
        raise ValueError(f"{path}:{name} is a {type(function).__name__}, not a function")
    return function, f"{path}:{name}"
