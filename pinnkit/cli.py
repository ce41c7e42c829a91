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
    solve.add_argument(
        "--method",
        default="pinn",
        help="solution method: pinn; for parabolic problems also mol, galerkin (default: pinn)",
    )
    solve.add_argument(
        "--terminal",
        choices=("soft", "hard"),
        default=None,
        help="parabolic --method pinn: terminal data by a loss term (soft, default) or exactly "
        "by the network g + (t - T) net (hard)",
    )
    solve.add_argument(
        "--average",
        type=float,
        default=None,
        help="parabolic --method pinn: average the parameters over this final fraction of the "
        "steps (default 0: the last iterate)",
    )
    solve.add_argument(
        "--unbiased",
        action="store_true",
        default=None,
        help="parabolic --method pinn: residual loss as the product of two independent "
        "stochastic estimates (unbiased, twice the cost; default: their square)",
    )
    solve.add_argument(
        "--sharing",
        choices=("batch", "point"),
        default=None,
        help="parabolic --method pinn: one draw of estimator directions per step shared by all "
        "points (batch, default) or one per point",
    )
    solve.add_argument(
        "--readout-samples",
        type=int,
        default=None,
        help="parabolic --method pinn: Monte Carlo samples of the Feynman-Kac read-out of "
        "u(0,0) from the trained network (default 1048576; 0: none)",
    )
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
        "--prng",
        default=None,
        choices=("threefry", "xla-threefry"),
        help="random numbers for the collocation and test points and the estimator's draws: "
        "threefry (jax.random's default) or xla-threefry (XLA's bit generator, faster on a "
        "CPU at large dimension; other numbers, same problem and network; default: threefry)",
    )
    solve.add_argument(
        "--fit-offset",
        action="store_true",
        default=None,
        help="before training, shift the network's output bias to the constant that minimises "
        "the loss (pinnkit.fit_output_offset; default: off)",
    )
    solve.add_argument(
        "--devices",
        type=int,
        default=None,
        help="split each batch across the first N devices (data parallel; default: one device)",
    )
    from ._solver.optimizers import OPTIMIZERS, SCHEDULES

    solve.add_argument(
        "--optimizer", default="adam", help=f"optimizer: {', '.join(OPTIMIZERS)} (default: adam)"
    )
    solve.add_argument(
        "--schedule",
        default="linear",
        help=f"learning-rate schedule: {', '.join(SCHEDULES)} (default: linear, to 0)",
    )
    solve.add_argument(
        "--lbfgs-steps",
        type=int,
        default=0,
        help="L-BFGS iterations on fixed points after the optimizer (default 0: none)",
    )
    solve.add_argument(
        "--lbfgs-batch", type=int, default=None, help="fixed points for L-BFGS (default: --batch)"
    )
    solve.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="steps between checkpoints in OUT/checkpoint (default: --eval-every)",
    )
    solve.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint in the output folder (same settings)",
    )

    from ._bench import add_bench_parser

    add_bench_parser(sub)
    return parser


