"""The engine never imports streamlit, never unpickles, and its imports form no cycle and keep the
layers apart (models never import an inspection area; the registry never loads the models): checked
on the source itself."""
import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_engine_does_not_import_streamlit():
    files = sorted(ENGINE.rglob("*.py"))
    assert len(files) > 10
    offenders = [str(f.relative_to(ENGINE.parent)) for f in files if "streamlit" in _imports(f)]
    assert offenders == []


def test_torch_load_always_weights_only():
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "load" \
                    and getattr(node.func.value, "id", None) == "torch":
                kwargs = {k.arg: k.value for k in node.keywords}
                assert "weights_only" in kwargs and kwargs["weights_only"].value is True, path


# ---- the engine's import graph -------------------------------------------------------------------
# Nodes are the engine's modules ("engine.core.registry"; a package is its __init__: "engine.models").
# Every import statement that can run counts, at module level and inside functions alike: a
# function-level import still loads the module when the function runs, so a cycle through one is a
# cycle all the same (it only fails later, or not at all by luck of import order). Imports under
# `if TYPE_CHECKING:` never run and do not count.

INSPECTION_AREAS = ("saliency", "attention", "latent", "embeddings", "training")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _engine_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ENGINE.rglob("*.py"))}


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(node: ast.AST):
    """The node if it is an import, else every import inside it, less those under `if TYPE_CHECKING:`."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
        return
    skip_body = isinstance(node, ast.If) and _is_type_checking(node.test)
    for child in (node.orelse if skip_body else ast.iter_child_nodes(node)):
        yield from _runtime_imports(child)


def _imported_modules(name: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """{engine module this module imports: line of the first such import}.

    `from X import y` names module X.y where y is a submodule, else X. Importing engine.a.b also runs
    the __init__ of each package around it that the importer is not itself inside (importing
    engine.models.cnn from the registry runs engine/models/__init__.py, which imports every model)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}
    for node in _runtime_imports(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..core import y
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        for target in targets:
            parts = target.split(".")
            for i in range(2, len(parts) + 1):  # engine.a, engine.a.b, ...: skip the bare "engine"
                module = ".".join(parts[:i])
                if module in modules and module != name and (module == target or not _in_package(name, module)):
                    found.setdefault(module, node.lineno)
    return found


def _import_graph() -> dict[str, dict[str, int]]:
    modules = _engine_modules()
    return {name: _imported_modules(name, path, modules) for name, path in modules.items()}


def _knots(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm): each module
    in one can reach every other, so every import cycle lies inside one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    knots: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                knots.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(knots, key=min)


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle per knot: the shortest one through its first module, as [a, b, ..., a]."""
    cycles = []
    for knot in _knots(graph):
        start = min(knot)
        inside = {name: {n: line for n, line in graph[name].items() if n in knot} for name in knot}
        cycles.append(_path_to(inside, start, lambda m: m == start, may_end_at_start=True))
    return cycles


def _describe(path: list[str], graph: dict[str, dict[str, int]]) -> str:
    """engine.a (line 3) -> engine.b (line 9) -> engine.a: each arrow's import line in its source."""
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(path, path[1:])) + f" -> {path[-1]}"


def _path_to(graph: dict[str, dict[str, int]], start: str, wanted,
             may_end_at_start: bool = False) -> list[str] | None:
    """The shortest import chain from start to a module for which wanted(name) holds (breadth-first),
    or None; with may_end_at_start, the chain may come back to start (a cycle)."""
    came_from: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node]):
            if wanted(nxt) and (nxt != start or may_end_at_start):
                path = [node]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])
                return path[::-1] + [nxt]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return None


def test_the_import_graph_sees_every_kind_of_import(tmp_path):
    """The graph builder itself: a function-level import counts, a TYPE_CHECKING one does not, a
    package's __init__ counts when imported from outside the package; and the cycle finder."""
    source = tmp_path / "probe.py"
    source.write_text("from typing import TYPE_CHECKING\n"
                      "import engine.core.params\n"
                      "if TYPE_CHECKING:\n"
                      "    from engine.core.runs import RunStore\n"
                      "else:\n"
                      "    from engine.core import jobs\n"
                      "def f():\n"
                      "    from engine.models.cnn import CNN\n")
    modules = _engine_modules()
    assert _imported_modules("engine.core.probe", source, modules) == {
        "engine.core.params": 2, "engine.core.jobs": 6, "engine.models": 8, "engine.models.cnn": 8}
    graph = _import_graph()
    assert len(graph) > 40 and set(graph["engine.models"]) >= {"engine.models.cnn", "engine.models.transformer"}
    assert "engine.models" not in graph["engine.models.cnn"]  # its own package is already loading

    assert _cycles({"a": {"b": 1}, "b": {}}) == []
    two = {"a": {"b": 1}, "b": {"a": 2}, "c": {"d": 3, "a": 4}, "d": {"e": 5}, "e": {"c": 6}}
    assert _cycles(two) == [["a", "b", "a"], ["c", "d", "e", "c"]]
    assert _describe(["a", "b", "a"], two) == "a (line 1) -> b (line 2) -> a"


def test_engine_has_no_import_cycles():
    graph = _import_graph()
    cycles = _cycles(graph)
    knots = "\n".join(f"  modules in one knot: {', '.join(sorted(knot))}" for knot in _knots(graph))
    assert cycles == [], ("import cycles in the engine (one per knot of modules that import each other):\n"
                          + "\n".join(_describe(c, graph) for c in cycles) + "\n" + knots)


def test_models_import_no_inspection_module():
    """A model module (engine/models/) never imports an inspection area: the inspections read models,
    never the other way round. Direct imports: a model reaches engine.core (the registry), and what
    core itself may import is the cycle test's business."""
    graph = _import_graph()
    models = [name for name in sorted(graph) if _in_package(name, "engine.models")]
    assert len(models) > 8
    offenders = [f"{name} (line {line}) -> {target}" for name in models for target, line in graph[name].items()
                 if any(_in_package(target, f"engine.{area}") for area in INSPECTION_AREAS)]
    assert offenders == [], "models that import an inspection module:\n" + "\n".join(offenders)


def test_registry_does_not_import_models():
    """Importing the registry never loads the models: whoever needs every model imports engine.models."""
    graph = _import_graph()
    chain = _path_to(graph, "engine.core.registry", lambda m: _in_package(m, "engine.models"))
    assert chain is None, "the registry reaches the models: " + _describe(chain, graph)
