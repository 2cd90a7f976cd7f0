"""The shape of the code itself: no import cycles, no module importing the top-level package, no
function over 120 lines. Static checks (``ast``), so they run in a fraction of a second and catch a
regression the day it is written rather than the day it bites."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "geosr"


# ----------------------------------------------------------------------------- the import graph
def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``) for every module under ``src/geosr``."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If)
            and ((isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
                 or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")))


def _imports(tree: ast.Module, name: str, is_package: bool) -> list[tuple[str, str | None, int]]:
    """Every import in a module, at any depth (inside functions too: a late import still forms a
    cycle, it only hides it until run time), except under ``if TYPE_CHECKING:``.
    Returns (module, imported name or None, line)."""
    package = name if is_package else name.rpartition(".")[0]
    found = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking(node):
            stack.extend(getattr(node, "orelse", []))
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            found += [(module, alias.name, node.lineno) for alias in node.names]
        stack.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported geosr module: line}. ``from pkg import sub`` counts as an import of the
    submodule ``pkg.sub`` when ``sub`` is one, else of ``pkg`` itself. The implicit import of a
    parent package (``import a.b`` runs ``a/__init__``) is not an edge: every submodule would
    otherwise form a cycle with an ``__init__`` that re-exports it."""
    modules = _modules()
    graph: dict[str, dict[str, int]] = {}
    for name, (path, is_package) in modules.items():
        edges: dict[str, int] = {}
        for module, what, line in _imports(ast.parse(path.read_text()), name, is_package):
            if module.split(".")[0] != PACKAGE:
                continue
            target = f"{module}.{what}" if what and f"{module}.{what}" in modules else module
            if target in modules and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _describe(component: list[str], graph: dict[str, dict[str, int]]) -> str:
    members = set(component)
    edges = [f"  {a} -> {b} (line {line})" for a in component
             for b, line in sorted(graph[a].items()) if b in members]
    return "\n".join([" <-> ".join(component), *edges])


def test_the_cycle_finder_finds_a_cycle_and_only_cycles():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}, "e": {}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b": 1}, "b": {}, "c": {"b": 1}}) == []


def test_the_import_graph_sees_late_relative_and_package_imports():
    graph = import_graph()
    assert len(graph) > 100
    # a module-level import, and one inside a function (geosr.io is imported late by the data sources)
    assert "geosr.core.errors" in graph["geosr.data.paired_sources"]
    assert "geosr.io" in graph["geosr.data.paired_sources"]
    # ``from geosr.core import errors`` style and re-exporting package __init__ files
    assert "geosr.core.errors" in graph["geosr.core"]


def test_there_is_no_import_cycle_in_src():
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, ("import cycles (move what both sides need into a base module both import):\n"
                        + "\n".join(_describe(c, graph) for c in cycles))


def test_no_module_inside_the_package_imports_the_top_level_package():
    """``geosr/__init__`` re-exports every stage; a stage importing it goes round in a circle
    (take ``__version__`` from ``geosr.core.version``)."""
    offenders = []
    for name, (path, is_package) in _modules().items():
        if name == PACKAGE:
            continue
        for module, what, line in _imports(ast.parse(path.read_text()), name, is_package):
            if module == PACKAGE:
                offenders.append(f"{path.relative_to(SRC)}:{line} imports {PACKAGE}"
                                 + (f" ({what})" if what else ""))
    assert not offenders, "\n".join(offenders)
