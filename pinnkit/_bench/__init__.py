"""`pinnkit bench`: the benchmark commands. Each calls library code (the accuracy grid calls
[`pinnkit.run`][]), never the command line."""

import argparse
from typing import Any

from .accuracy import add_accuracy_parser, run_accuracy
from .estimators import PROBLEM, bench_estimators, markdown_table, plot
from .parabolic import add_parabolic_parser, run_parabolic_bench
from .reports import (
    add_report_arguments,
    check_positive,
    parse_dims,
    parse_estimators,
    write_reports,
)


def add_bench_parser(subparsers: Any) -> None:
    """Add `pinnkit bench estimators` and `pinnkit bench accuracy` to the CLI's subcommands."""
    bench = subparsers.add_parser(
        "bench",
        help="measure pinnkit's costs and accuracy",
        description=(
            "Benchmarks: `estimators` times one training step of every estimator across "
            "dimensions, each configuration in its own process; `accuracy` runs pinnkit.run "
            "over a grid of problems, dimensions, estimators and seeds and tabulates the errors."
        ),
    )
    which = bench.add_subparsers(dest="bench_command", required=True)
    est = which.add_parser(
        "estimators",
        help="ms per training step and peak memory of every estimator, across dimensions",
        description=(
            f"Time the loss gradient of the {PROBLEM} residual for each estimator and "
            "dimension against the floor, the gradient of mean(u(x)^2). Each configuration "
            "runs in its own process."
        ),
    )
    est.add_argument("--estimators", default=None, help="comma list (default: all registered)")
    est.add_argument(
        "--dims", default="100,1000,10000,100000", help="comma list (100,1000,10000,100000)"
    )
    est.add_argument("--batch", type=int, default=100, help="points per step (100)")
    est.add_argument("--samples", type=int, default=16, help="samples, stochastic estimators (16)")
    est.add_argument("--repeats", type=int, default=5, help="timed repeats, median (5)")
    est.add_argument("--timeout", type=float, default=600.0, help="seconds per configuration")
    est.add_argument("--seed", type=int, default=0, help="random seed (0)")
    est.add_argument("--width", type=int, default=128, help="MLP width (128)")
    est.add_argument("--depth", type=int, default=3, help="MLP hidden layers (3)")
    est.add_argument(
        "--memory-gb", type=float, default=None, help="memory budget for skips (80%% of RAM)"
    )
    add_report_arguments(est, "write the records as JSON")

    add_accuracy_parser(which)
    add_parabolic_parser(which)


def run_bench(args: argparse.Namespace) -> int:
    """Run `pinnkit bench ...` from parsed arguments (raises `ValueError` on bad input)."""
    if args.bench_command == "accuracy":
        return run_accuracy(args)
    if args.bench_command == "parabolic":
        return run_parabolic_bench(args)
    from ..problems import PROBLEMS

    estimators = parse_estimators(args.estimators)
    dims = parse_dims(args.dims)
    min_dim = PROBLEMS[PROBLEM].min_dim
    if dims[0] < min_dim:
        raise ValueError(f"{PROBLEM} needs dims >= {min_dim}, got {dims[0]}")
    check_positive(args, ("batch", "samples", "repeats", "width", "depth"))
    if args.timeout <= 0:
        raise ValueError(f"--timeout must be > 0, got {args.timeout}")
    records = bench_estimators(
        estimators,
        dims,
        batch=args.batch,
        samples=args.samples,
        repeats=args.repeats,
        timeout=args.timeout,
        seed=args.seed,
        width=args.width,
        depth=args.depth,
        memory_gb=args.memory_gb,
    )
    write_reports(
        args, records, markdown_table(records), lambda path: plot(records, path), echo=True
    )
    return 0
