"""Can the MLP learn the non-constant part of the three-body solution at all? No PDE involved.

The annulus solution is u* = phi * s with s(x) = sum_i c_i exp(x_i x_{i+1} x_{i+2}); at large d,
s is nearly the constant sum_i c_i plus the small cubic sum_i c_i x_i x_{i+1} x_{i+2}. This
script fits a plain MLP to the variation of s alone, by supervised regression on exact values
(fresh annulus points every step, the target centred and scaled to unit variance), and prints
the fraction of its variance left unexplained on 5,000 test points (FVU: 1 = nothing learned,
0 = learned exactly). If the network cannot learn it from exact data, no estimator of the
bilaplacian will teach it.

    python docs/data/biharmonic/learnability.py --dim 100 --steps 3000
    python docs/data/biharmonic/learnability.py --quick     # d = 10, 300 steps
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

import pinnkit as pk
from pinnkit.problems import get_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=100, help="fresh points per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam, decayed linearly to 0")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="d = 10, 300 steps")
    args = parser.parse_args()
    if args.quick:
        args.dim, args.steps = 10, 300

    problem_key, net_key, test_key, train_key = jax.random.split(jax.random.key(args.seed), 4)
    # The same coefficients and points as `pinnkit solve biharmonic-three-body-annulus`.
    problem = get_problem("biharmonic-three-body-annulus", args.dim, problem_key)
    c = problem.pde.coefficients  # pyright: ignore[reportAttributeAccessIssue]

    def s(x):
        return jnp.sum(c * jnp.exp(x[:-2] * x[1:-1] * x[2:]))

    test_points = problem.sampler(test_key, 5000)
    test_values = jax.vmap(s)(test_points)
    mean, std = test_values.mean(), test_values.std()
    test_targets = (test_values - mean) / std
    print(
        f"d={args.dim}: s has mean {float(mean):.4g} and standard deviation {float(std):.3g} "
        f"({float(std / abs(mean)):.2%} of the mean)",
        flush=True,
    )

    network = pk.MLP(args.dim, width=args.width, depth=args.depth, key=net_key)
    optimizer = optax.adam(optax.linear_schedule(args.lr, 0.0, args.steps))
    state = optimizer.init(eqx.filter(network, eqx.is_array))

    @eqx.filter_jit
    def step(network, state, key):
        points = problem.sampler(key, args.batch)
        targets = (jax.vmap(s)(points) - mean) / std

        def loss(network):
            return jnp.mean((jax.vmap(network)(points) - targets) ** 2)

        grads = eqx.filter_grad(loss)(network)
        updates, state = optimizer.update(grads, state, eqx.filter(network, eqx.is_array))
        return eqx.apply_updates(network, updates), state

    @eqx.filter_jit
    def unexplained(network):
        return jnp.mean((jax.vmap(network)(test_points) - test_targets) ** 2)

    start = time.perf_counter()
    every = max(1, args.steps // 5)
    for index, key in enumerate(jax.random.split(train_key, args.steps), 1):
        network, state = step(network, state, key)
        if index % every == 0 or index == args.steps:
            print(f"  step {index:6d}  test FVU {float(unexplained(network)):.4f}", flush=True)
    print(
        f"d={args.dim} steps={args.steps} batch={args.batch} width={args.width}: "
        f"FVU {float(unexplained(network)):.4f} ({time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