def _cmd_problems() -> int:
    from .problems import PARABOLIC_PROBLEMS, PROBLEMS

    width = max(len(name) for name in (*PROBLEMS, *PARABOLIC_PROBLEMS))
    for name, spec in PROBLEMS.items():
        print(f"{name:<{width}}  dim >= {spec.min_dim:<3} {spec.description}")
    print("parabolic (--method pinn|mol|galerkin):")
    for name, spec in PARABOLIC_PROBLEMS.items():
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
    from ._parabolic_cli import PINN_ONLY, run_parabolic
    from ._sampler.prng import with_prng
    from ._solver.optimizers import make_optimizer
    from ._solver.pinn import RESULTS, PINNSolver
    from ._solver.solution import result_name
    from .problems import PARABOLIC_PROBLEMS, PROBLEMS, get_problem

    if args.problem in PARABOLIC_PROBLEMS:
        return run_parabolic(args)
    if args.method != "pinn":
        raise ValueError(
            f"method {args.method!r} is not available for {args.problem!r}; valid methods: pinn "
            f"(mol and galerkin solve the parabolic problems: {', '.join(PARABOLIC_PROBLEMS)})"
        )
    if args.problem not in PROBLEMS:
        names = ", ".join((*PROBLEMS, *PARABOLIC_PROBLEMS))
        raise ValueError(f"unknown problem {args.problem!r}; valid names: {names}")
    for name in PINN_ONLY:
        if getattr(args, name, None) is not None:
            raise ValueError(
                f"--{name.replace('_', '-')} applies to the parabolic problems "
                f"({', '.join(PARABOLIC_PROBLEMS)}) only, not to {args.problem!r}"
            )
    for name in ("steps", "batch", "test_size", "eval_every", "width"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    estimator = make_estimator(args.estimator, args.samples)
    optimizer = make_optimizer(
        getattr(args, "optimizer", "adam"), args.lr, args.steps, getattr(args, "schedule", "linear")
    )
    lbfgs_steps = getattr(args, "lbfgs_steps", 0)
    lbfgs_batch = getattr(args, "lbfgs_batch", None) or args.batch
    checkpoint_every = getattr(args, "checkpoint_every", None)
    if lbfgs_steps < 0 or lbfgs_batch < 1 or (checkpoint_every or 1) < 1:
        raise ValueError(
            "--lbfgs-steps must be >= 0, --lbfgs-batch and --checkpoint-every >= 1; got "
            f"{lbfgs_steps}, {lbfgs_batch}, {checkpoint_every}"
        )
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
    # Unset (None) is threefry; None in the checkpoint's fingerprint too, so that runs
    # checkpointed before the option existed can be resumed.
    prng = getattr(args, "prng", None) or "threefry"
    # The PRNG changes the draws only: the problem's coefficients and the network's initial
    # parameters come from the same keys whichever it is.
    train_key, test_key = with_prng(train_key, prng), with_prng(test_key, prng)
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
    loss = problem.loss(estimator, batch_size=args.batch)
    output_offset = None
    if getattr(args, "fit_offset", None):
        from ._solver.offset import fit_output_offset, output_bias

        # From its own key, so that the problem, the initial network and the draws are
        # those of the run without the fit.
        fitted = fit_output_offset(network, loss, jax.random.fold_in(network_key, 1))
        bias = output_bias(network)
        output_offset = float(jax.numpy.ravel(bias(fitted) - bias(network))[0])
        network = fitted
    solver = PINNSolver(
        loss,
        optimizer=optimizer,
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
        checkpoint_dir=out / "checkpoint",
        checkpoint_every=checkpoint_every,
        resume=getattr(args, "resume", False),
        config=_fingerprint_config(args),
    )
    adam = solution
    lbfgs = None
    if lbfgs_steps and solution.result == RESULTS.successful:
        refiner = PINNSolver(problem.loss(estimator, batch_size=lbfgs_batch), mesh=mesh)
        solution = refiner.refine(
            solution.network,
            lbfgs_steps,
            jax.random.fold_in(train_key, args.steps),
            loss_state=solution.loss_state,
            test_set=test_set,
            progress=not args.no_progress,
            callback=log,
        )
        lbfgs = {
            "steps": solution.steps,
            "batch": lbfgs_batch,
            "result": result_name(solution.result),
            "message": solution.message,
            "initial_loss": float(solution.history["loss"][0]) if solution.steps else None,
            "final_loss": float(solution.history["loss"].min()) if solution.steps else None,
            "rel_l2_before": adam.metrics.get("rel_l2"),
            "rel_l1_before": adam.metrics.get("rel_l1"),
            "wall_s": solution.wall_s,
        }

    result = {
        "problem": problem.name,
        "dim": problem.dim,
        "estimator": args.estimator,
        "samples": args.samples,
        "steps": adam.steps,
        "batch": args.batch,
        "seed": args.seed,
        "lr": args.lr,
        "devices": args.devices or 1,
        "rel_l2": solution.metrics.get("rel_l2"),
        "rel_l1": solution.metrics.get("rel_l1"),
        "wall_s": adam.wall_s,
        "steps_per_s": adam.steps / adam.wall_s if adam.wall_s > 0 else None,
        "peak_rss_mb": _peak_rss_mb(),
        "result": result_name(adam.result),
        "message": adam.message,
        "history": {k: v.tolist() for k, v in adam.history.items() if k != "loss"},
        "final_loss": float(adam.history["loss"][-1]) if adam.steps else None,
        "optimizer": getattr(args, "optimizer", "adam"),
        "schedule": getattr(args, "schedule", "linear"),
        "lbfgs": lbfgs,
        "width": args.width,
        "depth": args.depth,
        "block_size": block_size,
        "prng": prng,
        "fit_offset": bool(getattr(args, "fit_offset", None)),
        "output_offset": output_offset,
        "eval_every": args.eval_every,
        "test_size": args.test_size,
    }
    write_atomic(out / "result.json", json.dumps(result, indent=2).encode())
    _plot_history(
        adam.history,
        f"{problem.name}, d = {problem.dim}, {args.estimator}",
        out / "history.png",
    )
    checkpoint = out / "network.eqx"
    tmp = out / ".network.eqx.tmp"
    eqx.tree_serialise_leaves(tmp, solution.network)
    os.replace(tmp, checkpoint)
    return {**result, "out": str(out)}


_NOT_FINGERPRINTED = frozenset(
    {"command", "out", "no_progress", "resume", "checkpoint_every", "lbfgs_steps", "lbfgs_batch"}
)


def _fingerprint_config(args: argparse.Namespace) -> dict[str, Any]:
    """The settings a checkpoint of `pinnkit solve` must agree with to be resumed."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_FINGERPRINTED}


def _cmd_solve(args: argparse.Namespace) -> int:
    result = run_solve(args)
    if "rel_error" in result:  # a parabolic problem: a point value against a reference
        from ._parabolic_cli import summary_line

        print(summary_line(result))
        if result["message"]:
            print(result["message"], file=sys.stderr)
            return 1
        return 0
    print(
        f"{result['problem']} d={result['dim']} estimator={result['estimator']}: "
        f"rel_l2={result['rel_l2']:.3e} rel_l1={result['rel_l1']:.3e} "
        f"steps={result['steps']} wall={result['wall_s']:.1f}s "
        f"({result['steps_per_s']:.1f} steps/s) -> {Path(result['out']) / 'result.json'}"
    )
    if result["lbfgs"] is not None and result["lbfgs"]["message"]:
        print(result["lbfgs"]["message"], file=sys.stderr)
    if result["result"] == "interrupted":
        print(
            f"pinnkit: {result['message']}\nTo continue, run the same command with --resume.",
            file=sys.stderr,
        )
        return 130
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
    except KeyboardInterrupt:
        # A second Ctrl-C, or one outside the training loop: the last checkpoint is kept.
        print(
            "\npinnkit: interrupted; run the same command with --resume to continue from the "
            "last checkpoint",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
