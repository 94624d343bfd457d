"""The package's shape: no import cycle (run time, TYPE_CHECKING, functions), short modules.

Every import statement of every module of ``src/ollama_anyio`` (outside ``testing/``, the
emulator, which sits above the client) is an edge, wherever it stands; ``__init__.py`` only
re-exports, and its lazy table is not an import. The graph must be acyclic.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "ollama_anyio"
OUTSIDE = ("testing",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).parts
        if relative[0] in OUTSIDE or relative[0].startswith(OUTSIDE):
            continue
        found[_module_name(path)] = path
    return found


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The names an import statement imports: modules, or the package a name comes from."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    # ``from . import _x`` imports the module ``_x``; ``from ._x import Y`` imports ``_x``.
    return [f"{target}.{alias.name}" for alias in node.names] + [target]


def import_graph() -> dict[str, set[str]]:
    """Every module's imports within the package, wherever the import statement stands.

    Importing ``a.b.c`` runs ``a.b`` too, so each package on the way is an edge, except the
    root: it runs before any of its modules whatever they import, and an edge to it is counted
    only when a module imports the root by name (``import ollama_anyio``).
    """
    modules = _modules()
    root = PACKAGE.name
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = _targets(name, path, node)
            if isinstance(node, ast.ImportFrom):
                # the package itself only when a name imported from it is not a module
                submodules = [t for t in targets[:-1] if t in modules]
                if len(submodules) == len(targets) - 1:
                    targets = submodules
            for target in targets:
                parts = target.split(".")
                if parts[0] != root:
                    continue
                if target == root:
                    graph[name].add(root)
                for end in range(2, len(parts) + 1):
                    prefix = ".".join(parts[:end])
                    # (a package this module is in runs before it: not an edge)
                    if prefix in modules and not f"{name}.".startswith(f"{prefix}."):
                        graph[name].add(prefix)
    graph[root].discard(root)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_walk_sees_imports_in_functions_and_type_checking_blocks() -> None:
    graph = import_graph()
    # _async_client imports _endpoints at the top; the test must see a known edge at all.
    assert "ollama_anyio._endpoints" in graph["ollama_anyio._async_client"]
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


MAX_LINES = 800


def test_no_hand_written_module_is_over_800_lines() -> None:
    """Short modules (generated ones, ``_generated_*.py``, are written by a script)."""
    long = {
        str(path.relative_to(PACKAGE)): count
        for path in PACKAGE.rglob("*.py")
        if not path.name.startswith("_generated_")
        and (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long
