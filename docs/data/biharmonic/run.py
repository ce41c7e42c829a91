"""Biharmonic annulus runs with the dense Gaussian STDE, read against the best constant network.

At large d the three-body solution is nearly phi * const on the annulus, so a small rel L2 is
no evidence of learning by itself. Every run prints (and appends to --out as one JSON line) the
model's rel L2, the rel L2 of the least-squares constant network phi * c* on the same test
points, and their ratio (the model's error in units of the constant's; < 0.1 = ten times
better than the constant).

    python docs/data/biharmonic/run.py --dim 100 --steps 3000
    python docs/data/biharmonic/run.py --quick     # a few seconds: d = 10, 200 steps
"""

import argparse
import json
import time

import jax

import pinnkit as pk
from pinnkit.problems import biharmonic_loss, constant_baseline, get_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--schedule", default="linear", choices=list(pk.SCHEDULES))
    parser.add_argument("--optimizer", default="adam", choices=list(pk.OPTIMIZERS))
    parser.add_argument("--batch", type=int, default=100, help="interior points per step")
    parser.add_argument("--boundary-batch", type=int, default=None, help="default: --batch")
    parser.add_argument("--boundary-weight", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=16, help="Gaussian directions")
    parser.add_argument("--sharing", default="batch", choices=["batch", "point"])
    parser.add_argument("--unbiased", action="store_true", help="product of two estimates")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-size", type=int, default=5000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--out", default=None, help="append the result as a JSON line")
    parser.add_argument("--quick", action="store_true", help="d = 10, 200 steps, small net")
    args = parser.parse_args()
    if args.quick:
        args.dim, args.steps, args.width, args.test_size, args.eval_every = 10, 200, 32, 1000, 100

    key = jax.random.key(args.seed)
    problem_key, net_key, train_key, test_key = jax.random.split(key, 4)
    problem = get_problem("biharmonic-three-body-annulus", args.dim, problem_key)
    loss = biharmonic_loss(
        problem,
        pk.STDE(num_samples=args.samples, sparse=False),
        batch_size=args.batch,
        boundary_batch_size=args.boundary_batch,
        boundary_weight=args.boundary_weight,
        sharing=args.sharing,
        unbiased=args.unbiased,
    )
    optimizer = pk.make_optimizer(args.optimizer, args.lr, args.steps, args.schedule)
    solver = pk.PINNSolver(loss, optimizer, log_every=100, eval_every=args.eval_every)
    test_set = problem.test_set(test_key, size=args.test_size)
    baseline = float(constant_baseline(test_set)["constant_rel_l2"])
    print(f"d={args.dim}: constant-network rel L2 {baseline:.3e}", flush=True)

    def report(step: int, logs: dict[str, float]) -> None:
        if "rel_l2" in logs:
            ratio = logs["rel_l2"] / baseline
            print(
                f"  step {step:6d}  rel L2 {logs['rel_l2']:.3e}  / constant {ratio:.3f}", flush=True
            )

    network = problem.network(net_key, width=args.width, depth=args.depth)
    start = time.perf_counter()
    solution = solver.solve(
        network, args.steps, train_key, test_set=test_set, progress=False, callback=report
    )
    wall = time.perf_counter() - start
    final = {k: float(v) for k, v in constant_baseline(test_set, solution.network).items()}
    result = {
        **{k: v for k, v in vars(args).items() if k not in ("out", "quick")},
        **final,
        "wall_s": round(wall, 1),
        "result": str(solution.result),
    }
    print(
        f"d={args.dim} steps={args.steps}: rel L2 {final['rel_l2']:.3e}, constant "
        f"{final['constant_rel_l2']:.3e}, ratio {final['rel_l2_over_constant']:.3f} ({wall:.0f} s)"
    )
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
