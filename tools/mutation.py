"""Mutation testing of pinnkit's numerical core, one module at a time, with mutmut.

    tools/mutation.sh MODULE [MUTANT-GLOB]      # e.g. tools/mutation.sh _sampler

MODULE is a key of `[tool.pinnkit.mutation]` in pyproject.toml (a subpackage of `pinnkit`, such
as `_sampler` or `problems`), which names the test files that exercise it. The run happens in a
scratch copy, `.mutation/MODULE/` (git-ignored), so the working tree is never mutated and a
second run reuses the first one's results for the functions that did not change. It uses one
worker at the lowest priority, so it fits a 2-core machine shared with other work.

At the end it prints the score: killed (a test failed, or the run timed out) over the mutants
that are not listed as equivalent in `tools/mutation_equivalent.txt`, and the survivors to
look at (`cd .mutation/MODULE && mutmut show NAME` prints one as a diff).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.txt"

# mutmut's status names, grouped as a mutation score counts them.
KILLED = {"killed", "timeout", "segfault"}
SURVIVED = {"survived", "no tests", "suspicious"}
NOT_RUN = {"not checked", "check was interrupted by user", "skipped"}


def _modules() -> dict[str, list[str]]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return pyproject["tool"]["pinnkit"]["mutation"]


def equivalent_mutants() -> dict[str, str]:
    """`name -> reason` for each mutant recorded as equivalent (no test can tell it apart)."""
    out = {}
    for line in EQUIVALENT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            out[name] = reason.strip().lstrip("#").strip()
    return out


def _prepare(module: str, tests: list[str]) -> Path:
    work = ROOT / ".mutation" / module
    work.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("pinnkit", "tests"):
        shutil.rmtree(work / folder, ignore_errors=True)
        shutil.copytree(ROOT / folder, work / folder, ignore=ignore)
    shutil.copy(ROOT / "tools" / "mutation_preload.txt", work / "mutation_preload.txt")
    text = (ROOT / "pyproject.toml").read_text()
    header = "[tool.mutmut]\n"
    if header not in text:
        raise SystemExit("pyproject.toml has no [tool.mutmut] table")
    scoped = (
        f"{header}only_mutate = {_toml_list([f'pinnkit/{module}/*'])}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
    )
    (work / "pyproject.toml").write_text(text.replace(header, scoped, 1))
    return work


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def _results(work: Path) -> dict[str, str]:
    out = subprocess.run(
        ["mutmut", "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=True
    ).stdout
    statuses = {}
    for line in out.splitlines():
        match = re.match(r"\s*(\S+): (.+)$", line)
        if match:
            statuses[match.group(1)] = match.group(2).strip()
    return statuses


def score(module: str, statuses: dict[str, str]) -> str:
    prefix = f"pinnkit.{module}."
    statuses = {name: s for name, s in statuses.items() if name.startswith(prefix)}
    equivalent = {name for name in equivalent_mutants() if name in statuses}
    unchecked = {name for name, s in statuses.items() if s in NOT_RUN}
    counted = {n: s for n, s in statuses.items() if n not in equivalent and n not in unchecked}
    killed = sum(s in KILLED for s in counted.values())
    survivors = sorted(name for name, s in counted.items() if s in SURVIVED)
    other = sorted(name for name, s in counted.items() if s not in KILLED | SURVIVED)
    lines = [f"  {name} ({counted[name]})" for name in survivors + other]
    percent = 100 * killed / max(len(counted), 1)
    lines.append(
        f"{module}: {killed} killed / {len(statuses)} mutants, {len(equivalent)} equivalent,"
        f" {len(unchecked)} not run yet: score {percent:.1f} % of {len(counted)} run"
        " and non-equivalent"
    )
    return "\n".join(lines)


def main() -> None:
    modules = _modules()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=sorted(modules))
    parser.add_argument("mutants", nargs="*", help="mutant names or globs (default: all)")
    parser.add_argument("--score-only", action="store_true", help="report the last run's score")
    args = parser.parse_args()
    work = ROOT / ".mutation" / args.module
    if not args.score_only:
        _prepare(args.module, modules[args.module])
        env = dict(os.environ)
        # One XLA thread per test process: the run keeps to one core.
        env["XLA_FLAGS"] = (
            env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
        ).strip()
        start = time.monotonic()
        command = ["nice", "-n", "19", "mutmut", "run", "--max-children", "1", *args.mutants]
        subprocess.run(command, cwd=work, env=env, check=True)
        print(f"wall time {time.monotonic() - start:.0f} s", file=sys.stderr)
    print(score(args.module, _results(work)))


if __name__ == "__main__":
    main()
