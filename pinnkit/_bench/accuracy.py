"""`pinnkit bench accuracy`: the error reached by full training runs, across a grid of
problem × dimension × estimator × seed, beside the published STDE errors.

Every run is a [`pinnkit.run`][] of a [`pinnkit.RunConfig`][] (exactly what `pinnkit solve`
runs), by default with the paper's recipe: the MLP d → 128 → 128 → 128 → 1
(tanh) in the hard ansatz, 100 points per step, 16 samples, Adam 1e-3 decayed linearly to 0
over `--steps` (10,000). Each run writes `OUT/PROBLEM-dD-ESTIMATOR-sSEED/result.json`
atomically; a later invocation skips a run whose `result.json` says `"result": "successful"`
for the same configuration, so the grid can be stopped and restarted. Runs happen one after
another in this process (so a run's `peak_rss_mb` is the process's peak so far); a run that
raises is recorded with its error, and the grid goes on.
"""

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .reports import (
    add_report_arguments,
    check_positive,
    parse_dims,
    parse_estimators,
    parse_names,
    pyplot,
    save_figure,
    write_reports,
)


DEFAULT_PROBLEMS = "allen-cahn-two-body,poisson-two-body,sine-gordon-two-body"

PAPER_STDE_REL_L2: dict[str, dict[int, float]] = {
    # Shi et al., Stochastic Taylor Derivative Estimator, NeurIPS 2024: relative L2 error of
    # STDE (|J| = 16, the recipe above, one A100), as tabulated in docs/math.md, "The unit-ball
    # benchmark suite".
    "allen-cahn-two-body": {
        100: 1.89e-2,
        1_000: 7.07e-4,
        10_000: 8.33e-4,
        100_000: 1.50e-3,
        1_000_000: 3.99e-3,
    },
    "poisson-two-body": {
        100: 3.50e-3,
        1_000: 4.91e-4,
        10_000: 4.70e-3,
        100_000: 3.49e-3,
        1_000_000: 9.18e-4,
    },
    "sine-gordon-two-body": {
        100: 3.64e-3,
        1_000: 5.40e-4,
        10_000: 5.32e-3,
        100_000: 9.56e-4,
        1_000_000: 9.47e-4,
    },
    "allen-cahn-three-body": {
        100: 9.97e-3,
        1_000: 1.43e-3,
        10_000: 6.21e-4,
        100_000: 1.56e-5,
        1_000_000: 2.25e-6,
    },
}
"""The paper's STDE relative L2 errors, by problem and dimension (docs/math.md, "The unit-ball
benchmark suite")."""

PAPER_STDE_STEPS_PER_S: dict[str, dict[int, float]] = {
    # Same paper and table: iterations per second of STDE on Allen–Cahn two-body, one A100.
    "allen-cahn-two-body": {100: 1834, 1_000: 1559, 10_000: 588, 100_000: 283, 1_000_000: 21},
}

CONFIG_KEYS = (
    "problem",
    "dim",
    "estimator",
    "samples",
    "steps",
    "batch",
    "seed",
    "lr",
    "width",
    "depth",
    "eval_every",
    "test_size",
    "block_size",
    "prng",
    "fit_offset",
)
"""What must match for a finished `result.json` to stand for a run of the grid."""

CONFIG_DEFAULTS = {"prng": "threefry", "fit_offset": False}
"""Values of `CONFIG_KEYS` that a `result.json` written before the key existed stands for."""


def run_name(
    problem: str,
    dim: int,
    estimator: str,
    seed: int,
    block_size: int | None = None,
    prng: str = "threefry",
    fit_offset: bool = False,
) -> str:
    shared = "" if block_size is None else f"-B{block_size}"
    generator = "" if prng == "threefry" else f"-{prng}"
    fitted = "-fit" if fit_offset else ""
    return f"{problem}-d{dim}{shared}-{estimator}-s{seed}{generator}{fitted}"


