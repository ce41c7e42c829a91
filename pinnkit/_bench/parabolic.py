"""`pinnkit bench parabolic`: the PNAS table (Han, Jentzen & E, 2018) on this machine, every
method side by side: value, reference, relative error, wall time and the trivial baseline,
beside the paper's figures; a plot of error against wall time per method."""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .reports import add_report_arguments, parse_names, pyplot, save_figure, write_reports


PNAS_RESULTS: dict[str, dict[str, float]] = {
    "allen-cahn-pnas": {"rel_error": 0.0030, "wall_s": 647.0, "value": 0.052802},
    "hjb": {"rel_error": 0.0017, "wall_s": 330.0, "value": 4.5901},
    "black-scholes-default-risk": {"rel_error": 0.0046, "wall_s": 1607.0, "value": 57.300},
}
"""Deep BSDE at $d = 100$ in the PNAS paper (a laptop CPU): relative error of $u(0, x_0)$
against the paper's reference, wall time in seconds, and that reference."""

_BSDE = {"steps": 4000, "batch": 64, "average": 0.5}
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "deep-bsde": {
        "allen-cahn-pnas": {**_BSDE, "lr": 5e-3, "time_steps": 80},
        "hjb": {**_BSDE, "lr": 1e-2, "time_steps": 20, "batch": 256},
        "black-scholes-default-risk": {**_BSDE, "lr": 8e-3, "time_steps": 100},
        "black-scholes-barenblatt": {**_BSDE, "lr": 5e-3, "time_steps": 50},
        "hjb-lin": {**_BSDE, "lr": 5e-3, "time_steps": 20},
    },
    "pinn": {
        # Allen-Cahn's read-out is exact in time: 2^16 samples; the others read along paths.
        # The terminal data imposed exactly where the data is g = |x|^2 or sum(x) (BSB, HJB-LIN);
        # dense Rademacher tangents for the state-dependent diffusions (BSB, default risk).
        name: {"steps": 2000, "lr": 1e-3, "batch": 100}
        | ({"readout_samples": 2**16} if name == "allen-cahn-pnas" else {})
        | ({"terminal": "hard"} if name in ("black-scholes-barenblatt", "hjb-lin") else {})
        | (
            {"estimator": "stde-dense", "samples": 4}
            if name in ("black-scholes-barenblatt", "black-scholes-default-risk")
            else {}
        )
        | ({"lr": 3e-3} if name == "black-scholes-barenblatt" else {})
        | ({"terminal_feature": True} if name in ("hjb", "black-scholes-barenblatt") else {})
        for name in (
            "allen-cahn-pnas",
            "hjb",
            "black-scholes-default-risk",
            "black-scholes-barenblatt",
            "hjb-lin",
        )
    },
}
"""Each method's settings per problem (`RunConfig` fields): Deep BSDE with the paper's
learning rates, batch 64 (256 for HJB, whose error comes from the gradient term, not the
time step) and more time steps than the paper's 20 where the Euler bias dominates (80 for
Allen–Cahn, 100 for default risk, 50 for Black–Scholes–Barenblatt), its network an MLP of
2 hidden layers of $d + 10$ neurons as the paper's, and the parameters averaged over the
second half of the steps; the PINN with its defaults (STDE, 16 samples), the terminal
data imposed by the network (`terminal="hard"`) for Black–Scholes–Barenblatt and HJB-LIN,
dense STDE with 4 Rademacher tangents (times sigma(x)) for the state-dependent diffusions of
Black–Scholes–Barenblatt (learning rate 3e-3) and default risk (the sparse estimator's
variance over the terms x_i^2 u_ii dominates their loss), the terminal data as an input of
the network (`terminal_feature`) for HJB and Black–Scholes–Barenblatt, whose solutions grow
with it (default risk's kinked minimum of x as an input diverges: 48 % error), and its
Feynman–Kac read-out: $2^{16}$ samples exact in time for Allen–Cahn, $2^{14}$ Euler
paths of 100 steps (the default) for the others."""

DEFAULT_PROBLEMS = "allen-cahn-pnas,hjb,black-scholes-default-risk"


