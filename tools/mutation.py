"""Mutation testing of pinnkit's numerical core, one module at a time, with mutmut.

    tools/mutation.sh MODULE [MUTANT-GLOB]      # e.g. tools/mutation.sh _sampler
    tools/mutation.sh MODULE --sample 100       # a uniform random sample of its mutants

MODULE is a key of `[tool.pinnkit.mutation]` in pyproject.toml (a subpackage of `pinnkit`, such
as `_sampler` or `problems`), which names the test files that exercise it. The run happens in a
scratch copy, `.mutation/MODULE/` (git-ignored), so the working tree is never mutated and a
second run reuses the first one's results for the functions that did not change. It uses one
worker at the lowest priority, so it fits a 2-core machine shared with other work (`--workers 2`
when the machine is free). XLA's compiled programs are kept on disk, in `.mutation/jax-cache/`,
so a mutant's tests compile only the programs that its change reaches.

At the end it prints the score: killed (a test failed, or the run timed out) over the mutants
that are not listed as equivalent in `tools/mutation_equivalent.txt`, and the survivors to
look at (`cd .mutation/MODULE && mutmut show NAME` prints one as a diff).

A whole module takes hours (pinnkit's core has about 11,000 mutants), so `--sample N` runs a
uniform random sample of N of the module's mutants (the same N for the same `--seed` while the
module's code is unchanged; those run before keep their results) and reports the score over the
sample, an unbiased estimate of the whole module's score, with its one-sided 95 % (Wilson)
lower bound.
"""

import argparse
import math
import os
import random
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


def _generate(work: Path) -> None:
    """Write the module's mutants into `work/mutants` without running any test, so that their
    names are known before a sampled run."""
    snippet = (
        "import mutmut.__main__ as m\n"
        "m.makedirs('mutants', exist_ok=True)\n"
        "m.copy_src_dir(); m.copy_also_copy_files(); m.setup_source_paths()\n"
        "m.store_lines_covered_by_tests(); m.create_mutants(1)\n"
    )
    subprocess.run([sys.executable, "-c", snippet], cwd=work, check=True, capture_output=True)


def sample(module: str, statuses: dict[str, str], size: int, seed: int) -> list[str]:
    """A uniform random sample, without replacement, of `size` of the module's mutants."""
    names = sorted(name for name in statuses if name.startswith(f"pinnkit.{module}."))
    return sorted(random.Random(seed).sample(names, min(size, len(names))))


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


def lower_bound(killed: int, total: int, z: float = 1.645) -> float:
    """The one-sided 95 % Wilson lower bound of a score of `killed` of `total` sampled
    mutants: the whole module's score is above it with 95 % confidence (0 for no mutants)."""
    if total == 0:
        return 0.0
    p = killed / total
    centre = p + z**2 / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z**2 / (4 * total**2))
    return (centre - spread) / (1 + z**2 / total)


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
    fraction = killed / max(len(counted), 1)
    lines.append(
        f"{module}: {killed} killed / {len(statuses)} mutants, {len(equivalent)} equivalent,"
        f" {len(unchecked)} not run yet: score {100 * fraction:.1f} % of {len(counted)} run and"
        f" non-equivalent (as a sample: at least {100 * lower_bound(killed, len(counted)):.1f} %"
        " with 95 % confidence)"
    )
    return "\n".join(lines)


def _run(work: Path, mutants: list[str], workers: int) -> None:
    """`mutmut run` of `mutants` (all when empty) in `work`, at the lowest priority."""
    env = dict(os.environ)
    # One XLA thread per test process: the run keeps to one core per worker.
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    # Every mutant's tests run in a fresh process; a persistent compilation cache lets it reuse
    # the programs its mutation does not change (the cache key is the program itself).
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".mutation" / "jax-cache"))
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
    start = time.monotonic()
    command = ["nice", "-n", "19", "mutmut", "run", "--max-children", str(workers), *mutants]
    subprocess.run(command, cwd=work, env=env, check=True)
    print(f"wall time {time.monotonic() - start:.0f} s", file=sys.stderr)


def main() -> None:
    modules = _modules()
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("module", choices=sorted(modules))
    parser.add_argument("mutants", nargs="*", help="mutant names or globs (default: all)")
    parser.add_argument("--score-only", action="store_true", help="report the last run's score")
    parser.add_argument("--workers", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--sample", type=int, help="run and score a random sample of N mutants")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    args = parser.parse_args()
    work = ROOT / ".mutation" / args.module
    if args.sample is not None and (args.sample < 1 or args.mutants):
        parser.error("--sample takes a positive N and no mutant names")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    chosen: list[str] | None = None
    if args.sample is not None:
        if not args.score_only:
            _prepare(args.module, modules[args.module])
            _generate(work)
        chosen = sample(args.module, _results(work), args.sample, args.seed)
    if not args.score_only:
        if chosen is None:
            _prepare(args.module, modules[args.module])
            _run(work, args.mutants, args.workers)
        else:
            # mutmut may reset cached results when it starts (a changed test selection or
            # function), so a sampled run repeats until every chosen mutant has a result.
            for _ in range(3):
                statuses = _results(work)
                todo = [name for name in chosen if statuses[name] in NOT_RUN]
                print(f"sample of {len(chosen)} mutants, {len(todo)} not run yet", file=sys.stderr)
                if not todo:
                    break
                _run(work, todo, args.workers)
    statuses = _results(work)
    if chosen is not None:
        statuses = {name: statuses[name] for name in chosen}
        print(f"a random sample of {len(chosen)} mutants (--seed {args.seed}):")
    print(score(args.module, statuses))


if __name__ == "__main__":
    main()
