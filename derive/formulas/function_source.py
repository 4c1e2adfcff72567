"""A function object made from generated source without running it (no exec)."""

from __future__ import annotations

import ast
import builtins
import linecache
import types


def define_function(source: str, filename: str, name: str, namespace: dict) -> types.FunctionType:
    """The function `name` defined in `source`, with `namespace` as its globals.

    The source is compiled, never executed: the function is built from its code object, so not
    even the `def` statement runs. Defaults and decorators would need the def to run, so they
    are refused. The source is registered with linecache under `filename`, so inspect.getsource
    (latexify reads it) and tracebacks find it.

    Raises:
        ValueError: no plain top-level function `name` in `source`.

    >>> double = define_function("def double(x):\\n    return 2 * x\\n", "<doc>", "double", {})
    >>> double(21)
    42
    """
    definitions = [node for node in ast.parse(source).body
                   if isinstance(node, ast.FunctionDef) and node.name == name]
    if not definitions:
        raise ValueError(f"no top-level function {name} in {filename}")
    arguments = definitions[0].args
    if definitions[0].decorator_list or arguments.defaults or any(arguments.kw_defaults):
        raise ValueError(f"{name} in {filename} has defaults or decorators, which only running it makes")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = compile(source, filename, "exec")
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    # C code that imports on first use (NumPy's keepdims sum imports numpy._core._methods) reads
    # __import__ from the calling function's globals, and raises KeyError without __builtins__
    namespace.setdefault("__builtins__", builtins)
    return types.FunctionType(code, namespace, name)
