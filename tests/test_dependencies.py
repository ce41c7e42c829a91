"""Every package that pinnkit imports is declared in pyproject.toml, not merely pulled in."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent


def _imported_top_levels(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return names


def _third_party(names: set[str]) -> set[str]:
    local = {"pinnkit", "helpers", "internals", "conftest"} | {
        p.stem for p in (ROOT / "tools").glob("*.py")
    }
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


def _distribution(module: str) -> str:
    distributions = importlib.metadata.packages_distributions().get(module)
    assert distributions, f"{module} is imported but no installed distribution provides it"
    return _normalise(distributions[0])


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    return {_normalise(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}


def test_the_walk_sees_known_imports():
    # Guard the guard: if the walk found nothing, the checks below would pass vacuously.
    found = _third_party(_imported_top_levels(ROOT / "pinnkit"))
    assert {"jax", "equinox", "scipy", "optimistix"} <= found


def test_package_imports_are_declared():
    imported = {_distribution(m) for m in _third_party(_imported_top_levels(ROOT / "pinnkit"))}
    undeclared = sorted(imported - _declared())
    assert not undeclared, f"add to [project] dependencies in pyproject.toml: {undeclared}"


def test_test_and_example_imports_are_declared():
    modules = set()
    for folder in ("tests", "examples", "docs", "tools"):
        modules |= _third_party(_imported_top_levels(ROOT / folder))
    imported = {_distribution(m) for m in modules}
    undeclared = sorted(imported - _declared("test", "docs"))
    assert not undeclared, f"add to pyproject.toml (dependencies or the test extra): {undeclared}"
