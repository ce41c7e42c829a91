"""The documentation covers every public name, its estimator table is true, and it builds."""

import html
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import pytest

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
        exported = getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"]
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
    "ParabolicStructure", "BSDEPaths", "PathScales",
}  # fmt: skip


def test_kinds_table_lists_every_public_class():
    listed = {name for names in docs_tables.kind_members().values() for name in names}
    classes = {n for n in dir(pk) if inspect.isclass(getattr(pk, n)) and not n.startswith("_")}
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
    "Drift": [pk.Drift(lambda x: x)],
    "StateDiffusion": [
        pk.StateDiffusion(lambda x: 1.0 + 0.0 * x[0], "scalar"),
        pk.StateDiffusion(lambda x: x, "diagonal"),
        pk.StateDiffusion(lambda x: jnp.outer(x, x[:2]), "dense"),
    ],
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
        for name, obj in ((n, getattr(pk, n)) for n in dir(pk))
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


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built once for the tests below; the build itself must print no warning."""
    destination = tmp_path_factory.mktemp("docs") / "site"
    # No -q: quiet mode hides warnings from mkdocs' strict counter. Any warning fails.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(destination)],
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
    return destination


def _page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text()


def _text(html_text: str) -> str:
    """The text of some HTML, tags removed and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def test_mkdocs_build_strict(site):
    api = _page(site, "api/solvers")
    assert 'id="pinnkit.PINNSolver"' in api
    # The hook ran: the generated tables are on the built pages, markers gone.
    concepts = _page(site, "concepts")
    assert "TerminalLoss" in concepts and "table: kinds" not in concepts
    index = _page(site, "api")
    assert "TerminalLoss" in index and "table: api-pages" not in index


# An address on another host: `https://...`, `http://...` or protocol-relative `//...`.
_OUTSIDE = r"(?:https?:)?//[^\s\"'<>]+"
_LOADS = (
    re.compile(rf"<script\b[^>]*\bsrc=[\"']({_OUTSIDE})", flags=re.IGNORECASE),
    re.compile(rf"<link\b[^>]*\bhref=[\"']({_OUTSIDE})", flags=re.IGNORECASE),
    re.compile(rf"<(?:img|iframe|source)\b[^>]*\bsrc=[\"']({_OUTSIDE})", flags=re.IGNORECASE),
    re.compile(rf"@import\s+(?:url\()?[\"']?({_OUTSIDE})", flags=re.IGNORECASE),
    re.compile(rf"url\([\"']?({_OUTSIDE})", flags=re.IGNORECASE),
)


def outside_loads(site: Path) -> list[str]:
    """Every script, stylesheet, font or image that a built page or stylesheet would fetch
    from another host (a CDN), as `file: address`."""
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix not in {".html", ".css"}:
            continue
        text = path.read_text(errors="replace")
        for pattern in _LOADS:
            found += [f"{path.relative_to(site)}: {url}" for url in pattern.findall(text)]
    return found


def test_outside_loads_finds_a_cdn(tmp_path):
    # Guard the guard: a CDN script, stylesheet and font are each found; links are not.
    (tmp_path / "index.html").write_text(
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.com/css">'
        '<a href="https://example.org/paper">a paper</a><script src="assets/local.js"></script>'
    )
    (tmp_path / "extra.css").write_text('@font-face { src: url("https://cdn.example.org/f.woff") }')
    assert outside_loads(tmp_path) == [
        "extra.css: https://cdn.example.org/f.woff",
        "index.html: https://cdn.example.org/mathjax.js",
        "index.html: //fonts.example.com/css",
    ]


def test_site_loads_nothing_from_other_hosts(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    found = outside_loads(site)
    assert not found, "the site fetches these from other hosts (ship them with the build):\n" + (
        "\n".join(found)
    )
    # The renderer the pages load is in the site itself.
    assert 'src="../assets/vendor/mathjax/tex-svg-full.js"' in _page(site, "math")
    assert (site / "assets" / "vendor" / "mathjax" / "tex-svg-full.js").stat().st_size > 10**6
    assert (site / "assets" / "vendor" / "mathjax" / "LICENSE").is_file()


def test_data_pages_are_linked():
    # Notes and tables under docs/data/ are outside the nav: a page must link each one.
    pages = [p for p in DOCS.rglob("*.md") if "data" not in p.relative_to(DOCS).parts[:1]]
    text = "\n".join(p.read_text() for p in pages)
    notes = sorted((DOCS / "data").rglob("*.md"))
    assert notes
    unlinked = [str(n.relative_to(DOCS)) for n in notes if f"({n.relative_to(DOCS)}" not in text]
    assert not unlinked, f"pages under docs/data/ that no page links to: {unlinked}"


def test_diagrams_are_drawn_at_build_time(site):
    concepts = _page(site, "concepts")
    diagrams = re.findall(r'<div class="diagram"[^>]*>(.*?)</div>', concepts, flags=re.DOTALL)
    assert len(diagrams) == 1 and diagrams[0].startswith("<svg")
    assert "PINNSolver" in _text(diagrams[0])  # its labels are text in the drawing
    assert "flowchart" not in _text(concepts) and "mermaid" not in concepts.lower()


def _signature(page: str, name: str) -> str:
    """The separate signature shown under the API heading of `name`."""
    start = page.index(f'id="{name}"')
    match = re.search(r'<div class="doc-signature[^"]*">(.*?)</div>', page[start:], re.DOTALL)
    assert match, f"no signature for {name}"
    return " ".join(_text(match.group(1)).split())


def test_api_pages_show_constructor_signatures(site):
    estimators = _page(site, "api/estimators")
    assert _signature(estimators, "pinnkit.SDGD") == "SDGD(num_samples: int = 16)"
    assert _signature(estimators, "pinnkit.STDE").startswith("STDE( num_samples: int = 16,")
    solvers = _page(site, "api/solvers")
    assert "learning_rate: float = 0.001" in _signature(solvers, "pinnkit.PINNSolver")
    assert "steps: int = 10000" in _signature(_page(site, "api/runs"), "pinnkit.RunConfig")
    # Formatted: a long signature is broken over lines, one parameter a line.
    solve = re.search(
        r'id="pinnkit.PINNSolver.solve".*?<div class="doc-signature[^"]*">(.*?)</div>',
        solvers,
        flags=re.DOTALL,
    )
    assert solve and _text(solve.group(1)).count("\n") > 5


def test_api_pages_list_enumeration_items(site):
    solvers = _page(site, "api/solvers")
    items = re.findall(r"^    (\w+) = ", inspect.getsource(pk.RESULTS), flags=re.MULTILINE)
    assert {"successful", "nonfinite_loss"} <= set(items)
    for item in items:
        assert f'id="pinnkit.RESULTS.{item}"' in solvers, item
    assert "every requested step was completed" in solvers


def test_api_pages_show_no_private_names(site):
    found = []
    for path in sorted((site / "api").rglob("index.html")):
        page = path.read_text()
        shown = " ".join(
            _text(code)
            for code in re.findall(r'<div class="doc-signature[^"]*">(.*?)</div>', page, re.DOTALL)
        )
        shown += " " + " ".join(re.findall(r'id="(pinnkit[\w.]*)"', page))
        found += [
            f"{path.parent.name}: {name}" for name in re.findall(r"(?<![\w\"'])_[a-z]\w*", shown)
        ]
        found += [f"{path.parent.name}: {name}" for name in re.findall(r"\._[a-z]\w*", shown)]
    assert not found, f"private names on the API pages: {sorted(set(found))}"