def finished(path: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The result at `path` if it is a successful run of `config`, else `None`."""
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict) or result.get("result") != "successful":
        return None
    # The configuration is under "config" (schema 1) or at the top level (before it).
    recorded = {**result, **(result.get("config") or {})}
    if recorded.get("prng") is None:
        recorded["prng"] = "threefry"
    if any(recorded.get(key, CONFIG_DEFAULTS.get(key)) != config[key] for key in CONFIG_KEYS):
        return None
    return result


def _record(result: dict[str, Any], status: str, out: Path) -> dict[str, Any]:
    """One flat row: the result without its history, its configuration and details merged
    in (the result's own keys first), and the paper's figures."""
    nested = ("history", "config", "details", "versions")
    record = {
        **(result.get("config") or {}),
        **(result.get("details") or {}),
        **{key: value for key, value in result.items() if key not in nested},
    }
    record["status"] = status
    record["out"] = str(out)
    record["paper_stde_rel_l2"] = PAPER_STDE_REL_L2.get(record["problem"], {}).get(record["dim"])
    record["paper_stde_steps_per_s"] = PAPER_STDE_STEPS_PER_S.get(record["problem"], {}).get(
        record["dim"]
    )
    return record


def bench_accuracy(
    problems: Sequence[str],
    dims: Sequence[int],
    estimators: Sequence[str],
    seeds: Sequence[int],
    *,
    out: Path,
    steps: int = 10_000,
    batch: int = 100,
    samples: int = 16,
    lr: float = 1e-3,
    width: int = 128,
    depth: int = 3,
    eval_every: int = 1000,
    test_size: int = 20_000,
    block_size: int | None = None,
    prng: str = "threefry",
    fit_offset: bool = False,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True),
    on_record: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run (or reuse) every run of the grid; one record per run, in grid order.

    A record is the run's `result.json` without its history, plus `status` (`"ran"`,
    `"reused"` or `"error"`), `out` and the paper's STDE numbers where docs/math.md gives them.
    `on_record` is called with the records so far after each run.
    """
    from .._run.config import EXACT_ESTIMATOR_NAMES

    grid = [
        (problem, dim, estimator, seed)
        for problem in problems
        for dim in dims
        for estimator in estimators
        for seed in seeds
    ]
    records: list[dict[str, Any]] = []
    for index, (problem, dim, estimator, seed) in enumerate(grid, 1):
        config: dict[str, Any] = {
            "problem": problem,
            "dim": dim,
            "estimator": estimator,
            "samples": None if estimator in EXACT_ESTIMATOR_NAMES else samples,
            "steps": steps,
            "batch": batch,
            "seed": seed,
            "lr": lr,
            "width": width,
            "depth": depth,
            "eval_every": eval_every,
            "test_size": test_size,
            "block_size": block_size,
            "prng": prng,
            "fit_offset": fit_offset,
        }
        folder = out / run_name(problem, dim, estimator, seed, block_size, prng, fit_offset)
        label = f"[{index}/{len(grid)}] {problem} d={dim:,} {estimator} seed={seed}"
        records.append(_run_or_reuse(config, folder, label, log))
        if on_record is not None:
            on_record(records)
    return records


def _run_or_reuse(
    config: dict[str, Any], folder: Path, label: str, log: Callable[[str], None]
) -> dict[str, Any]:
    """The record of one run of the grid: reused when `folder` holds it finished, else run
    (an error is recorded, not raised, so that the grid goes on)."""
    from .._run.config import RunConfig
    from .._run.run import run

    done = finished(folder / "result.json", config)
    if done is not None:
        log(f"{label}: finished before, reused (rel_l2={done['rel_l2']:.3e})")
        return _record(done, "reused", folder)
    log(f"{label}: running -> {folder}")
    start = time.perf_counter()
    prng = None if config["prng"] == "threefry" else config["prng"]
    try:
        result = run(RunConfig(**{**config, "prng": prng}, out=folder, progress=False)).to_dict()
    except Exception as error:  # one failed run must not stop the grid
        message = f"{type(error).__name__}: {error}"
        log(f"{label}: error: {message}")
        failed = {**config, "result": "error", "message": message}
        failed.update(rel_l2=None, rel_l1=None, steps_per_s=None, wall_s=None)
        return _record(failed, "error", folder)
    log(
        f"{label}: {result['result']} rel_l2={_num(result['rel_l2'])} "
        f"{_num(result['steps_per_s'])} steps/s ({time.perf_counter() - start:.0f} s)"
    )
    return _record(result, "ran", folder)


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.3e}"


# ----------------------------------------------------------------------------- reports


def _fmt(value: float | int | None, spec: str = ".3g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def markdown_table(records: Sequence[dict[str, Any]]) -> str:
    """One row per run, the paper's STDE error (and speed, where published) beside it."""
    lines = [
        "| problem | d | estimator | seed | rel L2 | paper STDE rel L2 | rel L1 | steps "
        "| steps / s | paper STDE it / s (A100) | wall s | result |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        status = r.get("result", "")
        if r.get("status") == "reused":
            status += " (reused)"
        if r.get("result") == "error":
            status += f": {r.get('message', '')}".replace("|", "\\|")
        lines.append(
            f"| {r['problem']} | {r['dim']:,} | {r['estimator']} | {r['seed']} | "
            f"{_fmt(r.get('rel_l2'), '.3e')} | {_fmt(r.get('paper_stde_rel_l2'), '.2e')} | "
            f"{_fmt(r.get('rel_l1'), '.3e')} | {r.get('steps', '–')} | "
            f"{_fmt(r.get('steps_per_s'), '.1f')} | "
            f"{_fmt(r.get('paper_stde_steps_per_s'), '.0f')} | {_fmt(r.get('wall_s'), '.0f')} | "
            f"{status} |"
        )
    return "\n".join(lines) + "\n"


def summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The JSON summary: counts by status and the records."""
    counts = {
        status: sum(r["status"] == status for r in records) for status in ("ran", "reused", "error")
    }
    return {"runs": len(records), **counts, "records": list(records)}


def _mean(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else None


def plot(records: Sequence[dict[str, Any]], path: Path) -> None:
    """Rel L2 error (top) and steps/s (bottom) against d, one panel column per problem, one
    line per estimator (mean over seeds); the paper's STDE numbers as black crosses."""
    plt = pyplot()
    problems = list(dict.fromkeys(r["problem"] for r in records)) or ["(none)"]
    estimators = list(dict.fromkeys(r["estimator"] for r in records))
    fig, axes = plt.subplots(
        2, len(problems), figsize=(4.2 * len(problems) + 1.5, 7), squeeze=False
    )
    for col, problem in enumerate(problems):
        err_ax, speed_ax = axes[0][col], axes[1][col]
        mine = [r for r in records if r["problem"] == problem]
        for estimator in estimators:
            runs = [r for r in mine if r["estimator"] == estimator]
            dims = sorted({r["dim"] for r in runs})
            for ax, key in ((err_ax, "rel_l2"), (speed_ax, "steps_per_s")):
                points = [(d, _mean([r[key] for r in runs if r["dim"] == d])) for d in dims]
                points = [(d, v) for d, v in points if v is not None and v > 0]
                if points:
                    ax.loglog(*zip(*points, strict=True), "o-", label=estimator)
        dims = sorted({r["dim"] for r in mine})
        for ax, table, label in (
            (err_ax, PAPER_STDE_REL_L2, "paper STDE"),
            (speed_ax, PAPER_STDE_STEPS_PER_S, "paper STDE (A100)"),
        ):
            paper = table.get(problem, {})
            lo, hi = (min(dims), max(dims)) if dims else (0, math.inf)
            points = [(d, v) for d, v in sorted(paper.items()) if lo / 10 <= d <= hi * 10]
            if points:
                ax.loglog(*zip(*points, strict=True), "kx--", lw=0.8, label=label)
        err_ax.set_title(problem)
        err_ax.set_ylabel("relative L2 error")
        speed_ax.set_ylabel("steps / s")
        speed_ax.set_xlabel("dimension d")
        for ax in (err_ax, speed_ax):
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
    steps = records[0]["steps"] if records else None
    fig.suptitle(f"accuracy after {steps} steps (mean over seeds)")
    save_figure(fig, path)


# --------------------------------------------------------------------------------- CLI


def add_accuracy_parser(which: Any) -> None:
    """Add `pinnkit bench accuracy` to `pinnkit bench`'s subcommands."""
    acc = which.add_parser(
        "accuracy",
        help="train on a grid of problem x dimension x estimator x seed; errors vs the paper",
        description=(
            "Run `pinnkit solve` over a grid with the paper's recipe and tabulate the "
            "relative L2 errors beside the published STDE ones. Finished runs are reused, so "
            "an interrupted grid can be restarted."
        ),
    )
    acc.add_argument(
        "--problems", default=DEFAULT_PROBLEMS, help=f"comma list ({DEFAULT_PROBLEMS})"
    )
    acc.add_argument("--dims", default="100,1000", help="comma list (100,1000)")
    acc.add_argument("--estimators", default="stde", help="comma list (stde)")
    acc.add_argument("--seeds", default="0", help="comma list of seeds (0)")
    acc.add_argument("--steps", type=int, default=10_000, help="training steps (10000)")
    acc.add_argument("--batch", type=int, default=100, help="points per step (100)")
    acc.add_argument("--samples", type=int, default=16, help="samples, stochastic estimators (16)")
    acc.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (1e-3)")
    acc.add_argument("--width", type=int, default=128, help="MLP width (128)")
    acc.add_argument("--depth", type=int, default=3, help="MLP hidden layers (3)")
    acc.add_argument("--eval-every", type=int, default=1000, help="steps between evaluations")
    acc.add_argument("--test-size", type=int, default=20_000, help="test points (20000)")
    acc.add_argument(
        "--block-size",
        type=int,
        default=None,
        help="SharedFirstLayerMLP block size for every run (default: a plain MLP)",
    )
    acc.add_argument(
        "--prng",
        default="threefry",
        choices=("threefry", "xla-threefry"),
        help="PRNG of every run, as for `pinnkit solve` (default: threefry; another value "
        "adds -PRNG to the run folders)",
    )
    acc.add_argument(
        "--fit-offset",
        action="store_true",
        help="fit every network's output bias to the loss before training, as for `pinnkit "
        "solve` (default: off; on adds -fit to the run folders)",
    )
    acc.add_argument("--out", type=Path, default=Path("runs/accuracy"), help="runs folder")
    add_report_arguments(acc, "write the JSON summary")


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ValueError(f"bad --seeds {text!r}: not a comma list of integers") from None
    if not seeds:
        raise ValueError("--seeds is empty")
    return list(dict.fromkeys(seeds))


def _parse_problems(text: str) -> list[str]:
    """The problems named in `text`: those whose answer is the solution everywhere (the
    accuracy grid reports `rel_l2`) and that take any dimension."""
    from ..problems import PROBLEMS

    names = [n for n, s in PROBLEMS.items() if s.answer == "solution" and s.max_dim is None]
    return parse_names(text, names, "problem")


def run_accuracy(args: argparse.Namespace) -> int:
    """Run `pinnkit bench accuracy` from parsed arguments (raises `ValueError` on bad input).
    Returns 1 when a run failed (error or non-finite loss), else 0."""
    from ..problems import PROBLEMS

    problems = _parse_problems(args.problems)
    dims = parse_dims(args.dims)
    estimators = parse_estimators(args.estimators)
    seeds = _parse_seeds(args.seeds)
    for problem in problems:
        spec = PROBLEMS[problem]
        for dim in dims:
            if not spec.defined_in(dim):
                raise ValueError(f"{problem} needs dims {spec.dims}, got {dim}")
    check_positive(args, ("steps", "batch", "samples", "width", "depth", "eval_every", "test_size"))

    def report(records: list[dict[str, Any]]) -> None:
        # Rewritten after every run, so that a partial grid already has its reports.
        table = markdown_table(records)
        write_reports(args, summary(records), table, lambda path: plot(records, path), echo=False)

    records = bench_accuracy(
        problems,
        dims,
        estimators,
        seeds,
        out=args.out,
        steps=args.steps,
        batch=args.batch,
        samples=args.samples,
        lr=args.lr,
        width=args.width,
        depth=args.depth,
        eval_every=args.eval_every,
        test_size=args.test_size,
        block_size=getattr(args, "block_size", None),
        prng=getattr(args, "prng", "threefry"),
        fit_offset=bool(getattr(args, "fit_offset", False)),
        on_record=report,
    )
    counts = summary(records)
    if args.markdown is None:
        print(markdown_table(records), end="")
    print(
        f"accuracy: {counts['runs']} runs: {counts['ran']} ran, {counts['reused']} reused "
        f"(finished before), {counts['error']} errors",
        file=sys.stderr,
    )
    return 0 if all(r.get("result") == "successful" for r in records) else 1
