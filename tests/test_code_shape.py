"""The shape of the code itself: no import cycles, no module importing the top-level package, no
function over 120 lines. Static checks (``ast``), so they run in a fraction of a second and catch a
regression the day it is written rather than the day it bites."""

from __future__ import annotations

import ast
import functools
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


@functools.lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    """The parsed module (parsed once per test session)."""
    return ast.parse(path.read_text())


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
        for module, what, line in _imports(_tree(path), name, is_package):
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


#: Adapters beside the CLI that call the public API only (nothing inside geosr imports them).
FRONT_ENDS = ("geosr.napari",)


def test_no_module_inside_the_package_imports_the_top_level_package():
    """``geosr/__init__`` re-exports every stage; a stage importing it goes round in a circle
    (take ``__version__`` from ``geosr.core.version``). Front ends (:data:`FRONT_ENDS`) may."""
    offenders = []
    for name, (path, is_package) in _modules().items():
        if name == PACKAGE or name.startswith(FRONT_ENDS):
            continue
        for module, what, line in _imports(_tree(path), name, is_package):
            if module == PACKAGE:
                offenders.append(f"{path.relative_to(SRC)}:{line} imports {PACKAGE}"
                                 + (f" ({what})" if what else ""))
    assert not offenders, "\n".join(offenders)


# ----------------------------------------------------------------- one helper, not copies of it
#: helper -> the module that holds it
HELPERS = {
    "strict pydantic base (_Strict)": "geosr/core/config.py",
    "seed resolution (drawing a seed from entropy)": "geosr/core/seeding.py",
    "one value or one per axis": "geosr/core/per_axis.py",
    "image files of a folder": "geosr/io/files.py",
}


def _is_name(node: ast.AST, *names: str) -> bool:
    return (isinstance(node, ast.Name) and node.id in names) or (
        isinstance(node, ast.Attribute) and node.attr in names)


def _repeat_or_tuple(node: ast.IfExp) -> bool:
    """``(v,) * n if … else tuple(…)`` (either way round) with ``v`` not a constant, or
    ``v[0] if len(v) == 1 else tuple(v)``."""
    branches = (node.body, node.orelse)
    repeat = any(isinstance(b, ast.BinOp) and isinstance(b.op, ast.Mult)
                 and isinstance(b.left, ast.Tuple) and len(b.left.elts) == 1
                 and not isinstance(b.left.elts[0], ast.Constant) for b in branches)
    collapse = (isinstance(node.test, ast.Compare) and isinstance(node.test.left, ast.Call)
                and _is_name(node.test.left.func, "len") and isinstance(node.body, ast.Subscript)
                and isinstance(node.test.left.args[0], ast.Name))   # not len(set(v)): a record
    to_tuple = any(isinstance(b, ast.Call) and _is_name(b.func, "tuple", "list")
                   for b in branches)
    return (repeat or collapse) and to_tuple


def helper_copies(tree: ast.Module) -> list[tuple[str, int]]:
    """(helper, line) for each place ``tree`` redoes a shared helper's job."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
                isinstance(k, ast.keyword) and k.arg == "extra"
                and isinstance(k.value, ast.Constant) and k.value.value == "forbid"
                for call in ast.walk(node) if isinstance(call, ast.Call)
                for k in call.keywords):
            found.append(("strict pydantic base (_Strict)", node.lineno))
        elif isinstance(node, ast.Attribute) and node.attr == "entropy":
            found.append(("seed resolution (drawing a seed from entropy)", node.lineno))
        elif isinstance(node, ast.IfExp) and _repeat_or_tuple(node):
            found.append(("one value or one per axis", node.lineno))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            calls = {sub.func.attr if isinstance(sub.func, ast.Attribute) else
                     getattr(sub.func, "id", "") for sub in ast.walk(node)
                     if isinstance(sub, ast.Call)}
            if "supported_formats" in calls and calls & {"iterdir", "glob", "endswith"}:
                found.append(("image files of a folder", node.lineno))
    return found


def test_the_copy_finder_recognises_each_helper_job():
    source = '''
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
def a(seed):
    return int(np.random.SeedSequence().entropy % 2**63)
def b(value, dims):
    return (value,) * dims if np.ndim(value) == 0 else tuple(value)
def c(values):
    return values[0] if len(values) == 1 else tuple(values)
def d(folder):
    exts = tuple(supported_formats())
    return [p for p in folder.iterdir() if p.name.endswith(exts)]
def fine(dims):
    return (1,) * dims if dims else tuple()
'''
    kinds = [kind for kind, _ in helper_copies(ast.parse(source))]
    assert sorted(kinds) == sorted([*HELPERS, "one value or one per axis"])


def test_no_copy_of_a_shared_helper_remains_in_src():
    copies = []
    for name, (path, _) in _modules().items():
        rel = path.relative_to(SRC).as_posix()
        copies += [f"{rel}:{line}: {kind} (use {HELPERS[kind]})"
                   for kind, line in helper_copies(_tree(path)) if HELPERS[kind] != rel]
    assert not copies, "\n".join(copies)


# ------------------------------------------------------------------------------ long functions
MAX_FUNCTION_LINES = 120


def long_functions(limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """``"path:qualified name" → lines`` (docstring included, decorators not) of every
    function or method in ``src/geosr`` longer than ``limit`` lines."""
    out = {}
    for name, (path, _) in _modules().items():
        tree = _tree(path)
        stack: list[tuple[ast.AST, str]] = [(tree, "")]
        while stack:
            node, prefix = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    qual = f"{prefix}{child.name}"
                    if not isinstance(child, ast.ClassDef):
                        lines = child.end_lineno - child.lineno + 1
                        if lines > limit:
                            out[f"{path.relative_to(SRC).as_posix()}:{qual}"] = lines
                    stack.append((child, qual + "."))
    return out


def test_the_length_finder_measures_functions_and_methods():
    found = long_functions(limit=0)
    assert found["geosr/core/per_axis.py:per_axis"] > 20
    assert any(key.startswith("geosr/core/registry.py:Registry.") for key in found)


def test_no_function_over_120_lines_in_src():
    long = long_functions()
    over = [f"{key}: {n} lines" for key, n in sorted(long.items())]
    assert not over, "split these into named steps:\n" + "\n".join(over)
