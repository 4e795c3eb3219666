"""No import circle anywhere in the Lambda layer (layers/core/rostersync), and the layer never
imports the tools.

Every import counts, also those inside functions: an import moved into a function to dodge a
circle at load time is still a circle between the modules' jobs. Imports only a type checker
runs (`if TYPE_CHECKING:`) or only a script entry runs (`if __name__ == "__main__":`) do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYER = Path(__file__).resolve().parents[2] / "layers" / "core"
PACKAGE = "rostersync"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LAYER).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((LAYER / PACKAGE).rglob("*.py"))}


def _skipped(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` and `if __name__ == "__main__":` blocks."""
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _import_nodes(tree: ast.AST):
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _skipped(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The layer's modules `name` imports (a `from package import module` names the module)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for target in targets:
            while target and target not in modules:  # import a.b.c where only a.b is a module of ours
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] == PACKAGE and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return groups


def test_the_checker_finds_a_circle_and_reads_relative_imports():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "rostersync.oneroster.records" in graph["rostersync.oneroster.client"]  # from .records import ...
    assert "rostersync.api.sis_reads" in graph["rostersync.api.sync_config"]


def test_no_import_circle_in_the_layer():
    found = circles(import_graph())
    assert found == [], "import circles in the layer:\n" + "\n".join(" <-> ".join(group) for group in found)


def test_routers_import_no_other_router():
    graph = import_graph()
    routers = {
        name for name, path in _modules().items() if "APIGatewayHttpRouter()" in path.read_text(encoding="utf-8")
    }
    assert len(routers) >= 10
    reaching = {name: sorted(graph[name] & routers) for name in routers if graph[name] & routers}
    assert reaching == {}


@pytest.mark.parametrize("name", sorted(_modules()))
def test_the_layer_never_imports_the_tools(name):
    source = _modules()[name].read_text(encoding="utf-8")
    assert "rostersync_tools" not in {
        node.module.split(".")[0]
        for node in _import_nodes(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name.split(".")[0]
        for node in _import_nodes(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }


def test_only_the_api_imports_the_api():
    """The HTTP API sits on the domain: audit, store, sync and the rest never import it (issue 24:
    audit.record_event was the one arrow back up; api/audit_trail.py holds it now)."""
    upward = {
        (name, target)
        for name, targets in import_graph().items()
        if not name.startswith(f"{PACKAGE}.api")
        for target in targets
        if target.startswith(f"{PACKAGE}.api")
    }
    assert upward == set()
