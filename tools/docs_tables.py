"""MkDocs hook: tables of the docs that are generated from the code, so they cannot go stale.

A page asks for a table with a marker on a line of its own:

- `<!-- table: kinds -->` (Concepts): every public class of each kind of module, found by
  walking `pinnkit`'s exports for subclasses of the kind's abstract base;
- `<!-- table: api-pages -->` (API reference index): each API page and the names it documents,
  read from its `::: name` lines.

`tests/test_docs.py` calls these functions and checks that no public name is missing.
"""

import inspect
import re
from pathlib import Path
from typing import Any


DOCS = Path(__file__).resolve().parent.parent / "docs"

# (kind, the abstract bases whose public subclasses it lists, what it answers)
KINDS = (
    ("Network", ("AbstractNetwork",), "$u_\\theta(x)$ or $u_\\theta(t, x)$ at one point"),
    (
        "Operator",
        ("AbstractOperator", "AbstractPDE", "AbstractParabolicPDE"),
        "*which* derivatives of $u$ a PDE needs; a PDE maps them to a residual; a parabolic "
        "spec gives $\\mu$, $\\sigma$, $f$ and $g$",
    ),
    ("Estimator", ("AbstractEstimator",), "*how* to compute those derivatives"),
    ("Sampler", ("AbstractSampler",), "the collocation points (and times) of a step"),
    ("Domain", ("AbstractDomain",), "where the points lie; samplers draw from a domain"),
    ("Loss", ("AbstractLoss",), "the scalar to minimise, from named terms"),
    (
        "Discretization",
        ("AbstractDiscretization",),
        "space for the method of lines (time stepping without a network)",
    ),
)

_MARKER = re.compile(r"^<!-- table: ([a-z-]+) -->$", flags=re.MULTILINE)


def _link(name: str) -> str:
    return f"[`{name}`][pinnkit.{name}]"


def kind_members() -> dict[str, list[str]]:
    """Each kind's public names: its abstract bases first, then their concrete subclasses."""
    import pinnkit

    exported = [
        (name, obj)
        for name, obj in ((n, getattr(pinnkit, n)) for n in dir(pinnkit))
        if not name.startswith("_") and inspect.isclass(obj)
    ]
    members = {}
    for kind, base_names, _ in KINDS:
        bases = tuple(getattr(pinnkit, name) for name in base_names)
        concrete = [
            name
            for name, obj in exported
            if issubclass(obj, bases) and name not in base_names and not name.startswith("Abstract")
        ]
        abstract = [
            name for name, obj in exported if name.startswith("Abstract") and issubclass(obj, bases)
        ]
        members[kind] = abstract + concrete
    return members


def kinds_table() -> str:
    members = kind_members()
    rows = ["| kind | answers | public classes |", "|---|---|---|"]
    for kind, _, answers in KINDS:
        rows.append(f"| **{kind}** | {answers} | {', '.join(map(_link, members[kind]))} |")
    return "\n".join(rows)


def api_pages(nav: list[Any] | None = None) -> list[tuple[str, str, list[str]]]:
    """(title, file name, documented names) of each API page, in the order of the nav."""
    pages = []
    for title, path in _api_nav(nav):
        text = (DOCS / path).read_text()
        names = re.findall(r"^::: (pinnkit(?:\.problems)?\.\w+)\s*$", text, flags=re.MULTILINE)
        if names:
            pages.append((title, Path(path).name, names))
    return pages


def _api_nav(nav: list[Any] | None) -> list[tuple[str, str]]:
    if nav is None:
        return [(p.stem, f"api/{p.name}") for p in sorted((DOCS / "api").glob("*.md"))]
    found = []
    for entry in nav:
        if isinstance(entry, dict):
            for title, value in entry.items():
                if isinstance(value, list):
                    found += _api_nav(value)
                elif isinstance(value, str) and value.startswith("api/"):
                    found.append((title, value))
    return found


def api_pages_table(nav: list[Any] | None = None) -> str:
    rows = ["| page | contents |", "|---|---|"]
    for title, file_name, names in api_pages(nav):
        short = ", ".join(f"`{name.removeprefix('pinnkit.')}`" for name in names)
        rows.append(f"| [{title}]({file_name}) | {short} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    del page, files

    def table(match: re.Match) -> str:
        name = match.group(1)
        if name == "kinds":
            return kinds_table()
        if name == "api-pages":
            return api_pages_table(config["nav"])
        raise ValueError(f"unknown generated table {name!r}: kinds, api-pages")

    return _MARKER.sub(table, markdown)
