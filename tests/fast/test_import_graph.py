"""The packages of skene_cdc form no import cycle: a newcomer can draw them as layers (errors,
config, db, sql at the bottom; listener, handlers, streams, freemium, billing in the middle;
runtime wiring them; cli on top). An import inside a function counts (it is a dependency all the
same); one under `if TYPE_CHECKING:` does not (it never runs)."""

from __future__ import annotations

import ast
from itertools import pairwise
from pathlib import Path

import skene_cdc

ROOT = Path(skene_cdc.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(path: Path) -> list[tuple[str, int]]:
    """(module imported, line) for every import that can run."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.extend((f"{target}.{a.name}", node.lineno) for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def _package(module: str) -> str:
    """skene_cdc.handlers.loops.plan -> skene_cdc.handlers; top-level modules are their own."""
    return ".".join(module.split(".")[:2])


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package -> package it imports -> where ("module:line")."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        source = _module(path)
        for target, line in _imported(path):
            if not target.startswith("skene_cdc."):
                continue
            a, b = _package(source), _package(target)
            if a != b:
                graph.setdefault(a, {}).setdefault(b, []).append(f"{source}:{line}")
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    cycle = find_cycle(graph)
    if cycle:
        steps = [f"{a} -> {b} ({', '.join(graph[a][b][:3])})" for a, b in pairwise(cycle)]
        raise AssertionError("import cycle between packages:\n  " + "\n  ".join(steps))


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {}, "c": {"a": [], "b": []}}) is None


def test_the_graph_sees_lazy_imports_and_skips_type_checking(tmp_path: Path) -> None:
    assert "skene_cdc.cli" in package_graph()  # cli imports commands inside functions too
    lazy = [t for t, _ in _imported(ROOT / "listener" / "consumer.py")]
    assert "skene_cdc.migrations.users_watch.UsersWatch" not in lazy  # TYPE_CHECKING only


def test_listener_is_capture_only() -> None:
    """listener/ captures and hands events on; it wires nothing (runtime/ does)."""
    graph = package_graph()
    uses = set(graph.get("skene_cdc.listener", {}))
    assert not uses & {"skene_cdc.runtime", "skene_cdc.freemium", "skene_cdc.streams",
                       "skene_cdc.cli", "skene_cdc.migrations"}, uses
    assert not any("skene_cdc.runtime" in graph.get(p, {}) for p in graph
                   if p not in ("skene_cdc.cli", "skene_cdc.demo")), "only cli/demo use runtime"


# docs/architecture.md's picture, bottom first: a package imports only from its own layer or the
# ones before it (within a layer, the cycle test above still applies).
LAYERS = [
    {"errors", "sql", "config", "db", "progress", "asgi", "__version__"},
    {"service", "checks"},
    {"streams"},
    {"handlers"},
    {"freemium", "billing"},
    {"listener"},
    {"migrations"},
    {"inspect", "status", "report", "backfill"},
    {"runtime"},
    {"web", "demo"},
    {"cli", "__main__"},
]


def test_imports_follow_the_layers_of_the_architecture_picture() -> None:
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    graph = package_graph()
    packages = {p.removeprefix("skene_cdc.") for p in graph} | {
        b.removeprefix("skene_cdc.") for targets in graph.values() for b in targets}
    assert packages <= set(layer), f"add to LAYERS (and the picture): {packages - set(layer)}"
    up = [f"{a} -> {b} ({', '.join(where[:2])})" for a, targets in graph.items()
          for b, where in targets.items()
          if layer[b.removeprefix("skene_cdc.")] > layer[a.removeprefix("skene_cdc.")]]
    assert not up, "imports up the layers:\n  " + "\n  ".join(up)
