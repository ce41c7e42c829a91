"""The `pinnkit` command line: list problems, solve one, write its results."""

import argparse
import json
import os
import resource
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename, so a reader never
    sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _build_parser() -> argparse.ArgumentParser:
    from ._estimator.registry import ESTIMATORS

    parser = argparse.ArgumentParser(
        prog="pinnkit",
        description="Solve PDEs with neural networks, in high dimensions.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("problems", help="list the ready-made problems")

    solve = sub.add_parser("solve", help="train a network on a problem and report its error")
    solve.add_argument("problem", help="a problem name (see `pinnkit problems`)")
    solve.add_argument("--dim", type=int, default=None, help="space dimension (default: 100)")
    solve.add_argument(
        "--estimator",
        default="exact",
        help=f"operator estimator: {', '.join(ESTIMATORS)} (default: exact)",
    )
    solve.add_argument(
        "--samples", type=int, default=None, help="samples per step for stochastic estimators"
    )
    solve.add_argument("--steps", type=int, default=10_000, help="training steps (default 10000)")
    solve.add_argument("--batch", type=int, default=100, help="collocation points per step (100)")
    solve.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (1e-3)")
    solve.add_argument("--seed", type=int, default=0, help="random seed (0)")
    solve.add_argument("--method", default="pinn", help="solution method (pinn)")
    solve.add_argument("--width", type=int, default=128, help="MLP width (128)")
    solve.add_argument("--depth", type=int, default=3, help="MLP hidden layers (3)")
    solve.add_argument(
        "--block-size",
        type=int,
        default=None,
        help="share the first layer across blocks of B inputs (SharedFirstLayerMLP; B divides "
        "the dimension; default: a plain MLP)",
    )
    solve.add_argument("--eval-every", type=int, default=1000, help="steps between evaluations")
    solve.add_argument("--test-size", type=int, default=20_000, help="test points (20000)")
    solve.add_argument("--out", type=Path, default=None, help="output folder (runs/NAME)")
    solve.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    solve.add_argument("--x64", action="store_true", help="compute in float64")
    solve.add_argument(
        "--devices",
        type=int,
        default=None,
        help="split each batch across the first N devices (data parallel; default: one device)",
    )

    from ._bench import add_bench_parser

    add_bench_parser(sub)
    return parser


def _cmd_problems() -> int:
    from .problems import PROBLEMS

    width = max(len(name) for name in PROBLEMS)
    for name, spec in PROBLEMS.items():
        print(f"{name:<{width}}  dim >= {spec.min_dim:<3} {spec.description}")
    return 0


def _plot_history(history: dict[str, Any], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(history["step"], history["loss"], lw=0.6, alpha=0.7, label="loss")
    if len(history["eval_step"]):
        ax.semilogy(history["eval_step"], history["rel_l2"], "o-", label="rel L2 error")
        ax.semilogy(history["eval_step"], history["rel_l1"], "s--", label="rel L1 error")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_solve(args: argparse.Namespace) -> dict[str, Any]:
    """Train one network as `pinnkit solve` does, from its parsed arguments (any object with
    the same attributes), write `result.json`, `history.png` and `network.eqx` under
    `args.out` (default `runs/NAME`), and return the result with `"out"`, the folder.
    Raises `ValueError` on bad input."""
    import jax

    if args.x64:
        jax.config.update("jax_enable_x64", True)

    import equinox as eqx

    from ._estimator.registry import make_estimator
    from ._solver.pinn import RESULTS, PINNSolver
    from .problems import PROBLEMS, get_problem

    if args.method != "pinn":
        raise ValueError(f"method {args.method!r} is not available yet; valid methods: pinn")
    if args.problem not in PROBLEMS:
        raise ValueError(f"unknown problem {args.problem!r}; valid names: {', '.join(PROBLEMS)}")
    for name in ("steps", "batch", "test_size", "eval_every", "width"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    estimator = make_estimator(args.estimator, args.samples)
    mesh = None
    if args.devices is not None:
        import numpy as np
        from jax.sharding import Mesh

        available = jax.devices()
        if not 1 <= args.devices <= len(available):
            raise ValueError(
                f"--devices must be between 1 and the {len(available)} available device(s) "
                f"({available[0].platform}), got {args.devices}"
            )
        mesh = Mesh(np.array(available[: args.devices]), ("batch",))

    key = jax.random.key(args.seed)
    problem_key, network_key, train_key, test_key = jax.random.split(key, 4)
    problem = get_problem(args.problem, args.dim, problem_key)
    block_size = getattr(args, "block_size", None)
    if block_size is not None and (block_size < 1 or problem.dim % block_size):
        raise ValueError(
            f"--block-size must be a positive divisor of the dimension {problem.dim}, "
            f"got {block_size}"
        )
    network = problem.network(
        network_key, width=args.width, depth=args.depth, block_size=block_size
    )
    solver = PINNSolver(
        problem.loss(estimator, batch_size=args.batch),
        learning_rate=args.lr,
        eval_every=args.eval_every,
        mesh=mesh,
    )
    test_set = problem.test_set(test_key, size=args.test_size)
    out = args.out or Path("runs") / f"{problem.name}-d{problem.dim}-{args.estimator}-s{args.seed}"
    out.mkdir(parents=True, exist_ok=True)

    def log(step: int, logs: dict[str, float]) -> None:
        if args.no_progress:  # without a progress bar, a line per evaluation
            fields = " ".join(f"{name}={value:.3e}" for name, value in logs.items())
            print(f"step {step}: {fields}", flush=True)

    solution = solver.solve(
        network,
        args.steps,
        train_key,
        test_set=test_set,
        progress=not args.no_progress,
        callback=log,
    )

    result = {
        "problem": problem.name,
        "dim": problem.dim,
        "estimator": args.estimator,
        "samples": args.samples,
        "steps": solution.steps,
        "batch": args.batch,
        "seed": args.seed,
        "lr": args.lr,
        "devices": args.devices or 1,
        "rel_l2": solution.metrics.get("rel_l2"),
        "rel_l1": solution.metrics.get("rel_l1"),
        "wall_s": solution.wall_s,
        "steps_per_s": solution.steps / solution.wall_s if solution.wall_s > 0 else None,
        "peak_rss_mb": _peak_rss_mb(),
        "result": "successful" if solution.result == RESULTS.successful else "nonfinite_loss",
        "message": solution.message,
        "history": {k: v.tolist() for k, v in solution.history.items() if k != "loss"},
        "final_loss": float(solution.history["loss"][-1]) if solution.steps else None,
        "width": args.width,
        "depth": args.depth,
        "block_size": block_size,
        "eval_every": args.eval_every,
        "test_size": args.test_size,
    }
    write_atomic(out / "result.json", json.dumps(result, indent=2).encode())
    _plot_history(
        solution.history,
        f"{problem.name}, d = {problem.dim}, {args.estimator}",
        out / "history.png",
    )
    checkpoint = out / "network.eqx"
    tmp = out / ".network.eqx.tmp"
    eqx.tree_serialise_leaves(tmp, solution.network)
    os.replace(tmp, checkpoint)
    return {**result, "out": str(out)}


def _cmd_solve(args: argparse.Namespace) -> int:
    result = run_solve(args)
    print(
        f"{result['problem']} d={result['dim']} estimator={result['estimator']}: "
        f"rel_l2={result['rel_l2']:.3e} rel_l1={result['rel_l1']:.3e} "
        f"steps={result['steps']} wall={result['wall_s']:.1f}s "
        f"({result['steps_per_s']:.1f} steps/s) -> {Path(result['out']) / 'result.json'}"
    )
    if result["message"]:
        print(result["message"], file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pinnkit` console script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "problems":
            return _cmd_problems()
        if args.command == "bench":
            from ._bench import run_bench

            return run_bench(args)
        return _cmd_solve(args)
    except ValueError as error:
        parser.exit(2, f"pinnkit: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
