"""The Python on the docs pages that teach by example runs, as one script per page.

Each page's ```python blocks are executed in order in one namespace, so later blocks may use
what earlier ones defined (as a reader running them top to bottom would). A line
`--8<-- "file.py:section"` is replaced by that section of `examples/file.py`, as
pymdownx.snippets does when the site is built.
"""

import re
from pathlib import Path

import jax
import pytest


ROOT = Path(__file__).resolve().parent.parent
PAGES = ["extending.md", "concepts.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)
SNIPPET = re.compile(r'^--8<-- "([\w.]+):(\w+)"$', flags=re.MULTILINE)


def _section(match: re.Match) -> str:
    file, name = match.groups()
    text = (ROOT / "examples" / file).read_text()
    start = text.index(f"# --8<-- [start:{name}]")
    end = text.index(f"# --8<-- [end:{name}]")
    body = text[start:end].split("\n", 1)[1]
    lines = body.splitlines()
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[indent:] for x in lines)


def page_code(page: str) -> list[str]:
    """The page's Python blocks, with snippet lines resolved."""
    text = (ROOT / "docs" / page).read_text()
    return [SNIPPET.sub(_section, block) for block in BLOCK.findall(text)]


def test_snippets_are_resolved():
    blocks = page_code("extending.md")
    assert any("class Poisson(pk.AbstractPDE)" in block for block in blocks)
    assert not any("--8<--" in block for block in blocks)


@pytest.mark.parametrize("page", PAGES)
def test_page_code_runs(page, monkeypatch):
    blocks = page_code(page)
    assert blocks, f"docs/{page} has no python blocks"
    namespace: dict = {"__name__": f"docs_{page.removesuffix('.md')}"}
    monkeypatch.setattr("sys.argv", ["docs"])
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"docs/{page}, python block {number}", "exec")
        with jax.default_device(jax.devices("cpu")[0]):
            exec(code, namespace)  # the page's own asserts check what its prose claims
