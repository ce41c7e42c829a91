"""Does R3 help? R3 against uniform sampling at equal steps on a Poisson problem with a
sharp feature.

Problems (closed-form solutions, Dirichlet data imposed exactly by `HardDirichlet`, so the
loss is the PDE residual alone):

- `front1d`: -u'' = f on [-1, 1], u*(x) = tanh(x / eps);
- `bump2d`:  -Δu = f on [-1, 1]^2, u*(x) = exp(-|x - c|^2 / (2 eps^2)), c = (0.3, -0.2).

Samplers, all with the same number of points per step, the same network, steps, optimizer
and seed:

- `fixed`: one uniform point set drawn before training and used at every step (the "PINN"
  baseline of Daw et al. 2023);
- `fresh`: a new uniform batch at every step;
- `r3`: `pk.R3Sampler(uniform)`, the population is the batch;
- `rar`: `pk.RARSampler(uniform)`.

Prints a Markdown table (rel. L2 error on 20,000 uniform test points: mean, min and max over
seeds) and one JSON line with every number. `--quick` is a tiny smoke run.

    python docs/data/adaptive/r3_vs_uniform.py --problem front1d
    python docs/data/adaptive/r3_vs_uniform.py --quick
"""

import argparse
import json
import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import pinnkit as pk


class FixedPoints(pk.AbstractSampler):
    """The same points at every step (the key is ignored)."""

    points: jax.Array
    dim: int = eqx.field(static=True)

    def __init__(self, points):
        self.points = points
        self.dim = points.shape[1]

    def __call__(self, key, batch):
        del key
        if batch != self.points.shape[0]:
            raise ValueError(f"FixedPoints holds {self.points.shape[0]} points, asked for {batch}")
        return self.points


def make_problem(name, eps):
    """(dim, exact solution, distance, boundary value)."""
    if name == "front1d":

        def exact(x):
            return jnp.tanh(x[0] / eps)

        def linear(x):  # linear interpolation of u*(-1), u*(1)
            return x[0] * jnp.tanh(1.0 / eps)

        return 1, exact, linear
    if name == "bump2d":
        centre = jnp.array([0.3, -0.2])

        def exact(x):
            return jnp.exp(-jnp.sum((x - centre) ** 2) / (2 * eps**2))

        def zero(x):  # u* < 1e-20 on the boundary for eps <= 0.1
            return jnp.zeros((), x.dtype)

        return 2, exact, zero
    raise ValueError(f"unknown problem {name!r}; choose 'front1d' or 'bump2d'")


class Poisson(pk.AbstractPDE):
    """-Δu = f with f = -Δu* of a closed-form u*."""

    exact: Callable
    operators: tuple

    def __init__(self, exact: Callable):
        self.exact = exact
        self.operators = (pk.Laplacian(),)

    def source(self, x):
        return -jnp.trace(jax.hessian(self.exact)(x))

    def residual(self, x, u, derivatives, source):
        return -derivatives[0] - source


def distance(x):
    return jnp.prod(1.0 - x**2)


def run(args, sampler_name, seed):
    dim, exact, boundary = make_problem(args.problem, args.eps)
    box = pk.Box(-1.0, 1.0, dim=dim)
    uniform = pk.UniformSampler(box)
    net_key, train_key, fixed_key = jax.random.split(jax.random.key(seed), 3)
    if sampler_name == "fixed":
        sampler = FixedPoints(uniform(fixed_key, args.batch))
    elif sampler_name == "fresh":
        sampler = uniform
    elif sampler_name == "r3":
        sampler = pk.R3Sampler(uniform)
    elif sampler_name == "rar":
        sampler = pk.RARSampler(
            uniform, pool_size=8 * args.batch, num_added=max(1, args.batch // 16)
        )
    else:
        raise ValueError(f"unknown sampler {sampler_name!r}; choose fixed, fresh, r3 or rar")
    network = pk.HardDirichlet(
        pk.MLP(dim, args.width, args.depth, key=net_key), distance=distance, boundary_value=boundary
    )
    loss = pk.ResidualLoss(Poisson(exact), sampler, pk.Exact(), batch_size=args.batch)
    test = pk.TestSet(uniform, exact, jax.random.key(12345), size=20_000)
    solver = pk.PINNSolver(loss, learning_rate=args.lr, log_every=args.steps)
    start = time.perf_counter()
    solution = solver.solve(network, args.steps, train_key, test_set=test, progress=False)
    wall = time.perf_counter() - start
    # Where the training points of the last step lie: the share within 2 eps of the feature.
    if isinstance(sampler, pk.AbstractAdaptiveSampler):
        points = np.asarray(sampler.points(solution.loss_state))
    else:
        points = np.asarray(sampler(jax.random.key(0), args.batch))
    centre = np.zeros(1) if dim == 1 else np.array([0.3, -0.2])
    near = float(np.mean(np.linalg.norm(points - centre, axis=1) < 2 * args.eps))
    return float(solution.metrics["rel_l2"]), near, wall


def main():
    parser = argparse.ArgumentParser(description="R3 against uniform sampling at equal steps")
    parser.add_argument("--problem", default="front1d", choices=["front1d", "bump2d"])
    parser.add_argument("--eps", type=float, default=0.02, help="feature width")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=64, help="points per step")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam, linear decay to 0")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--samplers", nargs="+", default=["fixed", "fresh", "r3", "rar"],
        choices=["fixed", "fresh", "r3", "rar"],
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.seeds, args.width = 100, [0], 8

    results = {}
    for name in args.samplers:
        results[name] = [run(args, name, seed) for seed in args.seeds]
        for seed, (err, near, wall) in zip(args.seeds, results[name], strict=True):
            print(f"<!-- {name} seed={seed} rel_l2={err:.3e} near={near:.2f} wall={wall:.1f}s -->")

    area = "2 eps" if args.problem == "front1d" else "a disc of radius 2 eps"
    print(
        f"\n{args.problem}, eps = {args.eps}, {args.steps} Adam steps "
        f"(lr {args.lr}, linear decay), "
        f"{args.batch} points per step, MLP {args.width}x{args.depth}, seeds {args.seeds}\n"
    )
    print(f"| sampler | rel. L2 mean | min | max | last batch within {area} of the feature |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        errors = np.array([r[0] for r in rows])
        near = np.mean([r[1] for r in rows])
        print(
            f"| {name} | {errors.mean():.2e} | {errors.min():.2e} | {errors.max():.2e} "
            f"| {near:.0%} |"
        )
    print(json.dumps({"args": vars(args), "results": results}))


if __name__ == "__main__":
    main()
