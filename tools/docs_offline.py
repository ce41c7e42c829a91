"""MkDocs hook: the site renders its mathematics and diagrams with no network.

- **Mathematics.** MathJax 3 (Apache-2.0) comes from the `django-static-mathjax` package of the
  `docs` extra, which holds MathJax's release files. Its single-file component with every TeX
  extension and SVG output (`tex-svg-full.js`: glyphs drawn as paths, so no web font and no
  further file to load) is copied into the site under `assets/vendor/mathjax/`; `mkdocs.yml`
  loads it from there and `docs/javascripts/mathjax.js` configures it.
- **Diagrams.** A ```` ```mermaid ```` block is drawn when the site is built, as an inline SVG,
  by `mermaid-render` (MIT; it runs the Pele renderer, MIT, in an embedded QuickJS). The page
  carries no diagram source and no diagram script. Noto Sans (SIL Open Font License), whose
  metrics the layout uses, is copied under `assets/vendor/noto-sans/` so that the labels fit
  their boxes in any browser; `docs/stylesheets/extra.css` declares it.

Each copied library keeps its licence file next to it. `tests/test_docs.py` builds the site and
fails on any script, stylesheet or font that would be fetched from another host.
"""

import html
from pathlib import Path
from typing import Any

import mathjax
import mermaid_render
from mkdocs.structure.files import File, Files


VENDOR = "assets/vendor"
MATHJAX_ROOT = Path(mathjax.__file__).resolve().parent / "static" / "mathjax"
MATHJAX_FILES = ("es5/tex-svg-full.js", "LICENSE")
FONT_ROOT = Path(mermaid_render.__file__).resolve().parent / "fonts"
FONT_FILES = ("NotoSans-Regular.ttf", "LICENSE")


def vendored_files() -> list[tuple[Path, str]]:
    """(source file, path in the site) of every file copied into the site."""
    copies = [
        (MATHJAX_ROOT / path, f"{VENDOR}/mathjax/{Path(path).name}") for path in MATHJAX_FILES
    ]
    copies += [(FONT_ROOT / name, f"{VENDOR}/noto-sans/{name}") for name in FONT_FILES]
    missing = [str(source) for source, _ in copies if not source.is_file()]
    if missing:
        raise FileNotFoundError(
            "the docs extra's renderer files are missing (pip install -e '.[docs]'): "
            + ", ".join(missing)
        )
    return copies


def mermaid_svg(source: str, language: str, class_name: str, options: Any, md: Any, **_) -> str:
    """A pymdownx.superfences formatter: the diagram as inline SVG, drawn at build time."""
    del language, options, md
    try:
        svg = mermaid_render.convert(source, format="svg").decode()
    except Exception as error:  # the renderer's own errors name the line
        raise ValueError(f"cannot draw this mermaid diagram: {error}\n{source}") from error
    label = html.escape(source.strip().splitlines()[0])
    return f'<div class="{class_name}" role="img" aria-label="diagram: {label}">{svg}</div>'


def on_config(config: Any) -> Any:
    """Draw ```mermaid blocks with `mermaid_svg` (registered here: mkdocs.yml cannot name it)."""
    superfences = config["mdx_configs"].setdefault("pymdownx.superfences", {})
    fences = [f for f in superfences.get("custom_fences", []) if f.get("name") != "mermaid"]
    fences.append({"name": "mermaid", "class": "diagram", "format": mermaid_svg})
    superfences["custom_fences"] = fences
    return config


def on_files(files: Files, config: Any) -> Files:
    for source, destination in vendored_files():
        files.append(File.generated(config, destination, abs_src_path=str(source)))
    return files
