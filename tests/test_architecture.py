"""The house rules, checked on the source: which layer may import which, no import cycles, and
modules short enough to read top to bottom.

The import graph is read statically (every ``import`` statement, at any depth, including
``TYPE_CHECKING`` blocks and imports inside functions), so a lazy import cannot hide a wrong
dependency.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("dt_platform", "assets", "app")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, Path]:
    found = {}
    for package in FIRST_PARTY:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """``(imported name, line)``: ``a.b`` for ``import a.b``; for ``from a import b`` the module
    ``a.b`` when it exists, else ``a``."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if candidate in modules() else base), node.lineno


@functools.cache
def graph() -> dict[str, set[str]]:
    """First-party module → the first-party modules it imports."""
    edges: dict[str, set[str]] = {}
    for name, path in modules().items():
        edges[name] = {imp for imp, _ in _imports(path) if imp in modules()}
    return edges


def _third_party(name: str) -> set[str]:
    return {imp.split(".")[0] for imp, _ in _imports(modules()[name])}


def _is_cli(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return leaf == "cli" or leaf.endswith("_cli") or leaf.startswith("cli_")


def _reachable(start: str) -> set[str]:
    """Every first-party module importing ``start`` loads: its imports, transitively, and the
    packages above each of them (Python runs a package's ``__init__`` before its modules)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parents = [name.rsplit(".", i)[0] for i in range(1, name.count(".") + 1)]
        todo.extend(p for p in parents if p in modules())
        todo.extend(graph()[name])
    return seen


def test_the_graph_sees_the_whole_code() -> None:
    names = modules()
    assert {"dt_platform.config", "assets.definitions", "app.streamlit_app"} <= set(names)
    assert len(names) > 80
    assert "dt_platform.config" in graph()["assets.definitions"]


def test_the_library_imports_no_wiring_and_no_faces() -> None:
    offenders = []
    for name, path in modules().items():
        if not name.startswith("dt_platform"):
            continue
        forbidden = {"dagster", "streamlit", "assets", "app"}
        if not _is_cli(name):
            forbidden.add("click")
        for imported, line in _imports(path):
            if imported.split(".")[0] in forbidden:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert not offenders, "\n".join(offenders)


def test_the_faces_import_no_cli_and_pages_load_no_model_code() -> None:
    offenders = []
    for name in modules():
        if not name.startswith("app"):
            continue
        if "click" in _third_party(name):
            offenders.append(f"{name} imports click")
        for used in _reachable(name):
            if _is_cli(used):
                offenders.append(f"{name} reaches the CLI module {used}")
            if "xgboost" in _third_party(used):
                offenders.append(f"{name} reaches {used}, which loads XGBoost")
    assert not offenders, "\n".join(sorted(set(offenders)))


def test_the_wiring_is_where_dagster_looks_for_it() -> None:
    workspace = (ROOT / "workspace.yaml").read_text()
    assert "module_name: assets.definitions" in workspace
    assert "dagster" in _third_party("assets.definitions")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles(graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "d"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    edges["d"] = {"e"}
    edges["e"] = {"d"}
    assert sorted(_cycles(edges)) == [["a", "b", "c"], ["d", "e"]]


def test_modules_and_functions_stay_short() -> None:
    long = []
    for path in modules().values():
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n") + 1
        if lines > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length}")
    assert not long, "find the seam and split:\n" + "\n".join(long)
