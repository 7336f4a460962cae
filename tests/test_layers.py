"""The project's layers, read from its import statements (function-level imports included).

Data flows one way: the catalog (zoo) never imports the builder or the dashboard, and no two project modules
import each other, directly or round a longer loop. An edge is the module an import statement names: `from
a.b import c` names a.b.c when that is a module, else a.b (importing a.b.c also runs the packages a and a.b,
whose __init__ modules only gather their children).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "builder", "dashboard")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    modules = {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    modules["app"] = ROOT / "app.py"
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules its import statements name."""
    modules = project_modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    targets.add(child if child in modules else node.module)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index, lowlink, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                lowlink[node] = min(lowlink[node], lowlink[target])
            elif target in on_stack:
                lowlink[node] = min(lowlink[node], index[target])
        if lowlink[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


GRAPH = import_graph()


def test_the_graph_sees_every_layer():
    assert {"zoo.cli", "zoo.plan", "builder.network.model", "builder.hf.config", "builder.bench.runner"} <= set(GRAPH)
    assert "zoo.plan" in GRAPH["builder.network.model"] and "zoo.errors" in GRAPH["zoo.catalog"]


@pytest.mark.parametrize("layer, forbidden", [("zoo", ("builder", "dashboard")), ("builder", ("dashboard",))])
def test_lower_layers_never_import_higher_ones(layer, forbidden):
    leaks = sorted(f"{module} imports {target}" for module, targets in GRAPH.items() if module.split(".")[0] == layer
                   for target in targets if target.split(".")[0] in forbidden)
    assert leaks == []


def test_no_import_cycles():
    assert import_cycles(GRAPH) == []


def test_a_cycle_is_found_when_there_is_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({**graph, "c": set()}) == []
