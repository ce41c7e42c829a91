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


TESTS = Path(__file__).resolve().parent
READS_THE_PACKAGE = {"internals.py", "test_imports.py"}
"""Test files allowed past the public names: the one helper for internals, and this file,
which names the package's modules to read their imports."""


def _private(dotted: str) -> bool:
    parts = dotted.split(".")
    return parts[0] == "pinnkit" and any(p.startswith("_") and p[:2] != "__" for p in parts[1:])


def private_reaches(source: str) -> list[str]:
    """What a test source takes from pinnkit past its public names: private modules, private
    names, and dotted strings naming them (as `monkeypatch.setattr("pinnkit._x.y", ...)`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _private(alias.name)]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pinnkit":
            module = node.module or ""
            found += [module] if _private(module) else []
            found += [f"{module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            dotted = node.value.strip()
            if " " not in dotted and _private(dotted):
                found.append(dotted)
    return found


def test_tests_reach_internals_only_through_one_helper():
    """Tests use public names; the internals they need come from `tests/internals.py`."""
    reaches = {
        path.name: private_reaches(path.read_text())
        for path in sorted(TESTS.glob("*.py"))
        if path.name not in READS_THE_PACKAGE
    }
    offenders = {name: found for name, found in reaches.items() if found}
    assert not offenders, f"import these through tests/internals.py instead: {offenders}"
    # The check finds what it is for.
    planted = 'from pinnkit._solver.pinn import _make_run\nmonkeypatch.setattr("pinnkit._run.x", 1)'
    assert private_reaches(planted) == [
        "pinnkit._solver.pinn",
        "pinnkit._solver.pinn._make_run",
        "pinnkit._run.x",
    ]
    assert private_reaches("from pinnkit import MLP\nfrom pinnkit.problems import PROBLEMS") == []
