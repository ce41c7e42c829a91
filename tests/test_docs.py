"""The documentation covers every public name, its estimator table is true, and it builds."""

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp

import pinnkit as pk
import pinnkit.problems


ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "tools"))
import docs_tables  # noqa: E402  (the mkdocs hook that generates tables from the code)


def _api_entries() -> set[str]:
    text = "\n".join(path.read_text() for path in sorted((DOCS / "api").glob("*.md")))
    return set(re.findall(r"^::: (pinnkit(?:\.problems)?\.\w+)\s*$", text, flags=re.MULTILINE))


def _public_names() -> list[str]:
    """Classes and functions defined in pinnkit and exported by `pinnkit` or `pinnkit.problems`."""
    names = []
    for prefix, module in (("pinnkit", pk), ("pinnkit.problems", pinnkit.problems)):
        exported = getattr(module, "__all__", None) or [n for n in vars(module) if n[0] != "_"]
        for name in exported:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            defined_here = getattr(obj, "__module__", "") or ""
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and defined_here.startswith(
                "pinnkit"
            ):
                names.append(f"{prefix}.{name}")
    return names


def test_public_names_found():
    names = _public_names()
    # Guard the guard: the walk must see the core names, or the next test proves nothing.
    for expected in ("pinnkit.PINNSolver", "pinnkit.AbstractPDE", "pinnkit.problems.Problem"):
        assert expected in names


def test_every_public_name_has_an_api_entry():
    entries = _api_entries()
    missing = sorted(set(_public_names()) - entries)
    assert not missing, (
        "public names without an API entry; add a `::: NAME` line to a page in docs/api/: "
        + ", ".join(missing)
    )


def test_api_entries_name_real_objects():
    stale = []
    for entry in sorted(_api_entries()):
        module, _, name = entry.rpartition(".")
        if not hasattr(sys.modules[module], name):
            stale.append(entry)
    assert not stale, f"docs/api entries for names that pinnkit no longer exports: {stale}"


# Public classes that are not modules of a kind: pipelines, their results, batches, errors.
_NOT_A_KIND = {
    "PINNSolver", "Solution", "RESULTS", "TestSet", "CheckpointError", "MethodOfLines",
    "MOLSolution", "NeuralGalerkin", "GalerkinSolution", "FeynmanKacValue", "CollocationBatch",
    "TargetBatch", "WeightedBatch", "GradientBatch", "SliceBatch", "UnitBallDistance",
    "AbstractTaylorMode", "AbstractSolution", "SolveError", "RunConfig", "RunResult",
}  # fmt: skip


def test_kinds_table_lists_every_public_class():
    listed = {name for names in docs_tables.kind_members().values() for name in names}
    classes = {n for n, obj in vars(pk).items() if inspect.isclass(obj) and not n.startswith("_")}
    # Guard the guard: the classes the issue found missing are there.
    assert {"TerminalLoss", "TimeDerivative", "Brownian", "SpaceTimePDE"} <= listed
    unplaced = sorted(classes - listed - _NOT_A_KIND)
    assert not unplaced, f"public classes in no kind of tools/docs_tables.KINDS: {unplaced}"
    table = docs_tables.kinds_table()
    assert all(f"[pinnkit.{name}]" in table for name in listed)


def test_api_index_lists_every_api_entry():
    table = docs_tables.api_pages_table()
    for name in _api_entries():
        assert f"`{name.removeprefix('pinnkit.')}`" in table, name


def test_generated_tables_are_requested():
    assert "<!-- table: kinds -->" in (DOCS / "concepts.md").read_text()
    assert "<!-- table: api-pages -->" in (DOCS / "api" / "index.md").read_text()


_OPERATORS = {
    "Value": [pk.Value()],
    "Gradient": [pk.Gradient()],
    "Laplacian": [pk.Laplacian()],
    "Diffusion": [pk.Diffusion(jnp.eye(3))],
    "Partial": [pk.Partial((0, 0)), pk.Partial((0, 1))],
    "Diagonal": [pk.Diagonal(2), pk.Diagonal(3)],
    "Biharmonic": [pk.Biharmonic()],
    "TimeDerivative": [pk.TimeDerivative()],
    "SpatialLaplacian": [pk.SpatialLaplacian(2), pk.SpatialLaplacian(3)],
}
# Compositions of other operators: supported exactly when their parts are.
_COMPOSITE_OPERATORS = {"Scaled", "Sum"}


def _support_table() -> tuple[list[str], dict[str, list[str]]]:
    lines = (DOCS / "estimators.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| CLI name | `Value`"))
    header = [c.strip().strip("`") for c in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return header[1:], rows


def test_estimator_support_table_has_every_operator():
    columns, _ = _support_table()
    operators = {
        name
        for name, obj in vars(pk).items()
        if inspect.isclass(obj)
        and issubclass(obj, pk.AbstractOperator)
        and not name.startswith("Abstract")
    }
    assert {"TimeDerivative", "SpatialLaplacian"} <= operators
    missing = sorted(operators - _COMPOSITE_OPERATORS - set(columns))
    assert not missing, f"docs/estimators.md support table has no column for {missing}"


def test_estimator_support_table_matches_code():
    columns, rows = _support_table()
    assert set(rows) == set(pk.ESTIMATORS), "docs/estimators.md must list every estimator"
    wrong = []
    for name, cells in rows.items():
        estimator = pk.make_estimator(name)
        for column, cell in zip(columns, cells, strict=True):
            supported = [estimator.supports(op) for op in _OPERATORS[column]]
            if cell.startswith("✓"):  # "✓" or "✓ (a remark)": every instance
                ok = all(supported)
            elif cell == "—":
                ok = not any(supported)
            else:  # a partial entry such as "order 2 only"
                ok = any(supported) and not all(supported)
            if not ok:
                wrong.append(f"{name}/{column}: table says {cell!r}, supports() says {supported}")
    assert not wrong, "docs/estimators.md support table is out of date:\n" + "\n".join(wrong)


def test_mkdocs_build_strict(tmp_path):
    # No -q: quiet mode hides warnings from mkdocs' strict counter. Any warning fails.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert not warnings, "\n".join(warnings)
    api = (tmp_path / "site" / "api" / "solvers" / "index.html").read_text()
    assert 'id="pinnkit.PINNSolver"' in api
    # The hook ran: the generated tables are on the built pages, markers gone.
    concepts = (tmp_path / "site" / "concepts" / "index.html").read_text()
    assert "TerminalLoss" in concepts and "table: kinds" not in concepts
    index = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "TerminalLoss" in index and "table: api-pages" not in index
