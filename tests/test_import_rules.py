"""The house rules, read from the imports with `ast` (every import, at module level or inside a function).

- derive/ is the symbolic side: only its command-line shell, derive/cli/, may import checks/.
- The hand-written routes (checks/handwritten/ and each layer family's checks/*/reference.py) are
  independent of the derivation: NumPy and the standard library only.
- No two modules of ours import each other, directly or around a circle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("derive", "checks")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def our_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imports_of(path: Path, name: str) -> set[str]:
    """Every module `path` imports, absolute; `from package import module` counts as the module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return found


MODULES = our_modules()
GRAPH = {name: {imported for imported in imports_of(path, name) if imported in MODULES and imported != name}
         for name, path in MODULES.items()}


def _top(name: str) -> str:
    return name.split(".")[0]


def derive_reaching_into_checks() -> list[str]:
    return sorted(f"{name} imports {imported}" for name, path in MODULES.items()
                  if _top(name) == "derive" and not name.startswith("derive.cli")
                  for imported in imports_of(path, name) if _top(imported) == "checks")


def test_only_the_shell_of_derive_imports_checks():
    assert derive_reaching_into_checks() == []


HAND_WRITTEN = sorted(name for name in MODULES if name.startswith("checks.handwritten.")
                      or (name.startswith("checks.") and name.endswith(".reference")))


def foreign_imports(name: str) -> list[str]:
    """What a hand-written route imports besides NumPy, the standard library and other hand-written routes."""
    allowed = set(HAND_WRITTEN) | {"checks", "checks.handwritten"}
    return sorted(imported for imported in imports_of(MODULES[name], name)
                  if _top(imported) not in ("numpy", *sys.stdlib_module_names) and imported not in allowed)


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_a_hand_written_route_imports_only_numpy(name):
    assert foreign_imports(name) == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of `graph`: each strongly connected group of more than one module (Tarjan)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # a package's __init__ re-exporting its modules is not a circle: `import derive.x` runs
    # derive/__init__ first by Python's rules, whoever imports whom
    return {name: {imported for imported in targets if not name.startswith(imported + ".")}
            for name, targets in graph.items()}


def test_no_module_of_ours_imports_itself_around_a_circle():
    assert cycles(_package_edges(GRAPH)) == []


# --- each checker can fail ----------------------------------------------------------------------

def test_the_cycle_finder_finds_a_planted_circle():
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(planted) == [["a", "b", "c"]]


def test_the_shell_rule_sees_an_import_hidden_inside_a_function(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from checks.routes import derived\n")
    assert "checks.routes.derived" in imports_of(planted, "derive.planted")


def test_a_relative_import_is_read_as_the_module_it_names(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("from ..routes import derived\n")
    assert "checks.routes.derived" in imports_of(planted, "checks.handwritten.planted")
