"""The Python on every guide page runs, as one script per page.

Each page's ```python blocks are executed in order in one namespace, so later blocks may use
what earlier ones defined (as a reader running them top to bottom would). A line
`--8<-- "file.py:section"` is replaced by that section of `examples/file.py`, as
pymdownx.snippets does when the site is built.

An HTML comment on the line just before a block (invisible on the site) changes how it runs:

- `<!-- fragment: REASON -->`: the block is not run; REASON says why (it continues the
  prose's own names, needs several hosts, ...). A fragment without a reason fails.
- `<!-- smaller: "OLD" -> "NEW", ... -->`: the block runs with each OLD replaced by NEW, so
  that a full-size run shown to the reader is tested at a size that takes seconds. Each OLD
  must occur in the block.
"""

import re
import sys
from pathlib import Path

import jax
import pytest


ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Every guide page: the top level of docs/ (the API pages are generated from docstrings).
GUIDES = sorted(p.name for p in DOCS.glob("*.md"))
# Pages whose blocks are not run yet, and why. Keep this empty.
NOT_RUN: dict[str, str] = {}
BLOCK = re.compile(
    r"^(?:<!-- (?P<kind>fragment|smaller):(?P<how>.*?)-->\n)?```python\n(?P<code>.*?)^```",
    flags=re.MULTILINE | re.DOTALL,
)
SNIPPET = re.compile(r'^--8<-- "([\w.]+):(\w+)"$', flags=re.MULTILINE)
SUBSTITUTION = re.compile(r'"([^"]+)"\s*->\s*"([^"]*)"')


def _section(match: re.Match) -> str:
    file, name = match.groups()
    text = (ROOT / "examples" / file).read_text()
    start = text.index(f"# --8<-- [start:{name}]")
    end = text.index(f"# --8<-- [end:{name}]")
    body = text[start:end].split("\n", 1)[1]
    lines = body.splitlines()
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[indent:] for x in lines)


def page_blocks(page: str) -> list[tuple[str, str, str]]:
    """(kind, how, code) of each Python block of the page, snippet lines resolved; kind is
    "" for a block that runs as written."""
    text = (DOCS / page).read_text()
    return [
        (m["kind"] or "", (m["how"] or "").strip(), SNIPPET.sub(_section, m["code"]))
        for m in BLOCK.finditer(text)
    ]


def runnable_code(page: str) -> list[str]:
    """The code the test runs for the page: fragments left out, `smaller` applied."""
    code = []
    for number, (kind, how, block) in enumerate(page_blocks(page), 1):
        where = f"docs/{page}, python block {number}"
        if kind == "fragment":
            assert how, f"{where}: a fragment must say why it does not run"
            continue
        if kind == "smaller":
            substitutions = SUBSTITUTION.findall(how)
            assert substitutions, f'{where}: write `smaller: "OLD" -> "NEW", ...`'
            for old, new in substitutions:
                assert old in block, f"{where}: {old!r} is not in the block"
                block = block.replace(old, new)
        code.append(block)
    return code


def test_guides_are_found():
    # Guard the guard: the pages the issue named are among those run.
    assert {"getting-started.md", "extending.md", "concepts.md", "losses.md"} <= set(GUIDES)
    blocks = page_blocks("extending.md")
    assert any("class Poisson(pk.AbstractPDE)" in code for _, _, code in blocks)
    assert not any("--8<--" in code for _, _, code in blocks)


def test_every_block_is_seen():
    # A block that the pattern misses (for instance one indented under a list) is never run.
    for page in GUIDES:
        text = (DOCS / page).read_text()
        assert len(page_blocks(page)) == len(re.findall(r"^\s*```python", text, re.M)), page


def test_markers_apply(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- fragment: continues the prose -->\n```python\nundefined_name\n```\n\n"
        '<!-- smaller: "2_000" -> "20" -->\n```python\nsteps = 2_000\n```\n'
    )
    monkeypatch.setattr(sys.modules[__name__], "DOCS", tmp_path)
    assert runnable_code("page.md") == ["steps = 20\n"]
    page.write_text("<!-- fragment: -->\n```python\nx\n```\n")
    with pytest.raises(AssertionError, match="must say why"):
        runnable_code("page.md")


@pytest.mark.parametrize("page", [p for p in GUIDES if p not in NOT_RUN])
def test_page_code_runs(page, monkeypatch, tmp_path):
    if not page_blocks(page):
        pytest.skip(f"docs/{page} has no python blocks")
    code = runnable_code(page)
    namespace: dict = {"__name__": f"docs_{page.removesuffix('.md')}"}
    monkeypatch.setattr("sys.argv", ["docs"])
    monkeypatch.chdir(tmp_path)  # what a block writes (runs/, checkpoints) lands here
    for number, block in enumerate(code, 1):
        compiled = compile(block, f"docs/{page}, python block {number}", "exec")
        with jax.default_device(jax.devices("cpu")[0]):
            exec(compiled, namespace)  # the page's own asserts check what its prose claims
