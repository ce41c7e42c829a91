"""Open every page of the built site in headless Chromium, offline, and check what a reader sees.

    python tools/docs_render_check.py                     # build the site, then check it
    python tools/docs_render_check.py --site site         # check a site built already
    python tools/docs_render_check.py --screenshots shots # also save a PNG of each page

The site is served on 127.0.0.1 and the browser may resolve no other host, as on a machine
without a network. A page fails when, after its scripts have run:

- a formula is still raw TeX (`\\(`, `\\[` or `$$` left in the text), was not typeset, or
  MathJax reports a TeX error;
- a diagram is still Mermaid source, or a diagram block holds no drawing;
- the page asked the server for a file the site does not have (a missing font or script).

Needs Chromium (Debian: `apt-get install chromium-headless-shell`, or `chromium`); set
`CHROMIUM` to use another binary. Exits 0 when every page passes, 1 on a failure, 2 when no
browser is found.
"""

import argparse
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$")
RAW_MERMAID = re.compile(
    r"^\s*(flowchart|graph)\s+(TB|TD|BT|RL|LR)\b|^\s*(sequenceDiagram|classDiagram|stateDiagram)",
    flags=re.MULTILINE,
)


class _Text(HTMLParser):
    """The text a reader sees, outside code, and what the page's formulas and diagrams became."""

    SKIP = {"script", "style", "pre", "code", "noscript", "template", "textarea"}

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.all_text: list[str] = []  # code included: Mermaid left as source is in a <pre>
        self.math_errors: list[str] = []
        self.formulas = 0
        self.typeset = 0
        self.diagrams = 0
        self.drawn = 0
        self._stack: list[tuple[str, set[str]]] = []

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        if tag in {"br", "img", "input", "meta", "link", "hr", "wbr", "path", "rect", "use"}:
            return
        if "arithmatex" in classes:
            self.formulas += 1
        if tag == "mjx-container" and any("arithmatex" in c for _, c in self._stack):
            self.typeset += 1
        if "diagram" in classes:
            self.diagrams += 1
        if tag == "svg" and any("diagram" in c for _, c in self._stack):
            if not any(t == "svg" for t, _ in self._stack):
                self.drawn += 1
        if tag == "mjx-merror":
            self.math_errors.append(dict(attrs).get("data-mjx-error", "a TeX error"))
        self._stack.append((tag, classes))

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                return

    def handle_data(self, data):
        if not any(tag in {"script", "style", "template"} for tag, _ in self._stack):
            self.all_text.append(data)
        if not any(tag in self.SKIP for tag, _ in self._stack):
            self.text.append(data)


def find_browser() -> str | None:
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def build_site(destination: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(destination)],
        cwd=ROOT,
        check=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, list[str]]:
    """Serve `site` on a free port of 127.0.0.1; the list collects the paths not found."""
    missing: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            del format, args

        def send_error(self, code, message=None, explain=None):
            if code == 404:
                missing.append(self.path)
            super().send_error(code, message, explain)

    handler = functools.partial(Handler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, missing


def pages(site: Path) -> list[str]:
    found = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html"))
    return [p for p in found if not p.startswith("assets/")]


def render(browser: str, url: str, screenshot: Path | None) -> str:
    """The page's DOM after its scripts ran (and a screenshot of it, when asked)."""
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=20000",
        "--window-size=1280,2400",
    ]
    if screenshot is not None:
        subprocess.run(
            [*command, f"--screenshot={screenshot}", url], capture_output=True, timeout=120
        )
    result = subprocess.run(
        [*command, "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0 or "<html" not in result.stdout:
        raise RuntimeError(f"{browser} failed on {url}: {result.stderr[-2000:]}")
    return result.stdout


def problems(dom: str) -> list[str]:
    parser = _Text()
    parser.feed(dom)
    text = " ".join(parser.text)
    found = [f"TeX error: {error}" for error in parser.math_errors]
    if parser.typeset < parser.formulas:
        found.append(
            f"{parser.formulas - parser.typeset} of {parser.formulas} formulas not typeset"
        )
    for match in RAW_MERMAID.finditer("".join(parser.all_text)):
        found.append(f"raw Mermaid source: {match.group(0).strip()}")
    if parser.drawn < parser.diagrams:
        found.append(f"{parser.diagrams - parser.drawn} of {parser.diagrams} diagrams not drawn")
    raw = list(RAW_TEX.finditer(text))
    for match in raw[:3]:
        context = " ".join(text[max(0, match.start() - 30) : match.end() + 40].split())
        found.append(f"raw TeX: ...{context}...")
    if len(raw) > 3:
        found.append(f"raw TeX: {len(raw) - 3} more")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one)")
    parser.add_argument("--screenshots", type=Path, help="save a PNG of each page here")
    args = parser.parse_args()
    browser = find_browser()
    if browser is None:
        print("no Chromium found: apt-get install chromium-headless-shell", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        site = args.site
        if site is None:
            site = Path(scratch) / "site"
            build_site(site)
        if args.screenshots:
            args.screenshots.mkdir(parents=True, exist_ok=True)
        server, missing = serve(site)
        checked = pages(site)
        failures = 0
        try:
            for page in checked:
                url = f"http://127.0.0.1:{server.server_port}/{page.removesuffix('index.html')}"
                shot = None
                if args.screenshots:
                    name = page.removesuffix("/index.html").replace("/", "-") or "home"
                    shot = args.screenshots.resolve() / f"{name}.png"
                before = len(missing)
                found = problems(render(browser, url, shot))
                found += [f"not found on the server: {path}" for path in missing[before:]]
                failures += bool(found)
                print(("FAIL " if found else "ok   ") + page)
                for problem in found[:10]:
                    print(f"       {problem}")
        finally:
            server.shutdown()
    print(f"{failures} of {len(checked)} pages failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
