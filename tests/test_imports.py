"""The package's import graph: no module imports another in a circle, and the lower layers
(`_types`, `_taylor`, `_domain`) never import the higher ones.

Every import counts, at module level or inside a function, since an import inside a function
is how a circle is usually hidden.
"""

import ast
from pathlib import Path


PACKAGE = Path(__file__).resolve().parent.parent / "pinnkit"
LOWER = {
    "pinnkit._types": set(),
    "pinnkit._taylor": {"pinnkit._types"},
    "pinnkit._domain": {"pinnkit._types"},
}
"""Each lower layer and the other pinnkit modules it may import."""


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """For each module, the package modules it imports (a name imported from a package
    counts as the submodule when there is one, else as the package)."""
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_package():
    graph = import_graph(_modules())
    # Guard the guard: known edges are found, and a planted circle is detected.
    assert (
        "pinnkit._run.run" in graph["pinnkit.cli"] or "pinnkit._run.config" in graph["pinnkit.cli"]
    )
    assert "pinnkit._estimator.base" in graph["pinnkit._estimator.registry"]
    planted = {**graph, "pinnkit._types": graph["pinnkit._types"] | {"pinnkit.cli"}}
    assert any("pinnkit._types" in component for component in cycles(planted))


def test_no_import_circles():
    found = cycles(import_graph(_modules()))
    assert not found, f"modules that import each other in a circle: {found}"


def test_lower_layers_import_no_higher_ones():
    modules = _modules()
    graph = import_graph(modules)
    wrong = []
    for name, targets in graph.items():
        layer = next(
            (lower for lower in LOWER if name == lower or name.startswith(lower + ".")), None
        )
        if layer is None:
            continue
        for target in targets:
            inside = target == layer or target.startswith(layer + ".")
            allowed = any(target == a or target.startswith(a + ".") for a in LOWER[layer])
            if not (inside or allowed):
                wrong.append(f"{name} imports {target}")
    assert not wrong, wrong