def bench_parabolic(
    problems: Sequence[str],
    methods: Sequence[str],
    dim: int,
    seed: int,
    out: Path,
    steps: int | None = None,
) -> list[dict[str, Any]]:
    """Run every (problem, method) with its recipe through [`pinnkit.run`][] (`steps`, when
    given, replaces every recipe's); one record per run: the result's metrics and wall time,
    the recipe, and the paper's figures."""
    from .._run.config import RunConfig
    from .._run.run import run

    records = []
    for problem in problems:
        for method in methods:
            recipe = dict(RECIPES[method][problem])
            if steps is not None:
                recipe["steps"] = steps
            if method == "deep-bsde":
                recipe.update(width=dim + 10, depth=2)
            config = RunConfig(
                problem=problem,
                dim=dim,
                method=method,
                seed=seed,
                progress=False,
                eval_every=recipe["steps"],
                out=out / f"{problem}-d{dim}-{method}-s{seed}",
                **recipe,
            )
            result = run(config)
            paper = PNAS_RESULTS.get(problem, {}) if dim == 100 else {}
            readout = result.details.get("feynman_kac") or {}
            records.append(
                {
                    "problem": problem,
                    "dim": dim,
                    "method": method,
                    "seed": seed,
                    **{k: result.metrics[k] for k in ("value", "reference", "rel_error")},
                    "baseline": result.metrics["baseline"],
                    "baseline_rel_error": result.metrics["baseline_rel_error"],
                    "wall_s": result.wall_s,
                    "readout_value": readout.get("value"),
                    "readout_stderr": readout.get("stderr"),
                    "readout_rel_error": readout.get("rel_error"),
                    "result": result.result,
                    "recipe": recipe,
                    "paper_rel_error": paper.get("rel_error"),
                    "paper_wall_s": paper.get("wall_s"),
                    "paper_value": paper.get("value"),
                }
            )
            print(json.dumps(records[-1]), flush=True)
    return records


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def markdown_table(records: Sequence[dict[str, Any]]) -> str:
    """The table: one row per run, with the paper's figures and the baseline beside it."""
    rows = [
        "| problem | method | value | reference | rel. error | wall s | baseline rel. error "
        "| PNAS rel. error | PNAS wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        rows.append(
            f"| `{r['problem']}` | {r['method']} | {_fmt(r['value'], '.7g')} | "
            f"{_fmt(r['reference'], '.7g')} | {_fmt(r['rel_error'], '.2e')} | "
            f"{_fmt(r['wall_s'], '.0f')} | {_fmt(r['baseline_rel_error'], '.2e')} | "
            f"{_fmt(r['paper_rel_error'], '.2e')} | {_fmt(r['paper_wall_s'], '.0f')} |"
        )
        if r.get("readout_value") is not None:
            rows.append(
                f"| `{r['problem']}` | {r['method']} + Feynman–Kac read-out "
                f"(± {_fmt(r['readout_stderr'], '.1e')}) | {_fmt(r['readout_value'], '.7g')} | "
                f"{_fmt(r['reference'], '.7g')} | {_fmt(r['readout_rel_error'], '.2e')} | "
                f"{_fmt(r['wall_s'], '.0f')} | {_fmt(r['baseline_rel_error'], '.2e')} | – | – |"
            )
    return "\n".join(rows)


def plot(records: Sequence[dict[str, Any]], path: Path) -> None:
    """Relative error against wall time, one marker per method, the paper's runs as crosses."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for method in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == method and r["rel_error"] is not None]
        ax.scatter([r["wall_s"] for r in mine], [r["rel_error"] for r in mine], label=method)
        for r in mine:
            ax.annotate(r["problem"], (r["wall_s"], r["rel_error"]), fontsize=7)
    paper = [r for r in records if r["paper_rel_error"] is not None and r["method"] == "deep-bsde"]
    if paper:
        ax.scatter(
            [r["paper_wall_s"] for r in paper],
            [r["paper_rel_error"] for r in paper],
            marker="x",
            color="black",
            label="PNAS 2018 (Deep BSDE)",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("relative error of u(0, x0)")
    ax.legend()
    save_figure(fig, path)


def add_parabolic_parser(which: Any) -> None:
    """Add `pinnkit bench parabolic` to `pinnkit bench`'s subcommands."""
    bench = which.add_parser(
        "parabolic",
        help="the PNAS table: every method on HJB, Allen-Cahn and default risk, vs the paper",
        description=(
            "Run each parabolic method with its recipe on the PNAS problems (Han, Jentzen & E, "
            "2018) and tabulate u(0, x0), its relative error, the wall time and the trivial "
            "baseline beside the paper's Deep BSDE figures."
        ),
    )
    bench.add_argument(
        "--problems", default=DEFAULT_PROBLEMS, help=f"comma list ({DEFAULT_PROBLEMS})"
    )
    bench.add_argument("--methods", default="deep-bsde,pinn", help="comma list (deep-bsde,pinn)")
    bench.add_argument("--dim", type=int, default=100, help="space dimension (100)")
    bench.add_argument("--seed", type=int, default=0, help="random seed (0)")
    bench.add_argument(
        "--steps", type=int, default=None, help="training steps of every run (default: recipe's)"
    )
    bench.add_argument("--out", type=Path, default=Path("runs/parabolic"), help="runs folder")
    add_report_arguments(bench, "write the records as JSON")


def run_parabolic_bench(args: argparse.Namespace) -> int:
    """Run `pinnkit bench parabolic` from parsed arguments (raises `ValueError` on bad
    input). Returns 1 when a run did not finish successfully, else 0."""
    problems = parse_names(args.problems, list(RECIPES["deep-bsde"]), "problem")
    methods = parse_names(args.methods, list(RECIPES), "method")
    if args.dim < 1:
        raise ValueError(f"--dim must be >= 1, got {args.dim}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    records = bench_parabolic(problems, methods, args.dim, args.seed, args.out, args.steps)
    write_reports(
        args, records, markdown_table(records), lambda path: plot(records, path), echo=True
    )
    return int(any(r["result"] != "successful" for r in records))
